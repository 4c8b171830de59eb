"""``/v1.0/users/{id}/mailboxSettings``: where Graph keeps a scheduling mailbox's time zone.

bookingBusiness has no time zone (graph-facts §1.1); the business's zone is its scheduling
mailbox's ``mailboxSettings.timeZone`` (user-get-mailboxsettings). GET returns every setting, or
one: a primitive one (``timeZone``, ``dateFormat`` …) as ``{"value": …}``, a complex one as its
object. The zone is a Windows name by default, or an IANA name where one was set, and is
returned as it was set, or always as its Windows name with ``mailbox_time_zone_windows_names``. PATCH (MailboxSettings.ReadWrite) changes some settings and answers 200
with them; the control API sets them without a token (``POST /_emulator/mailboxes/{id}/settings``).
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response

from .errors import GraphError, bad_request
from .identity import requires
from .responses import context, emulator, graph_json, json_body
from .store import Business
from .timefmt import windows_name, zone

bp = Blueprint("mailbox_settings", __name__, url_prefix="/v1.0/users/<user>/mailboxSettings")
READ_SETTINGS = ("MailboxSettings.Read", "MailboxSettings.ReadWrite")
WRITE_SETTINGS = ("MailboxSettings.ReadWrite",)
# What PATCH may change; archiveFolder and userPurpose are read-only (user-update-mailboxsettings).
WRITABLE = frozenset({"automaticRepliesSetting", "dateFormat", "delegateMeetingMessageDeliveryOptions", "language",
                      "timeFormat", "timeZone", "workingHours"})


def _fragment(user: str, tail: str = "") -> str:
    return f"users('{quote(user, safe='')}')/mailboxSettings{tail}"


@bp.get("")
@requires(READ_SETTINGS)
def get_settings(user: str) -> Response:
    """Every mailbox setting."""
    core = emulator()
    with core.store.lock:
        settings = _answered(core.mailboxes.business_for_user(user).mailbox_settings, core.options.mailbox_time_zone_windows_names)
    return graph_json({"@odata.context": context(_fragment(user)), **settings})


@bp.get("/<name>")
@requires(READ_SETTINGS)
def get_setting(user: str, name: str) -> Response:
    """One setting: a primitive as ``value``, a complex type as its members."""
    core = emulator()
    with core.store.lock:
        settings = _answered(core.mailboxes.business_for_user(user).mailbox_settings, core.options.mailbox_time_zone_windows_names)
        if name not in settings:
            raise GraphError(400, "BadRequest", f"Resource not found for the segment '{name}'.")
        value = settings[name]
    body = dict(value) if isinstance(value, dict) else {"value": value}
    return graph_json({"@odata.context": context(_fragment(user, f"/{name}")), **body})


@bp.patch("")
@requires(WRITE_SETTINGS)
def update_settings(user: str) -> Response:
    """Change some settings; 200 with the settings changed."""
    body = json_body()
    core = emulator()
    with core.store.lock:
        changed = apply_settings(core.mailboxes.business_for_user(user), body)
    return graph_json({"@odata.context": context(_fragment(user)), **changed})


def _answered(settings: dict, windows_names: bool) -> dict:
    """The settings as GET answers them: zones as set, or as Windows names."""
    if not windows_names:
        return dict(settings)
    answered = {**settings, "timeZone": windows_name(settings["timeZone"])}
    hours = settings.get("workingHours")
    if isinstance(hours, dict) and isinstance(hours.get("timeZone"), dict) and hours["timeZone"].get("name"):
        answered["workingHours"] = {**hours, "timeZone": {**hours["timeZone"], "name": windows_name(hours["timeZone"]["name"])}}
    return answered


def apply_settings(business: Business, body: dict) -> dict:
    """Validate and store settings of a business's mailbox (Graph's 400 for an unknown or bad one)."""
    changes = {k: v for k, v in body.items() if "@odata." not in k}
    for name, value in changes.items():
        if name not in WRITABLE:
            raise bad_request(f"The property '{name}' does not exist on type 'microsoft.graph.mailboxSettings' "
                              "or cannot be changed.")
        if name == "timeZone":
            if not isinstance(value, str) or not value:
                raise bad_request("The time zone must be a Windows or IANA time-zone name.")
            zone(value)   # 400 for a name Graph would not know
    business.mailbox_settings.update(changes)
    return changes
