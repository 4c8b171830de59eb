"""GET /: the overview every role sees first. Counts, states and times only, never a person, so the
IT admin may see it too; each block says whether it is in order (dashboard/overview_blocks.py)."""
from __future__ import annotations

from flask import Blueprint, render_template

from dashboard.chart_data import expiries, record_changes, request_deadlines
from dashboard.context import context
from dashboard.overview_blocks import ledger_blocks
from dashboard.overview_feeds import feed_blocks
from dashboard.overview_requests import requests_block
from dashboard.roles import ADMIN, AUDITOR, PRIVACY_OFFICER, allow

bp = Blueprint("overview", __name__)


@bp.get("/")
@allow(PRIVACY_OFFICER, AUDITOR, ADMIN)
def overview_page() -> str:
    """The blocks (the requests' deadlines first), then the charts each with its table."""
    now = context().clock()
    blocks = [requests_block(now)] + ledger_blocks(now) + feed_blocks(now)
    charts = [record_changes(), expiries(), request_deadlines()]
    return render_template("overview/overview.html", blocks=blocks, charts=charts,
                           attention=[block for block in blocks if block.attention], now=now)
