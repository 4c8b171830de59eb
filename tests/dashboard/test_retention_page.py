"""The retention page: every category of the policy in force with its period in words and in ISO,
the children's rule and the anonymisation choices, and the versions the ledger recorded."""
from __future__ import annotations

from datetime import timedelta

import pytest
from markupsafe import escape

from jobs.retention import record_policy
from tests.dashboard.conftest import NOW
from tests.dashboard.other_parts_endpoints import add_missing_endpoints


@pytest.fixture(autouse=True)
def _layout_links(dashboard_app):
    add_missing_endpoints(dashboard_app)


def stricter(policy, version: str, category_id: str, retention: str):
    categories = tuple(c.model_copy(update={"retention": retention}) if c.id == category_id else c for c in policy.category)
    return policy.model_copy(update={"policy_version": version, "category": categories})


def test_the_page_shows_every_category_of_the_policy_in_force(dashboard, auditor):
    page = auditor.get("/retention")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and body.count("<h1>") == 1
    assert f"version <code>{dashboard.policy.policy_version}</code>" in body
    for category in dashboard.policy.category:
        assert f'<th scope="row"><code>{category.id}</code></th>' in body
        assert str(escape(category.purpose)) in body and f"<code>{category.retention}</code>" in body
    assert "8 hours (<code>PT8H</code>) after the dashboard session ended (<code>session_end</code>)" in body
    assert "13 months (<code>P13M</code>)" in body and "Legitimate interests, Art. 6(1)(f)" in body
    assert "<code>customers[].emailAddress</code>" in body
    assert "What is your age?" in body and "Under 13" in body
    assert "<code>rewrite-or-delete</code>" in body
    assert "Not yet recorded in the ledger" in body and "None yet" in body


def test_the_versions_recorded_are_listed_newest_first_with_what_they_made_stricter(dashboard, officer):
    with dashboard.ledger.transaction() as tx:
        record_policy(tx, dashboard.policy, NOW - timedelta(days=10))
    with dashboard.ledger.transaction() as tx:
        record_policy(tx, stricter(dashboard.policy, "2026-12-01.1", "booking.notes", "P30D"), NOW)
    body = officer.get("/retention").get_data(as_text=True)
    versions = body.split("<h2>Versions recorded</h2>")[1]
    newer, older = versions.index("2026-12-01.1"), versions.index(f"<code>{dashboard.policy.policy_version}</code>")
    assert newer < older
    assert "<code>booking.notes</code>" in versions and "none (first)" in versions
    assert "2026-12-01T09:30:00.000000Z" in versions and "seq 2" in versions
    # The file in force is the older version: recorded, so no warning, and marked in force.
    assert "Not yet recorded" not in body and f"{dashboard.policy.policy_version}</code> (in force)" in versions
