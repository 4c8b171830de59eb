"""The audit log: who viewed or exported what, newest first, by actor id, paged; never the viewer's
IP address, user agent or reason."""
from __future__ import annotations

import re

import pytest
from sqlalchemy.orm import Session

from bookings_data import GRACE, ingest, link_pages_not_yet_built, reveal
from ledger.entries import append_entry


@pytest.fixture(autouse=True)
def _other_pages(dashboard_app):
    link_pages_not_yet_built(dashboard_app)


def rows(html: str) -> list[tuple[str, str, str]]:
    """(kind, actor, purpose) of each row, in page order."""
    found = re.findall(r'<td>(viewed|exported)</td>\s*<td>(?:<span class="ref">([^<]+)</span>[^<]*|command line)</td>'
                       r'.*?<td>([^<]*)</td>\s*</tr>', html, re.S)
    return [(kind, actor or "command line", purpose) for kind, actor, purpose in found]


def test_views_and_exports_are_listed_newest_first_with_actor_and_purpose(dashboard, officer, auditor):
    ada = ingest(dashboard)
    grace = ingest(dashboard, "a-2", customer=GRACE)
    reveal(officer, ada, reason="Access request of Quintus", **{"User-Agent": "AuditedAgent/1"})
    reveal(auditor, grace, reason="Sample")
    with Session(dashboard.engine) as session, session.begin():
        append_entry(session, "exported", dashboard.clock(), {"entries": 9, "checkpoints": 1})
    html = auditor.get("/audit").get_data(as_text=True)
    assert rows(html) == [("exported", "command line", "—"), ("viewed", "local:auditor", "audit"),
                          ("viewed", "local:officer", "review")]
    assert f'href="/subjects/{ada}"' in html and f'href="/subjects/{grace}"' in html
    assert "(you, Aaron Auditor)" in html and "Olivia Officer" not in html.split("<main")[1]
    for private in ("Quintus", "AuditedAgent", "127.0.0.1", "Sample"):
        assert private not in html


def test_the_log_filters_by_actor_and_pages(dashboard, officer, auditor, monkeypatch):
    from dashboard import audit

    ada = ingest(dashboard)
    for _ in range(3):
        reveal(officer, ada)
    reveal(auditor, ada, reason="Sample")
    assert rows(officer.get("/audit?actor=local:auditor").get_data(as_text=True)) == [("viewed", "local:auditor", "audit")]
    monkeypatch.setattr(audit, "PAGE_SIZE", 2)
    first = officer.get("/audit?actor=local:officer").get_data(as_text=True)
    second = officer.get("/audit?actor=local:officer&page=2").get_data(as_text=True)
    assert len(rows(first)) == 2 and len(rows(second)) == 1
    assert "Next page" in first and "Next page" not in second
    assert 'href="/audit?page=2&amp;actor=local:officer"' in first


def test_the_admin_may_not_read_the_audit_log(admin):
    assert admin.get("/audit").status_code == 403
