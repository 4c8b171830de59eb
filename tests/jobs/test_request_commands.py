"""`bookings-ledger request ...` and `token ...` through the real command, on each backend, with the
emulator behind `request run`: exit 0 done, 1 the request's state refuses (an unverified request
never runs), 2 bad usage; nothing personal printed about a request."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from ledger.models import LedgerEntry
from state.api_tokens import ApiToken
from state.request_runs import RequestRun

EMAIL = "ada.lovelace@example.org"


def _json(cli, *args: str) -> dict:
    code, output = cli(*args, "--json")
    assert code == 0, output
    return json.loads(output)


def _entry_kinds(service) -> str:
    with service.ledger.transaction() as tx:
        return b" ".join(tx.session.scalars(select(LedgerEntry.body))).decode(errors="replace")


def test_create_show_and_list_print_ids_and_states_never_the_address(cli):
    created = _json(cli, "request", "create", "--type", "erasure", "--email", EMAIL, "--channel", "telephone")
    assert (created["state"], created["channel"]) == ("awaiting-verification", "telephone")
    code, shown = cli("request", "show", created["request_id"])
    assert code == 0 and f"request_id: {created['request_id']}" in shown
    listed = _json(cli, "request", "list", "--state", "awaiting-verification")["requests"]
    assert [request["request_id"] for request in listed] == [created["request_id"]]
    everything = shown + json.dumps(listed) + cli("request", "list")[1]
    assert EMAIL not in everything and "lovelace" not in everything


def test_an_unverified_request_cannot_be_run_from_the_command(cli, service):
    """Exit 1 with the gate's reason; no run queued, nothing started in the ledger."""
    request_id = _json(cli, "request", "create", "--type", "erasure", "--email", EMAIL)["request_id"]
    code, output = cli("request", "run", request_id)
    assert code == 1 and "only a verified request runs" in output
    assert '"request-started"' not in _entry_kinds(service)
    with service.ledger.transaction() as tx:
        assert tx.session.scalars(select(RequestRun)).all() == []


def test_a_ccpa_erasure_verified_by_one_point_cannot_be_run(cli):
    request_id = _json(cli, "request", "create", "--type", "erasure", "--email", EMAIL, "--regime", "ccpa")["request_id"]
    assert _json(cli, "request", "verify", request_id, "--method", "email-code", "--matched", "email")["verification"] == "email"
    code, output = cli("request", "run", request_id)
    assert code == 1 and "needs 'reasonable'" in output


def test_an_opt_out_runs_to_its_certificate(cli):
    """An opt-out needs no verification: `run` carries it out now, through the runner, and closes it."""
    request_id = _json(cli, "request", "create", "--type", "opt-out", "--email", EMAIL)["request_id"]
    report = _json(cli, "request", "run", request_id)
    assert report["request_id"] == request_id and report["state"] == "done", report
    shown = _json(cli, "request", "show", request_id)
    assert shown["state"] == "completed" and shown["certificate_id"]


def test_verify_extend_and_reject_are_recorded_as_the_officer(cli, service):
    request_id = _json(cli, "request", "create", "--type", "access", "--email", EMAIL)["request_id"]
    verified = _json(cli, "request", "verify", request_id, "--method", "officer", "--matched", "email",
                     "--matched", "phone", "--by", "Jane Officer")
    assert (verified["state"], verified["verification"]) == ("verified", "reasonable")
    assert _json(cli, "request", "extend", request_id, "--reason", "complexity", "--note", "Ada's 3 shops")["extended_at"]
    code, output = cli("request", "extend", request_id, "--reason", "complexity")
    assert code == 1 and "extended already" in output
    assert _json(cli, "request", "reject", request_id, "--reason", "excessive")["state"] == "refused"
    code, output = cli("request", "verify", request_id, "--method", "officer", "--matched", "email")
    assert code == 1 and "is refused" in output
    entries = _entry_kinds(service)
    assert '"Jane Officer"' in entries and "Ada" not in entries and EMAIL not in entries


def test_a_draft_is_confirmed_or_discarded(cli, service):
    from ledger import requests
    from ledger.requests import Intake, RequestRules
    from config import load_settings

    rules = RequestRules.from_settings(load_settings(service.settings))
    with service.ledger.transaction() as tx:
        drafts = [requests.receive(tx, Intake("access", "email", email=f"{n}@example.org", draft=True), rules).request_id
                  for n in ("one", "two")]
    confirmed = _json(cli, "request", "confirm", drafts[0], "--type", "portability")
    assert (confirmed["state"], confirmed["type"]) == ("awaiting-verification", "portability")
    assert _json(cli, "request", "discard", drafts[1])["state"] == "discarded"
    code, output = cli("request", "discard", drafts[0])
    assert code == 1 and "needs it draft" in output


@pytest.mark.parametrize(("args", "message"), [
    (["create", "--type", "erasure"], "give --email or --phone"),
    (["create", "--type", "erasure", "--email", "not an address"], "not an email address"),
    (["create", "--type", "rectification", "--email", EMAIL, "--correction", "Name With Spaces=x"], "FIELD=VALUE"),
    (["create", "--type", "burn-it-all", "--email", EMAIL], "burn-it-all"),
    (["show", "req_0000000000000000"], "no request req_0000000000000000"),
    (["run", "req_0000000000000000"], "no request req_0000000000000000"),
    (["verify", "req_0000000000000000", "--method", "officer", "--matched", "email"], "no request"),
])
def test_bad_usage_is_exit_2_and_records_nothing(cli, service, args, message):
    code, output = cli("request", *args)
    assert code == 2 and message in output and "Traceback" not in output
    assert '"request-received"' not in _entry_kinds(service)


def test_a_token_is_printed_once_listed_without_its_secret_and_revoked(cli, service):
    created = _json(cli, "token", "create", "--name", "crm sync", "--scope", "requests:read", "--scope", "requests:write",
                    "--days", "30")
    token, token_id = created["token"], created["id"]
    assert token.startswith(f"bl_{token_id}_") and created["scopes"] == ["requests:read", "requests:write"]
    listed = cli("token", "list", "--json")[1] + cli("token", "list")[1]
    assert token_id in listed and token.split("_", 2)[2] not in listed
    with service.ledger.transaction() as tx:
        row = tx.session.scalars(select(ApiToken)).one()
    assert token.split("_", 2)[2] not in " ".join(str(value) for value in (row.secret_hash, row.name, row.scopes))
    assert _json(cli, "token", "revoke", token_id)["state"] == "revoked"
    assert cli("token", "revoke", "0" * 16)[0] == 1
    assert cli("token", "create", "--name", "x", "--scope", "requests:everything")[0] == 2
    assert cli("token", "create", "--name", " ", "--scope", "requests:read")[0] == 2


def test_a_duplicate_cannot_be_run_from_the_command(cli, service):
    first = _json(cli, "request", "create", "--type", "erasure", "--email", EMAIL)["request_id"]
    duplicate = _json(cli, "request", "create", "--type", "erasure", "--email", EMAIL.upper())
    assert (duplicate["state"], duplicate["duplicate_of"]) == ("duplicate", first)
    _json(cli, "request", "verify", first, "--method", "officer", "--matched", "email")
    code, output = cli("request", "run", duplicate["request_id"])
    assert code == 1 and "is duplicate" in output
    with service.ledger.transaction() as tx:
        assert tx.session.scalars(select(RequestRun)).all() == []
