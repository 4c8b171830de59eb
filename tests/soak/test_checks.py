"""Each of the soak's end checks passes on a small real run and goes red when its guarantee is
broken once: the emulator over HTTP, the web app on a loopback port, a ledger on SQLite (and, for
the run where everything holds, PostgreSQL), `subscribe`, `sync` and an opt-out run to its
certificate through the real commands. Then one thing is broken: a personal value in a log line,
a tampered chain row, a certificate byte flipped, a category expired twice, an expiry missed, a
lapsed subscription, a lagging watermark sample, a customer mailed, Graph changed behind the
ledger's back, a request left open."""
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
from personal_values import PersonalValues

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
    businesses = control.seed(businesses=1, appointments=6, customers=4, seed=11)
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


def test_every_check_passes_on_a_run_where_everything_holds_and_names_no_one(soak, capsys):
    found = results(soak)
    assert all(r.passed for r in found.values()), {n: r.detail for n, r in found.items() if not r.passed}
    checks.print_report(found.values())
    report = capsys.readouterr().out + json.dumps([r.detail for r in found.values()])
    assert "soak checks" in report
    assert checks.personal_values_in(report, soak.personal.values()) == []


@sqlite_only
@pytest.mark.parametrize("written", ["upper", "digits"])
def test_a_personal_value_in_a_log_line_fails_the_log_check(soak, written):
    customer = soak.customer
    value = customer["emailAddress"].upper() if written == "upper" else \
        "".join(ch for ch in customer["phones"][0]["number"] if ch.isdigit())
    with (soak.run.log_dir / "worker.2.log").open("w") as log:
        log.write('{"event": "claimed", "rows": 3}\n' f'{{"event": "oops", "value": "{value}"}}\n')
    result = results(soak)["no-personal-data-in-logs"]
    assert not result.passed and "worker.2.log line 2" in result.detail
    assert value.lower() not in result.detail.lower()
    assert failed(soak) == {"no-personal-data-in-logs"}


@sqlite_only
def test_a_tampered_chain_row_fails_the_chain_check(soak):
    with soak.service.ledger.engine.begin() as connection:
        connection.execute(text("DROP TRIGGER ledger_entries_refuse_update"))
        body = connection.execute(text("SELECT body FROM ledger_entries WHERE seq = 2")).scalar_one()
        connection.execute(text("UPDATE ledger_entries SET body = :body WHERE seq = 2"),
                           {"body": body.replace(b'"seq":2', b'"seq":2 ')})
    result = results(soak)["chain-and-checkpoint"]
    assert not result.passed and "first bad seq 2" in result.detail


@sqlite_only
def test_a_flipped_certificate_byte_fails_the_request_check(soak):
    from ledger.certificates import CertificateRecord

    with soak.service.ledger.transaction() as tx:
        row = tx.session.scalars(select(CertificateRecord)).one()
        at = next(i for i in range(row.document.index('"issued_at"'), len(row.document)) if row.document[i].isdigit())
        row.document = row.document[:at] + ("1" if row.document[at] != "1" else "2") + row.document[at + 1:]
    result = results(soak)["requests-closed-in-time"]
    assert not result.passed and f"certificate {row.certificate_id}" in result.detail
    assert failed(soak) == {"requests-closed-in-time"}


@sqlite_only
def test_a_request_left_open_fails_the_request_check(soak):
    code, output = soak.cli("request", "create", "--type", "access", "--email", soak.customer["emailAddress"], "--json")
    assert code == 0, output
    result = results(soak)["requests-closed-in-time"]
    assert not result.passed and f"{json.loads(output)['request_id']} still awaiting-verification" in result.detail


def _appointment_and_subject(soak) -> tuple[str, str]:
    from state.bookings_mirror import BookingAppointment

    with soak.service.ledger.transaction() as tx:
        row = next(r for r in tx.session.scalars(select(BookingAppointment)) if r.subject_map())
        return row.appointment_id, next(iter(row.subject_map().values()))


@sqlite_only
def test_a_category_expired_twice_fails_the_retention_check(soak):
    appointment, subject = _appointment_and_subject(soak)
    for _ in range(2):
        with soak.service.ledger.transaction() as tx:
            tx.append("retention-expired", subject=subject, refs={"appointment": appointment}, business=soak.business,
                      categories=["booking.contact"], policy_version="test")
    result = results(soak)["expired-anonymised-once"]
    assert not result.passed and f"appointment {appointment}: booking.contact expired 2 times" in result.detail


@sqlite_only
def test_an_expiry_left_undone_fails_the_retention_check(soak):
    from database.times import format_time
    from state.retention_dues import RetentionDue

    appointment, subject = _appointment_and_subject(soak)
    with soak.service.ledger.transaction() as tx:
        tx.session.add(RetentionDue(object_type="appointment", object_id=appointment, subject_ref=subject,
                                    category="booking.soak-test", business_id=soak.business,
                                    due_at=format_time(soak.run.ended - timedelta(days=1))))
    result = results(soak)["expired-anonymised-once"]
    assert not result.passed and f"appointment {appointment}: booking.soak-test due" in result.detail


@sqlite_only
def test_a_lapsed_subscription_fails_the_subscription_check(soak):
    soak.control.advance(hours=24 * 4)      # past the longest expiry Graph grants (4,230 minutes); nobody renews
    soak.run.ended = _instant(soak.control.call("GET", "/clock")["now"])
    result = results(soak)["no-subscription-lapsed"]
    assert not result.passed and "after it was expired" in result.detail


@sqlite_only
def test_a_removed_subscription_not_recreated_in_time_fails_the_subscription_check(soak):
    soak.control.lifecycle(soak.control.live_subscriptions()[0]["id"], "subscriptionRemoved")
    soak.control.advance(seconds=600)
    soak.run.ended = _instant(soak.control.call("GET", "/clock")["now"])
    assert results(soak)["no-subscription-lapsed"].passed, "ten minutes unwatched after a removal is prompt"
    soak.control.advance(hours=3)
    soak.run.ended = _instant(soak.control.call("GET", "/clock")["now"])
    result = results(soak)["no-subscription-lapsed"]
    assert not result.passed and "after it was removed" in result.detail


@sqlite_only
def test_a_lagging_watermark_sample_fails_the_watermark_check(soak):
    soak.run.watermark_samples.append((soak.run.ended, checks.MAX_WATERMARK_LAG.total_seconds() + 1))
    result = results(soak)["watermark-within-minutes"]
    assert not result.passed and f"{int(checks.MAX_WATERMARK_LAG.total_seconds()) + 1} s behind" in result.detail


def _graph(soak) -> httpx.Client:
    return httpx.Client(base_url=soak.control.server.graph_url, headers={"Authorization": "Bearer test"}, timeout=30)


@sqlite_only
def test_a_customer_mailed_by_a_cancel_fails_the_mail_check(soak):
    """A write of ours that has Bookings mail the customer: the cancellation the service must never send."""
    business = soak.control.state()["businesses"][0]
    appointment = next(a for a in business["appointments"] if a["customers"])
    with _graph(soak) as graph:
        graph.post(f"/solutions/bookingBusinesses/{soak.business}/appointments/{appointment['id']}/cancel",
                   json={"cancellationMessage": "Closed."}).raise_for_status()
    result = results(soak)["no-customer-mailed"]
    assert not result.passed and f"bookings cancellation 0 of {appointment['id']} mailed" in result.detail


@sqlite_only
def test_traffic_cancelling_is_not_the_services_doing(soak):
    """The emulator's booking traffic (standing in for staff and customers) mails customers too; not a failure."""
    soak.control.call("POST", "/traffic", {"rate": 500, "count": 60, "seed": 3})
    while soak.control.call("GET", "/traffic")["running"]:
        time.sleep(0.05)
    assert any(m.get("customerRecipients") for m in soak.control.call("GET", "/outbox")), "the traffic cancelled nothing"
    assert results(soak)["no-customer-mailed"].passed


@sqlite_only
def test_mail_sent_to_a_customer_outside_the_request_mail_fails_the_mail_check(soak):
    mailbox = soak.control.state()["businesses"][0]["mailboxUserId"]
    message = {"subject": "Hello", "body": {"contentType": "text", "content": "Hi"},
               "toRecipients": [{"emailAddress": {"address": soak.customer["emailAddress"]}}]}
    with _graph(soak) as graph:
        graph.post(f"/users/{mailbox}/sendMail", json={"message": message}).raise_for_status()
    result = results(soak)["no-customer-mailed"]
    assert not result.passed and "(sendMail) is no recorded mail of the service" in result.detail


@sqlite_only
def test_graph_changed_behind_the_ledgers_back_fails_the_projection_check(soak):
    customer = soak.control.state()["businesses"][0]["customers"][1]
    with _graph(soak) as graph:
        graph.patch(f"/solutions/bookingBusinesses/{soak.business}/customers/{customer['id']}",
                    json={"displayName": "Someone Else Entirely"}).raise_for_status()
    result = results(soak)["ledger-equals-graph"]
    assert not result.passed and f"content of customer {customer['id']}" in result.detail
