"""The one way a dashboard page shows personal data in clear: through an audited view (ledger/views.py).

    shown = show_personal_data(subject, purpose="review", reason=form["reason"])

The viewer is the signed-in user, from where the request came (`remote_addr`: which proxy hops
to trust is the app's ProxyFix, TRUSTED_PROXY_HOPS) and with its User-Agent header; the view
record's retention clock starts now, by the policy's `usage.audit` period (a `collected` clock),
in the view's own transaction, so the retention job destroys the viewer's context when it is up.
"""
from __future__ import annotations

from datetime import datetime

from flask import request
from sqlalchemy.orm import Session

from dashboard.context import context
from dashboard.sessions import current_user
from ledger.views import VIEW_CATEGORY, VIEW_OBJECT, ShownData, Viewer, read_with_audit
from state import retention_dues

USER_AGENT_LIMIT = 512   # enough for any real browser's; a longer header is cut, never refused


def show_personal_data(subject: str, *, purpose: str, reason: str) -> ShownData:
    """The subject's values in clear, once the view is recorded (ViewRefused, ErasedSubject: nothing is)."""
    user = current_user()
    assert user is not None, "the role guard ran first"
    viewer = Viewer(user.id, request.remote_addr or "", request.headers.get("User-Agent", "")[:USER_AGENT_LIMIT])
    dashboard = context()
    return read_with_audit(dashboard.ledger, subject, viewer, purpose=purpose, reason=reason,
                           category=dashboard.policy.by_id(VIEW_CATEGORY), start_clock=_start_view_clock)


def _start_view_clock(session: Session, view_id: str, view_subject: str, now: datetime) -> None:
    retention_dues.start_service_clock(session, VIEW_OBJECT, view_id, view_subject,
                                       context().policy.by_id(VIEW_CATEGORY), now)
