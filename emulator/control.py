"""The control API under ``/_emulator/`` (JSON): seed, traffic, faults, clock, counters, state, reset."""

from __future__ import annotations

from flask import Blueprint, Response, request

from . import entities
from .mailbox_settings import apply_settings
from .messages import render
from .responses import emulator, graph_json, no_content
from .seed import seed as seed_data
from .seed import set_mailbox_zone
from .seed_mail import seed_privacy_mail
from .timefmt import iso_utc, parse_instant, zone
from .transport import deliver

bp = Blueprint("control", __name__, url_prefix="/_emulator")


def _body() -> dict:
    return request.get_json(silent=True) or {}


@bp.post("/reset")
def reset() -> Response:
    """Empty everything: data, subscriptions, faults, counters, clock offset."""
    emulator().reset()
    return no_content()


@bp.post("/seed")
def seed() -> Response:
    """Seed businesses: {seed, businesses, appointmentsPerBusiness, customersPerBusiness, daysBack, daysAhead, timeZones,
    privacyMailbox?, privacyRequests? (request mails from seeded customers delivered to that mailbox, 5 by default)}."""
    body = _body()
    core = emulator()
    ids = seed_data(core.store, seed=int(body.get("seed", core.seed or 0)), businesses=int(body.get("businesses", 1)),
                    appointments=int(body.get("appointmentsPerBusiness", 50)), customers=int(body.get("customersPerBusiness", 20)),
                    days_back=int(body.get("daysBack", 90)), days_ahead=int(body.get("daysAhead", 30)),
                    time_zones=body.get("timeZones"))
    answer: dict = {"businesses": ids}
    if body.get("privacyMailbox"):
        answer["privacyMessages"] = seed_privacy_mail(core, str(body["privacyMailbox"]), seed=int(body.get("seed", core.seed or 0)),
                                                      requests=int(body.get("privacyRequests", 5)))
    return graph_json(answer, 201)


@bp.post("/businesses")
def business_create() -> Response:
    """An empty business in a time zone: {email, displayName?, timeZone? (Windows or IANA), other bookingBusiness properties}."""
    body = _body()
    time_zone = body.pop("timeZone", None)
    if time_zone is not None:
        zone(str(time_zone))  # a bad zone is a 400 before anything is created
    core = emulator()
    with core.store.lock:
        business = core.store.add_business(body)
        if time_zone is not None:
            set_mailbox_zone(business, str(time_zone))
        return graph_json({"business": business.data, "mailboxUserId": business.mailbox_user_id,
                           "mailboxSettings": business.mailbox_settings}, 201)


@bp.get("/traffic")
def traffic_status() -> Response:
    """The current traffic run."""
    return graph_json(emulator().traffic.status())


@bp.post("/traffic")
def traffic_start() -> Response:
    """Start traffic: {rate (ops/s), count?, duration? (s), seed?}."""
    body = _body()
    status = emulator().traffic.start(rate=float(body.get("rate", 1.0)), count=body.get("count"),
                                      duration=body.get("duration"), seed=int(body.get("seed", 0)))
    return graph_json(status, 202)


@bp.post("/traffic/stop")
def traffic_stop() -> Response:
    """Stop traffic."""
    return graph_json(emulator().traffic.stop())


@bp.get("/faults")
def faults_get() -> Response:
    """The active fault rules."""
    return graph_json(emulator().faults.describe())


@bp.post("/faults")
def faults_set() -> Response:
    """Replace the fault rules (see faults.RequestFault)."""
    core = emulator()
    core.faults.configure(_body())
    return graph_json(core.faults.describe())


@bp.delete("/faults")
def faults_clear() -> Response:
    """No faults."""
    emulator().faults.clear()
    return no_content()


@bp.get("/clock")
def clock_get() -> Response:
    """The emulated now."""
    return graph_json({"now": iso_utc(emulator().clock.now())})


@bp.post("/clock")
def clock_set() -> Response:
    """Warp time: {advanceSeconds} or {advanceMinutes} or {set: ISO instant}; expiries apply at once."""
    body = _body()
    core = emulator()
    if "set" in body:
        core.clock.set(parse_instant(body["set"], "set"))
    else:
        core.clock.advance(float(body.get("advanceSeconds", 0)) + 60 * float(body.get("advanceMinutes", 0)))
    core.subscriptions.expire()
    return graph_json({"now": iso_utc(core.clock.now())})


@bp.get("/requests")
def requests_get() -> Response:
    """Request counts keyed "METHOD route status"."""
    return graph_json(emulator().requests.snapshot())


@bp.delete("/requests")
def requests_reset() -> Response:
    """Zero the request counters, empty the header and per-object logs, forget mailbox peaks."""
    core = emulator()
    core.requests.reset()
    core.request_log.reset(core.options.request_log_size)
    core.object_log.reset(core.options.object_log_size)
    core.limits.reset()
    return no_content()


@bp.get("/requests/log")
def requests_log() -> Response:
    """The last requests: method, path, status, Authorization present, Prefer, Content-Type, client-request-id."""
    return graph_json(emulator().request_log.listed())


@bp.get("/requests/mailboxes")
def requests_mailboxes() -> Response:
    """Per mailbox: inFlight, peakInFlight, inWindow (Outlook's limits, §3)."""
    return graph_json(emulator().limits.report())


@bp.get("/mail")
@bp.get("/outbox")
def mail_sent() -> Response:
    """Mail sent with sendMail, sent drafts and Bookings' mail; ``?kind=`` and ``?recipient=`` filter it."""
    return graph_json(emulator().outbox.listed(kind=request.args.get("kind"), recipient=request.args.get("recipient")))


@bp.post("/delta/expire")
def delta_expire() -> Response:
    """Expire every delta and skip token issued so far (their next use answers 410 Gone)."""
    emulator().mailboxes.expire_delta_tokens()
    return no_content()


@bp.post("/mailboxes/<user>/settings")
def mailbox_settings_set(user: str) -> Response:
    """Set a mailbox's settings, e.g. {timeZone: "Tokyo Standard Time" or "Asia/Tokyo"}; answers all of them."""
    core = emulator()
    with core.store.lock:
        business = core.mailboxes.business_for_user(user)
        apply_settings(business, _body())
        return graph_json(dict(business.mailbox_settings))


@bp.post("/mailboxes/<user>/messages")
def mailbox_message_deliver(user: str) -> Response:
    """Deliver a message from the internet to a mailbox's Inbox, notifying its subscriptions:
    {text | html, from?, subject?, to?: [addresses], headers?: {name: value} or [{name, value}]};
    answers it as Graph shows it with Mail.Read and its headers selected."""
    body = _body()
    given = body.get("headers") or []
    headers = [{"name": str(k), "value": str(v)} for k, v in given.items()] if isinstance(given, dict) else \
        [{"name": str(h["name"]), "value": str(h.get("value", ""))} for h in given]
    content = {"contentType": "html", "content": str(body["html"])} if "html" in body else \
        {"contentType": "text", "content": str(body.get("text", ""))}
    core = emulator()
    stored = deliver(core, core.mail.address(core.mailboxes.mailbox_key(user)), sender=str(body.get("from", "someone@example.org")),
                     subject=str(body.get("subject", "")), body=content, to=body.get("to"), headers=headers)
    # The immutable id too: a client reading with Prefer IdType="ImmutableId", as ours does, is told only that one.
    return graph_json(render(stored, with_bodies=True, select=[], body_type=None)
                      | {"internetMessageHeaders": stored.headers, "immutableId": stored.immutable_id}, 201)


@bp.get("/options")
def options_get() -> Response:
    """All options."""
    return graph_json(emulator().options.as_dict())


@bp.post("/options")
def options_set() -> Response:
    """Change options (partial mapping)."""
    core = emulator()
    core.options.update(_body())
    return graph_json(core.options.as_dict())


@bp.post("/lifecycle")
def lifecycle() -> Response:
    """Send a lifecycle event: {subscriptionId, lifecycleEvent}."""
    body = _body()
    core = emulator()
    core.subscriptions.lifecycle(core.subscriptions.get(str(body.get("subscriptionId"))), str(body.get("lifecycleEvent")))
    return no_content()


@bp.get("/notifications")
def notifications() -> Response:
    """Delivery log, pending jobs and per-endpoint response-time counters."""
    return graph_json(emulator().dispatcher.report())


@bp.get("/subscriptions/history")
def subscriptions_history() -> Response:
    """Every subscription's create, renewals and end (created, renewed, deleted, removed, expired), oldest first."""
    return graph_json(emulator().subscriptions.history_listed())


@bp.get("/state")
def state() -> Response:
    """Everything Graph knows: businesses with their entities and appointments (as GET-by-id returns them),
    cancellations and subscriptions. ``?appointments=false`` leaves appointments out."""
    core = emulator()
    with_appointments = request.args.get("appointments", "true").lower() != "false"
    with core.store.lock:
        businesses = [{
            "business": business.data, "mailboxUserId": business.mailbox_user_id,
            "mailboxSettings": business.mailbox_settings,
            **{kind: list(c.items.values()) for kind, c in business.collections.items()},
            "appointments": [entities.render_appointment(business.appointment(k[1]), single=True, empty_customers=False, aliases=False)
                             for k in business.by_start.scan()] if with_appointments else None,
            "appointmentCount": len(business.appointments),
            "cancelledAppointments": list(business.cancelled),
        } for business in core.store.businesses.values()]
    return graph_json({"now": iso_utc(core.clock.now()), "tenantId": core.tenant_id, "businesses": businesses,
                       "subscriptions": [s.render() for s in core.subscriptions.listed()]})
