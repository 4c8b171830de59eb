"""Material notice changes: `notice register FILE --material` records the version and plans one
notice per person whose data is still held; the `notices` job sends them in batches, each once,
each recorded, resumable after a death mid-batch; restricted subjects are held until lifted. Sent over
HTTP to the emulator (its outbox says what arrived); the death mid-batch, at the exact moment after
Graph sent and before the record, with the sender's double (bench/request_notices.py SIGKILLs a
real notices process over HTTP)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bookings_ledger.cli import main
from config import load_settings
from jobs.mail_sender import CLAIM_TIMEOUT
from jobs.notices import NoticeSender, notice_progress, register_notice
from ledger.core.canonical import parse_entry
from ledger.models import EntryIndex, LedgerEntry
from mail_double import Died, MailDouble
from mail_outbox import Outbox
from state import notice_versions, subject_restrictions

MAILBOX = "privacy@contoso.com"
NOTICE = "Privacy notice\nLast updated: December 1, 2026\n\nWe changed what we keep.\n"


class DoubleGraph:
    def __init__(self, mail: MailDouble) -> None:
        self.mail = mail


@pytest.fixture
def settings(service: Any) -> Any:
    return load_settings({**service.settings, "PRIVACY_MAILBOX": MAILBOX, "NOTICE_BATCH_SIZE": "3"})


@pytest.fixture
def outbox(control: Any) -> Outbox:
    return Outbox(control)


@pytest.fixture
def sender(service: Any, settings: Any, graph: Any) -> NoticeSender:
    return NoticeSender(service.ledger, graph, settings)


def person(service: Any, email: str | None, *, phone: str | None = None) -> str:
    values = {"name": "Someone", **({"email": email} if email else {}), **({"phone": phone} if phone else {})}
    with service.ledger.transaction() as tx:
        subject = tx.new_subject()
        tx.collect(subject, values, categories=dict.fromkeys(values, "booking.contact"), purpose="appointment")
        return subject


def entries(service: Any, kind: str) -> list[dict[str, Any]]:
    with service.ledger.transaction() as tx:
        bodies = tx.session.scalars(select(LedgerEntry.body).join(EntryIndex, EntryIndex.seq == LedgerEntry.seq)
                                    .where(EntryIndex.kind == kind).order_by(LedgerEntry.seq))
        return [parse_entry(body) for body in bodies]


@pytest.fixture
def people(service: Any) -> dict[str, str]:
    """Seven addresses held (one person twice), one erased, one with a telephone number only."""
    subjects = {f"p{n}": person(service, f"person{n}@example.org") for n in range(7)}
    subjects["p0-again"] = person(service, "Person0@Example.org")         # the same person: told once
    subjects["phone-only"] = person(service, None, phone="+353 1 555 0101")
    subjects["erased"] = person(service, "gone@example.org")
    service.ledger.erase_subject(subjects["erased"], reason="erasure-request")
    return subjects


def test_a_material_change_is_sent_once_to_each_person_whose_data_is_held(service, sender, outbox, people):
    """One notice per address held (not the erased one's, not twice to one person), batch by batch,
    each recorded as `message-sent` with the version; registering and running again sends nothing."""
    registered = register_notice(service.ledger, NOTICE, version="2026-12-01", material=True)
    assert registered.planned == 7 and registered.seq is not None
    [changed] = entries(service, "notice-changed")
    assert changed["notice_version"] == "2026-12-01" and changed["material"] is True
    assert changed["sha256"] == registered.sha256
    report = sender.run()
    assert report["batches"] == 3 and report["outcomes"] == {"sent": 7}
    addresses = sorted(message.to.lower() for message in outbox.sent)
    assert addresses == [f"person{n}@example.org" for n in range(7)]
    assert all("/privacy/notices/2026-12-01" in message.text for message in outbox.sent)
    sent = entries(service, "message-sent")
    assert len(sent) == 7 and {e["notice_version"] for e in sent} == {"2026-12-01"}
    assert {e["template"] for e in sent} == {"material-change"} and "example.org" not in json.dumps(sent)
    assert register_notice(service.ledger, NOTICE, version="2026-12-01", material=True).planned == 0
    assert sender.run()["outcomes"] == {} and len(outbox.sent) == 7
    assert notice_progress(service.ledger, "2026-12-01") == {"sent": 7}


def test_a_notice_job_killed_mid_batch_resumes_without_a_second_send(service, settings, people, control):
    double = MailDouble()
    sender = NoticeSender(service.ledger, DoubleGraph(double), settings)
    register_notice(service.ledger, NOTICE, version="2026-12-01", material=True)
    double.die_after = "send_draft"
    with pytest.raises(Died):
        sender.run()
    assert len(double.sent) == 1                                 # sent, and the process died before recording it
    sender.run()                                                 # the others go; the dead one's claim is fresh
    assert len(double.sent) == 7
    control.advance(seconds=CLAIM_TIMEOUT.total_seconds() + 1)
    sender.run()
    assert len(double.sent) == 7 and len({m.to for m in double.sent}) == 7
    assert notice_progress(service.ledger, "2026-12-01") == {"sent": 7}
    assert len(entries(service, "message-sent")) == 7


def test_a_restricted_subject_is_told_once_the_restriction_is_lifted_and_an_objector_is_told(service, sender, outbox,
                                                                                           people):
    with service.ledger.transaction() as tx:
        subject_restrictions.restrict(tx.session, people["p1"], kind="restriction", now=tx.clock())
        subject_restrictions.restrict(tx.session, people["p2"], kind="objection", now=tx.clock())
        subject_restrictions.restrict(tx.session, people["p3"], kind="opt-out", now=tx.clock())
    register_notice(service.ledger, NOTICE, version="2026-12-01", material=True)
    assert sender.run()["outcomes"] == {"sent": 6, "held": 1}
    assert "person1@example.org" not in {m.to for m in outbox.sent}
    assert {"person2@example.org", "person3@example.org"} <= {m.to for m in outbox.sent}
    assert sender.run()["released"] == 0 and len(outbox.sent) == 6
    with service.ledger.transaction() as tx:
        subject_restrictions.lift(tx.session, people["p1"], "restriction", now=tx.clock())
    assert sender.run()["released"] == 1
    assert [m.to for m in outbox.sent].count("person1@example.org") == 1
    assert notice_progress(service.ledger, "2026-12-01") == {"sent": 7}


def test_a_change_that_is_not_material_plans_no_notice(service, sender, outbox, people):
    assert register_notice(service.ledger, NOTICE, version="2026-12-01", material=False).planned == 0
    assert sender.run()["batches"] == 0 and outbox.sent == []


def test_the_command_registers_the_file_stores_the_text_and_refuses_another_text(service, monkeypatch, tmp_path,
                                                                                 capsys, people):
    """`notice register FILE --material --json`: the version from the `Last updated:` line, the text
    stored for the public page; the same version with another text is refused with exit 2."""
    for name, value in service.settings.items():
        monkeypatch.setenv(name, value)
    notice = tmp_path / "notice.txt"
    notice.write_text(NOTICE, encoding="utf-8")
    assert main(["notice", "register", str(notice), "--material", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["version"] == "2026-12-01" and printed["planned"] == 7 and printed["material"] is True
    with service.ledger.transaction() as tx:
        stored = notice_versions.get_version(tx.session, "2026-12-01")
    assert stored is not None and stored.text == NOTICE and stored.material
    assert main(["notice", "register", str(notice)]) == 0
    assert "registered already" in capsys.readouterr().out
    notice.write_text(NOTICE + "More.\n", encoding="utf-8")
    assert main(["notice", "register", str(notice)]) == 2
    assert "another text" in capsys.readouterr().err
    undated = tmp_path / "undated.txt"
    undated.write_text("No date here.\n", encoding="utf-8")
    assert main(["notice", "register", str(undated)]) == 2
    assert "--version" in capsys.readouterr().err
    assert len(entries(service, "notice-changed")) == 1
    assert main(["notice", "register", str(Path(tmp_path / "missing.txt"))]) == 2


def test_a_broken_template_stops_a_material_registration_before_anything_is_planned(service, monkeypatch, tmp_path,
                                                                                    capsys, people):
    for name, value in service.settings.items():
        monkeypatch.setenv(name, value)
    templates = tmp_path / "templates"
    templates.mkdir()
    monkeypatch.setenv("MAIL_TEMPLATES_DIR", str(templates))
    notice = tmp_path / "notice.txt"
    notice.write_text(NOTICE, encoding="utf-8")
    assert main(["notice", "register", str(notice), "--material"]) == 2
    assert "MAIL_TEMPLATES_DIR" in capsys.readouterr().err
    assert entries(service, "notice-changed") == []
