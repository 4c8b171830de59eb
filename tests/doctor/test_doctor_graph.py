"""`doctor` against the Graph emulator over HTTP: each permission the service needs is probed by
calling Graph, so one removed at a time is named; the booking businesses; out-of-scope mailboxes."""
from __future__ import annotations

import pytest

from doctor_helpers import NEEDED, PRIVACY_MAILBOX

# What to take away, and what doctor must then name. Where a higher permission also allows a
# probe's call, taking the lower one away leaves the service able to do it, so both go: Calendars.ReadWrite
# reads too, and Graph's pages print Bookings.Read.All among the permissions that allow appointment
# writes (graph-facts §1, "as printed"; the emulator follows them).
REMOVALS = [
    (["Bookings.Read.All"], {"Bookings.Read.All"}),
    (["BookingsAppointment.ReadWrite.All", "Bookings.Read.All"], {"BookingsAppointment.ReadWrite.All", "Bookings.Read.All"}),
    (["Calendars.Read", "Calendars.ReadWrite"], {"Calendars.Read", "Calendars.ReadWrite"}),
    (["Calendars.ReadWrite"], {"Calendars.ReadWrite"}),
    (["MailboxSettings.Read"], {"MailboxSettings.Read"}),
    (["User.Read.All"], {"User.Read.All"}),
    (["Mail.ReadWrite"], {"Mail.ReadWrite"}),
    (["Mail.Send"], {"Mail.Send"}),
]


def test_everything_granted_and_set_up_passes(environment, doctor, control, business):
    """The set-up of the fixtures passes: exit 0, no FAIL; every permission line is ok."""
    checklist = doctor()
    assert checklist.code == 0 and not checklist.failed(), checklist.output
    for permission in NEEDED:
        assert checklist.line(f"permission {permission}")["status"] == "ok", checklist.output
    assert business in checklist.line("booking businesses")["found"]
    assert checklist.line("PUBLIC_BASE_URL answers")["status"] == "ok"
    assert checklist.line("PUBLIC_BASE_URL is HTTPS")["status"] == "warn"  # loopback http: the demo
    assert control.get("/mail").json() == []  # the Mail.Send probe sent nothing


@pytest.mark.parametrize(("removed", "named"), REMOVALS, ids=[" ".join(r) for r, _ in REMOVALS])
def test_each_missing_permission_is_named(environment, doctor, control, removed, named):
    """With permissions taken away at run time, doctor names exactly those and exits 1."""
    control.post("/options", json={"granted_permissions": [p for p in NEEDED if p not in removed]}).raise_for_status()
    checklist = doctor()
    assert checklist.code == 1
    assert checklist.missing_permissions() == named, checklist.output
    for line in checklist.failed():
        assert "Application " in line["fix"] or line["check"] == "booking businesses", line


def test_mail_readbasic_is_not_enough_to_read_requests(environment, doctor, control):
    """Mail.ReadBasic lists messages without their bodies: the Mail.ReadWrite line says so."""
    control.post(f"/mailboxes/{PRIVACY_MAILBOX}/messages", json={"text": "please erase my data"}).raise_for_status()
    granted = [p for p in NEEDED if p != "Mail.ReadWrite"] + ["Mail.ReadBasic.All"]
    control.post("/options", json={"granted_permissions": granted}).raise_for_status()
    checklist = doctor()
    assert checklist.code == 1 and checklist.missing_permissions() == {"Mail.ReadWrite"}
    assert "Mail.ReadBasic" in checklist.line("permission Mail.ReadWrite")["found"]
    assert "erase" not in checklist.output  # a message's text never reaches the checklist


def test_a_mailbox_outside_the_rbac_scope_is_named_with_both_causes(environment, doctor, control, business):
    """403 "Access to OData is disabled": the mailbox is outside the app's scope or REST is blocked org-wide."""
    control.post("/options", json={"mailboxes_outside_app_scope": [business]}).raise_for_status()
    checklist = doctor()
    assert checklist.code == 1
    blocked = {line["check"] for line in checklist.failed()}
    assert blocked == {"permission Calendars.Read", "permission Calendars.ReadWrite", "permission MailboxSettings.Read"}
    for check in blocked:
        line = checklist.line(check)
        assert business in line["found"]
        assert "RBAC for Applications scope" in line["fix"] and "blocked for the whole organisation" in line["fix"]


def test_a_configured_business_the_app_cannot_see_fails_with_the_fix(environment, doctor, monkeypatch, business):
    """BOOKING_BUSINESSES names one Graph does not list: FAIL naming it, and what the app does see."""
    monkeypatch.setenv("BOOKING_BUSINESSES", f"{business},gone@contoso.example")
    line = doctor().line("booking businesses")
    assert line["status"] == "FAIL" and "gone@contoso.example" in line["found"] and business in line["found"]
    assert "BOOKING_BUSINESSES" in line["fix"]


def test_no_privacy_mailbox_warns_that_the_mail_permissions_were_not_probed(environment, doctor, monkeypatch):
    """Without PRIVACY_MAILBOX the mail permissions cannot be probed: a warning each, which does not block."""
    monkeypatch.delenv("PRIVACY_MAILBOX")
    checklist = doctor()
    assert checklist.code == 0, checklist.output
    for permission in ("Mail.ReadWrite", "Mail.Send"):
        line = checklist.line(f"permission {permission}")
        assert line["status"] == "warn" and "PRIVACY_MAILBOX" in line["found"]


def test_a_credential_that_gets_no_token_is_one_line(environment, doctor, monkeypatch, tmp_path):
    """A certificate credential with an unreadable file: one FAIL for credentials, the probes skipped."""
    monkeypatch.setenv("GRAPH_CREDENTIAL", "certificate")
    monkeypatch.setenv("GRAPH_CLIENT_CERTIFICATE", str(tmp_path / "absent.pem"))
    checklist = doctor()
    assert [line["check"] for line in checklist.failed()] == ["credentials"], checklist.output
    assert checklist.line("Graph permissions")["found"] == "skipped: needs credentials"
    assert "Traceback" not in checklist.output


def test_graph_out_of_reach_is_one_line(environment, doctor, monkeypatch):
    """GRAPH_BASE_URL where nothing listens: one FAIL, and the permission probes skipped rather than each timing out."""
    monkeypatch.setenv("GRAPH_BASE_URL", "http://127.0.0.1:9/v1.0")
    checklist = doctor()
    assert [line["check"] for line in checklist.failed()] == ["Graph answers"], checklist.output
    assert checklist.line("Graph permissions")["found"] == "skipped: needs Graph answering"
