"""The endpoints the layout links to that other parts of issue 12 build, for GOVERNANCE's branch.

The frame's nav and sign-out form build URLs for every area; on a branch where an area has not
landed, `url_for` fails and every page is a 500. `add_missing_endpoints` gives each missing one a
URL (answering 404) so the pages under test render; once the parts are merged it adds nothing,
and may be deleted with its calls.
"""
from __future__ import annotations

from flask import Flask

from dashboard.roles import public

LINKED = ("overview.overview_page", "subjects.search_page", "records.records_page", "audit.audit_page",
          "integrity.integrity_page", "admin.admin_page", "signin.sign_out", "signin.sign_in_page")


@public
def _absent() -> tuple[str, int]:
    return "not on this branch", 404


def add_missing_endpoints(app: Flask) -> None:
    for endpoint in LINKED:
        if endpoint not in app.view_functions:
            app.add_url_rule(f"/not-on-this-branch/{endpoint}", endpoint=endpoint, view_func=_absent)
