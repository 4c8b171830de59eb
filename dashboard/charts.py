"""GET /charts/<name>.svg: the overview's charts, drawn on the server from the same numbers as the
tables beside them (dashboard/chart_data.py).

The SVG leaves with the policy every non-HTML response gets (`default-src 'none'`,
bookings_ledger/listeners.py) and needs no exception to it: it has no script, loads nothing and
carries no CSS (dashboard/chart_drawing.py).
"""
from __future__ import annotations

from flask import Blueprint, Response, abort

from dashboard.chart_data import CHARTS, chart_data
from dashboard.chart_drawing import draw
from dashboard.roles import ADMIN, AUDITOR, PRIVACY_OFFICER, allow

bp = Blueprint("charts", __name__)


@bp.get("/charts/<name>.svg")
@allow(PRIVACY_OFFICER, AUDITOR, ADMIN)   # the overview's roles: the charts hold counts, never a person
def chart(name: str) -> Response:
    """One chart as image/svg+xml; 404 for a name that is not a chart."""
    if name not in CHARTS:
        abort(404)
    return Response(draw(chart_data(name)), mimetype="image/svg+xml")
