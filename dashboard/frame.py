"""The frame every page shares: the templates, the stylesheet, and what each template may use."""
from __future__ import annotations

from typing import Any

from flask import Blueprint

from dashboard.context import context
from dashboard.roles import ADMIN, AUDITOR, PRIVACY_OFFICER

bp = Blueprint("frame", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/dashboard")


@bp.app_context_processor
def frame_values() -> dict[str, Any]:
    """The signed-in user, the roles and the sign-in mode, for the layout."""
    from dashboard.sessions import current_user

    return {"current_user": current_user(), "local_sign_in": context().settings.AUTH_MODE == "local",
            "PRIVACY_OFFICER": PRIVACY_OFFICER, "AUDITOR": AUDITOR, "ADMIN": ADMIN}
