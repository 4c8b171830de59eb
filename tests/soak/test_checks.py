"""Each of the soak's end checks passes on a small real run and goes red when its guarantee is
broken once: the emulator over HTTP, the web app on a loopback port, a ledger on SQLite (and, for
the run where everything holds, PostgreSQL), `subscribe`, `sync` and an opt-out run to its
certificate through the real commands. Then one thing at a time is broken, seen red, and (where
it can be) restored and seen green again: a tampered chain row, a certificate byte flipped, Graph
changed behind the ledger's back, an expiry missed, a request left open, a category expired
twice; a personal value in a log line (in capitals, as bare digits), a lagging watermark sample,
a removed subscription not recreated, a lapsed one, a customer mailed. A run takes two setups
on SQLite so the whole file stays fast."""
from __future__ import annotations

import importlib.util
import json
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy import select, text

import checks
from config import load_settings
from personal_data_scan import personal_values_in
from personal_values import PersonalValues
from request_stream import RequestStream

# The jobs tests' fixtures (emulator, web app, ledger, in-process CLI), loaded under a name of
# their own: a conftest of tests/soak would be the soak harness's, which needs none of them.
_spec = importlib.util.spec_from_file_location("jobs_fixtures", Path(__file__).parents[1] / "jobs" / "conftest.py")
_fixtures = sys.modules["jobs_fixtures"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)
globals().update({name: getattr(_fixtures, name) for name in (
    "_emulator", "emulator", "control", "graph_clock", "service", "cli")})

sqlite_only = pytest.mark.parametrize("database_factory", ["sqlite"], indirect=True)


def _instant(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


@pytest.fixture
def soak(service, control, cli, tmp_path, monkeypatch):
    """A finished run in miniature: subscribed, synced, one request completed, clean logs."""
    started = _instant(control.call("GET", "/clock")["now"])
    businesses = control.seed(businesses=2, appointments=4, customers=5, seed=11)
    settings = {**service.settings, "BOOKING_BUSINESSES": ",".join(businesses), "CHECKPOINT_DIR": str(tmp_path / "cp")}
    monkeypatch.setenv("BOOKING_BUSINESSES", settings["BOOKING_BUSINESSES"])
    for command in (("subscribe",), ("sync",)):
        code, output = cli(*command)
        assert code == 0, output
    customer = control.state()["businesses"][0]["customers"][0]
    code, output = cli("request", "create", "--type", "opt-out", "--email", customer["emailAddress"], "--json")
    assert code == 0, output
    code, output = cli("request", "run", json.loads(output)["request_id"], "--json")
    assert code == 0, output
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    (log_dir / "web.1.log").write_text('{"level": "info", "event": "served", "request_id": "r1", "status": 202}\n')
    personal = PersonalValues()
    personal.sample(control.server.base_url)
    ended = _instant(control.call("GET", "/clock")["now"])
    run = SimpleNamespace(settings=settings, emulator_url=control.server.base_url, web_url=service.base_url, api_token="",
                          log_dir=log_dir, started=started, ended=ended, watermark_samples=[(started, 0.0), (ended, 60.0)],
                          killed=[])
    return SimpleNamespace(run=run, personal=personal, business=businesses[0], customer=customer, service=service,
                           control=control, cli=cli)


def results(soak) -> dict[str, checks.CheckResult]:
    found = {r.name: r for r in checks.run_checks(soak.run, soak.personal)}
    assert list(found) == ["ledger-equals-graph", "requests-closed-in-time", "expired-anonymised-once",
                           "no-subscription-lapsed", "watermark-within-minutes", "chain-and-checkpoint",
                           "no-personal-data-in-logs", "no-customer-mailed"]
    return found


def failed(soak) -> set[str]:
    return {name for name, r in results(soak).items() if not r.passed}


def red(result: checks.CheckResult, *expected: str) -> None:
    assert not result.passed, result.detail
    for part in expected:
        assert part in result.detail, result.detail


def test_every_check_passes_on_a_run_where_everything_holds_and_names_no_one(soak, capsys):
    found = results(soak)
    assert all(r.passed for r in found.values()), {n: r.detail for n, r in found.items() if not r.passed}
    checks.print_report(found.values())
    report = capsys.readouterr().out + json.dumps([r.detail for r in found.values()])
    assert "soak checks" in report and "1 completed" in report
    assert personal_values_in(report, soak.personal.values()) == []


def _graph(soak) -> httpx.Client:
    return httpx.Client(base_url=soak.control.server.graph_url, headers={"Authorization": "Bearer test"}, timeout=30)


def _appointment_and_subject(soak) -> tuple[str, str]:
    from state.bookings_mirror import BookingAppointment

    with soak.service.ledger.transaction() as tx:
        row = next(r for r in tx.session.scalars(select(BookingAppointment)) if r.subject_map())
        return row.appointment_id, next(iter(row.subject_map().values()))


@sqlite_only
def test_the_ledger_side_checks_go_red_for_each_break_and_green_once_restored(soak):
    from config.retention import load_policy
    from database.times import format_time
    from ledger.certificates import CertificateRecord
    from state.retention_dues import RetentionDue

    settings = load_settings(soak.run.settings)
    engine = soak.service.ledger.engine

    # A chain row rewritten in place (its trigger dropped first): verify names the row.
    with engine.begin() as connection:
        connection.execute(text("DROP TRIGGER ledger_entries_refuse_update"))
        original = connection.execute(text("SELECT body FROM ledger_entries WHERE seq = 2")).scalar_one()
        connection.execute(text("UPDATE ledger_entries SET body = :body WHERE seq = 2"),
                           {"body": original.replace(b'"seq":2', b'"seq":2 ')})
    red(checks.chain_and_checkpoint(soak.run, settings), "first bad seq 2")
    with engine.begin() as connection:
        connection.execute(text("UPDATE ledger_entries SET body = :body WHERE seq = 2"), {"body": original})
    assert checks.chain_and_checkpoint(soak.run, settings).passed

    # One byte of the stored certificate flipped: it no longer verifies offline.
    with soak.service.ledger.transaction() as tx:
        row = tx.session.scalars(select(CertificateRecord)).one()
        document, certificate_id = row.document, row.certificate_id
        at = next(i for i in range(document.index('"issued_at"'), len(document)) if document[i].isdigit())
        row.document = document[:at] + ("1" if document[at] != "1" else "2") + document[at + 1:]
    red(checks.requests_closed_in_time(settings), f"certificate {certificate_id}")
    with soak.service.ledger.transaction() as tx:
        tx.session.get(CertificateRecord, certificate_id).document = document
    assert checks.requests_closed_in_time(settings).passed

    # Graph changed behind the ledger's back: the projection differs until Graph is put back.
    customer = soak.control.state()["businesses"][0]["customers"][1]
    with _graph(soak) as graph:
        path = f"/solutions/bookingBusinesses/{soak.business}/customers/{customer['id']}"
        graph.patch(path, json={"displayName": "Someone Else Entirely"}).raise_for_status()
        red(checks.ledger_equals_graph(soak.run, settings), f"content of customer {customer['id']}")
        graph.patch(path, json={"displayName": customer["displayName"]}).raise_for_status()
    assert checks.ledger_equals_graph(soak.run, settings).passed

    # An expiry due a day before the end that nothing expired.
    appointment, subject = _appointment_and_subject(soak)
    due = RetentionDue(object_type="appointment", object_id=appointment, subject_ref=subject, category="booking.soak-test",
                       business_id=soak.business, due_at=format_time(soak.run.ended - timedelta(days=1)))
    with soak.service.ledger.transaction() as tx:
        tx.session.add(due)
    red(checks.expired_anonymised_once(soak.run, settings), f"appointment {appointment}: booking.soak-test due")
    with soak.service.ledger.transaction() as tx:
        tx.session.delete(tx.session.merge(due))
    assert checks.expired_anonymised_once(soak.run, settings).passed

    # A request left open, until the officer refuses it.
    code, output = soak.cli("request", "create", "--type", "access", "--email", soak.customer["emailAddress"], "--json")
    assert code == 0, output
    request_id = json.loads(output)["request_id"]
    red(checks.requests_closed_in_time(settings), f"{request_id} still awaiting-verification")
    code, output = soak.cli("request", "reject", request_id, "--reason", "identity-not-verified")
    assert code == 0, output
    assert checks.requests_closed_in_time(settings).passed

    # An operation verified again once it had more categories is not a double; the same categories
    # verified twice are, and the chain keeps them: red from here on.
    def verified(categories):
        with soak.service.ledger.transaction() as tx:
            tx.append("anonymisation-verified", subject=subject, refs={"appointment": appointment}, operation="f" * 32,
                      categories=categories, surfaces=["appointment"], remains=[])
    verified(["booking.contact"])
    verified(["booking.contact", "booking.notes"])
    assert checks.expired_anonymised_once(soak.run, settings).passed
    verified(["booking.contact", "booking.notes"])
    red(checks.expired_anonymised_once(soak.run, settings), f"operation {'f' * 32} verified 2 times for booking.contact, booking.notes")

    # A category of a record expired twice: the chain keeps both entries, so this one stays red.
    policy_version = load_policy(settings.RETENTION_POLICY_FILE).policy_version
    for _ in range(2):
        with soak.service.ledger.transaction() as tx:
            tx.append("retention-expired", subject=subject, refs={"appointment": appointment}, business=soak.business,
                      categories=["booking.contact"], policy_version=policy_version)
    red(checks.expired_anonymised_once(soak.run, settings), f"appointment {appointment}: booking.contact expired 2 times")
    assert failed(soak) == {"expired-anonymised-once"}


@sqlite_only
def test_the_outside_checks_go_red_for_each_break(soak):
    run, personal = soak.run, soak.personal

    # Personal values in a log line, however written; the detail names the line, not the value.
    phone = soak.customer["phones"][0]["number"]
    for value in (soak.customer["emailAddress"].upper(), "".join(ch for ch in phone if ch.isdigit())):
        (run.log_dir / "worker.2.log").write_text('{"event": "claimed", "rows": 3}\n' f'{{"event": "oops", "value": "{value}"}}\n')
        result = checks.no_personal_data_in_logs(run, personal)
        red(result, "worker.2.log line 2")
        assert value.lower() not in result.detail.lower()
    (run.log_dir / "worker.2.log").unlink()
    assert checks.no_personal_data_in_logs(run, personal).passed

    # One watermark sample further behind than the limit.
    run.watermark_samples.append((run.ended, checks.MAX_WATERMARK_LAG.total_seconds() + 1))
    red(checks.watermark_within_minutes(run), f"{int(checks.MAX_WATERMARK_LAG.total_seconds()) + 1} s behind")
    run.watermark_samples.pop()
    assert checks.watermark_within_minutes(run).passed

    # The emulator's booking traffic (standing in for staff and customers) has Bookings mail
    # customers too: not the service's doing.
    soak.control.call("POST", "/traffic", {"rate": 500, "count": 60, "seed": 3})
    while soak.control.call("GET", "/traffic")["running"]:
        time.sleep(0.05)
    assert any(m.get("customerRecipients") for m in soak.control.call("GET", "/outbox")), "the traffic cancelled nothing"
    assert checks.no_customer_mailed(run, load_settings(run.settings), personal).passed

    # Mail to a customer that is no request mail, and a cancel of ours that has Bookings mail one.
    state = soak.control.state()["businesses"][0]
    message = {"subject": "Hello", "body": {"contentType": "text", "content": "Hi"},
               "toRecipients": [{"emailAddress": {"address": soak.customer["emailAddress"]}}]}
    appointment = next(a for a in state["appointments"] if a["customers"])
    with _graph(soak) as graph:
        graph.post(f"/users/{state['mailboxUserId']}/sendMail", json={"message": message}).raise_for_status()
        graph.post(f"/solutions/bookingBusinesses/{soak.business}/appointments/{appointment['id']}/cancel",
                   json={"cancellationMessage": "Closed."}).raise_for_status()
    red(checks.no_customer_mailed(run, load_settings(run.settings), personal), "(sendMail) is no recorded mail of the service",
        "bookings cancellation", f"of {appointment['id']} mailed")

    # A removed subscription: ten minutes unwatched is prompt, three hours is not.
    removed = next(s for s in soak.control.live_subscriptions() if soak.business in s["resource"])
    soak.control.lifecycle(removed["id"], "subscriptionRemoved")
    soak.control.advance(seconds=600)
    run.ended = _instant(soak.control.call("GET", "/clock")["now"])
    assert checks.no_subscription_lapsed(run).passed
    soak.control.advance(hours=3)
    run.ended = _instant(soak.control.call("GET", "/clock")["now"])
    red(checks.no_subscription_lapsed(run), "after it was removed")

    # The other business's subscription left to expire: a lapse, whatever its length.
    soak.control.advance(hours=24 * 4)      # past the longest expiry Graph grants (4,230 minutes); nobody renews
    run.ended = _instant(soak.control.call("GET", "/clock")["now"])
    red(checks.no_subscription_lapsed(run), "after it was expired")


@sqlite_only
def test_the_request_stream_files_every_type_through_the_api_and_queues_each_run(soak):
    """Every type, each for a customer Graph holds, filed through the API, verified and queued as an officer would."""
    from bookings_ledger.app import DASHBOARD, close_app, create_app
    from ledger.requests import REQUEST_TYPES
    from state.api_tokens import SCOPES, create_token
    from state.request_runs import RequestRun

    token = create_token(soak.service.ledger.engine, "soak", SCOPES, soak.run.ended, days=30).token
    settings = {k: v for k, v in soak.run.settings.items() if k != "CLIENT_STATE_KEY"}
    app = create_app({**settings, "AUTH_MODE": "local", "LOCAL_PASSWORD": "correct horse battery staple"},
                     clock=soak.control.server.emulator.clock.now, surfaces=frozenset({DASHBOARD}))
    server, thread = _fixtures._serve(app)
    web_url = f"http://127.0.0.1:{server.server_port}"
    stream = RequestStream(web_url, token, soak.run.emulator_url, seed=7, per_day=len(REQUEST_TYPES))
    try:
        for hours in range(0, 25, 3):
            stream.step(soak.run.ended + timedelta(hours=hours))
        stream.stop_filing()
        stream.step(soak.run.ended + timedelta(days=3))
    finally:
        stream.close()
        server.shutdown()
        thread.join(5)
        close_app(app)
    filed = [f for f in stream.filed if f.request_id]
    assert {f.request_type for f in filed} == set(REQUEST_TYPES), stream.summary()
    assert len(stream.filed) <= len(REQUEST_TYPES) + 1, "a day's worth, and nothing after stop_filing"
    with soak.service.ledger.transaction() as tx:
        queued = {run.request_id for run in tx.session.scalars(select(RequestRun))}
    assert {f.request_id for f in filed if f.queued} <= queued
    assert all(f.queued or f.refused_run for f in filed), stream.summary()
    assert personal_values_in(json.dumps(stream.summary()), soak.personal.values()) == []
