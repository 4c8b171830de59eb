"""The retention policy in force, and the versions of it the ledger recorded."""
from __future__ import annotations

from flask import Blueprint, render_template

from config.retention import CLOCK_WORDS, period_in_words
from dashboard.context import context
from dashboard.processing_activities import ACTIONS, LEGAL_BASES
from dashboard.recorded_versions import recorded_versions
from dashboard.roles import AUDITOR, PRIVACY_OFFICER, allow
from state.retention_policies import was_recorded

bp = Blueprint("retention", __name__)


@bp.get("/retention")
@allow(PRIVACY_OFFICER, AUDITOR)
def retention_page() -> str:
    """Each category of the policy, the children's rule, the anonymisation choices, and the versions."""
    policy = context().policy
    with context().ledger.transaction() as tx:
        versions = recorded_versions(tx.session, "policy-changed")
        in_force_recorded = was_recorded(tx.session, policy.policy_version)
    return render_template("retention/retention.html", policy=policy, versions=list(reversed(versions)),
                           in_force_recorded=in_force_recorded, in_words=period_in_words, clocks=CLOCK_WORDS,
                           legal_bases=LEGAL_BASES, actions=ACTIONS)
