"""/api/v1/requests on each backend: a request's life through the API, each decision in the ledger,
recorded as the token's, nothing personal in what the API answers or in the entries."""
from __future__ import annotations

from sqlalchemy import select

from dashboard.context import context
from ledger.models import LedgerEntry
from state.api_tokens import READ, RUN, WRITE
from state.request_runs import RequestRun

EMAIL = "ada.lovelace@example.org"


def _create(client, headers, **body):
    return client.post("/api/v1/requests", json={"type": "erasure", "email": EMAIL, **body}, headers=headers)


def test_a_request_is_received_verified_and_queued_to_run(api_app, bearer):
    """Create (201, awaiting verification), verify (200, verified), run (202, queued for the job)."""
    client, headers = api_app.test_client(), bearer()
    created = _create(client, headers)
    assert created.status_code == 201, created.get_json()
    request = created.get_json()
    assert (request["state"], request["channel"], request["verification"]) == ("awaiting-verification", "api", "none")
    assert "only a verified request runs" in request["not_startable_because"]
    request_id = request["request_id"]
    verified = client.post(f"/api/v1/requests/{request_id}/verification", headers=headers,
                           json={"method": "officer", "data_points": ["email"]})
    assert verified.status_code == 200 and verified.get_json()["state"] == "verified"
    assert verified.get_json()["not_startable_because"] is None
    queued = client.post(f"/api/v1/requests/{request_id}/run", headers=headers, json={})
    assert queued.status_code == 202 and queued.get_json()["run_state"] == "queued"
    with _ledger(api_app).transaction() as tx:
        run = tx.session.scalars(select(RequestRun).where(RequestRun.request_id == request_id)).one()
    assert run.queued_by.startswith("api:") and run.state == "queued"


def test_an_unverified_request_is_never_queued(api_app, bearer):
    """409 with the ledger's reason, and no run row: the job has nothing to run."""
    client, headers = api_app.test_client(), bearer()
    request_id = _create(client, headers).get_json()["request_id"]
    refused = client.post(f"/api/v1/requests/{request_id}/run", headers=headers, json={})
    assert refused.status_code == 409 and refused.mimetype == "application/problem+json"
    assert "only a verified request runs" in refused.get_json()["detail"]
    with _ledger(api_app).transaction() as tx:
        assert tx.session.scalars(select(RequestRun)).all() == []


def test_a_ccpa_erasure_verified_by_one_point_is_not_queued(api_app, bearer):
    """The degree counts, not only the state: CCPA's erasure needs two data points."""
    client, headers = api_app.test_client(), bearer()
    request_id = _create(client, headers, regime="ccpa").get_json()["request_id"]
    client.post(f"/api/v1/requests/{request_id}/verification", headers=headers,
                json={"method": "email-code", "data_points": ["email"]})
    refused = client.post(f"/api/v1/requests/{request_id}/run", headers=headers, json={})
    assert refused.status_code == 409 and "needs 'reasonable'" in refused.get_json()["detail"]


def test_list_and_show_answer_ids_states_and_dates_only(api_app, bearer):
    client, headers = api_app.test_client(), bearer()
    first = _create(client, headers).get_json()["request_id"]
    _create(client, headers, type="opt-out", email="someone@example.org")
    listed = client.get("/api/v1/requests", headers=headers).get_json()["requests"]
    assert {request["request_id"] for request in listed} >= {first} and len(listed) == 2
    assert [r["type"] for r in client.get("/api/v1/requests?state=verified", headers=headers).get_json()["requests"]] == ["opt-out"]
    shown = client.get(f"/api/v1/requests/{first}", headers=headers)
    assert shown.status_code == 200 and shown.get_json()["request_id"] == first
    for response in (shown, client.get("/api/v1/requests", headers=headers)):
        assert EMAIL not in response.get_data(as_text=True) and "someone@" not in response.get_data(as_text=True)


def test_extension_and_refusal_go_through_the_ledger_as_the_tokens(api_app, bearer):
    client, headers = api_app.test_client(), bearer(READ, WRITE)
    request_id = _create(client, headers).get_json()["request_id"]
    extended = client.post(f"/api/v1/requests/{request_id}/extension", headers=headers,
                           json={"reason": "complexity", "note": "Ada's three businesses"})
    assert extended.status_code == 200 and extended.get_json()["extended_at"] is not None
    again = client.post(f"/api/v1/requests/{request_id}/extension", headers=headers, json={"reason": "complexity"})
    assert again.status_code == 409 and "extended already" in again.get_json()["detail"]
    refused = client.post(f"/api/v1/requests/{request_id}/refusal", headers=headers, json={"reason": "excessive"})
    assert refused.status_code == 200 and refused.get_json()["state"] == "refused"
    text = _entries_text(api_app)
    assert text.count('"request-extended"') == 1 and text.count('"request-refused"') == 1 and '"api:' in text
    assert "Ada" not in text and EMAIL not in text


def test_unknown_requests_are_404_and_bad_bodies_422_without_echoing_them(api_app, bearer):
    client, headers = api_app.test_client(), bearer()
    missing = client.post("/api/v1/requests/req_0000000000000000/verification", headers=headers,
                          json={"method": "officer", "data_points": ["email"]})
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    bad = client.post("/api/v1/requests", headers=headers, json={"type": "erasure", "email": "ada lovelace at example"})
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["location"] == ["email"]
    assert "lovelace" not in bad.get_data(as_text=True)
    neither = client.post("/api/v1/requests", headers=headers, json={"type": "erasure"})
    assert neither.status_code == 422
    not_json = client.post("/api/v1/requests", headers=headers, data="{nope", content_type="application/json")
    assert not_json.status_code == 422


def test_a_draft_is_confirmed_by_the_api(api_app, bearer):
    from dashboard_helpers import NOW
    from ledger import requests

    with _ledger(api_app).transaction() as tx:
        draft = requests.receive(tx, requests.Intake("access", "email", email=EMAIL, draft=True, received_at=NOW),
                                 requests.RequestRules.from_settings(_settings(api_app)))
    client, headers = api_app.test_client(), bearer(WRITE)
    confirmed = client.post(f"/api/v1/requests/{draft.request_id}/confirmation", headers=headers, json={"type": "erasure"})
    assert confirmed.status_code == 200, confirmed.get_json()
    assert (confirmed.get_json()["state"], confirmed.get_json()["type"]) == ("awaiting-verification", "erasure")
    assert client.post(f"/api/v1/requests/{draft.request_id}/run", headers=bearer(RUN), json={}).status_code == 409


def _ledger(app):
    with app.app_context():
        return context().ledger


def _settings(app):
    with app.app_context():
        return context().settings


def _entries_text(app) -> str:
    with _ledger(app).transaction() as tx:
        return b" ".join(tx.session.scalars(select(LedgerEntry.body))).decode(errors="replace")


def test_a_duplicate_is_never_queued_even_when_its_first_is_verified(api_app, bearer):
    """The second request of the same type from the same person inside the window is linked, and stays unrunnable."""
    client, headers = api_app.test_client(), bearer()
    first = _create(client, headers).get_json()["request_id"]
    second = _create(client, headers).get_json()
    assert (second["state"], second["duplicate_of"]) == ("duplicate", first)
    client.post(f"/api/v1/requests/{first}/verification", headers=headers, json={"method": "officer", "data_points": ["email"]})
    verify_duplicate = client.post(f"/api/v1/requests/{second['request_id']}/verification", headers=headers,
                                   json={"method": "officer", "data_points": ["email"]})
    assert verify_duplicate.status_code == 409
    refused = client.post(f"/api/v1/requests/{second['request_id']}/run", headers=headers, json={})
    assert refused.status_code == 409 and "is duplicate" in refused.get_json()["detail"]
