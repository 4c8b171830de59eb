"""Probes of the Graph permissions the service needs, made by calling Graph (`bookings-ledger doctor`).

A token's `roles` claim lists only the permissions consented in Entra ID; one granted through
Exchange RBAC for Applications is missing from it, and an out-of-scope mailbox is invisible in it
(privacy-facts §1.10–1.12). So each permission is proved by one call that only it (or a higher
permission) allows and that changes nothing:

    Bookings.Read.All                  GET  bookingBusinesses (the list)
    BookingsAppointment.ReadWrite.All  PATCH an appointment id that cannot exist (403 missing, 404 or 400 granted)
    Calendars.Read                     GET  a mailbox's events ($top=1)
    Calendars.ReadWrite                PATCH an event id that cannot exist (403 missing, 404 or 400 granted)
    MailboxSettings.Read               GET  mailboxSettings/timeZone
    User.Read.All                      GET  the mailbox's user
    Mail.ReadWrite (privacy mailbox)   GET  Inbox messages ($top=1, with bodies: Mail.ReadBasic hides them),
                                       then PATCH a message id that cannot exist (403 missing, 404 or 400
                                       granted: drafts of the answers need it, and nothing is created)
    Mail.Send (privacy mailbox)        POST sendMail of a message with no recipients (403 missing,
                                            400 ErrorInvalidRecipients granted: nothing can be sent)

The write probes rely on Graph checking the permission before it looks the object up, as the
Outlook and Bookings APIs do for every request here. UNCONFIRMED: that sendMail checks Mail.Send
before it validates the recipients; a 400 is read as granted, so a wrong order would hide a
missing Mail.Send, never invent one.
"""
from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote

from .credentials import GRAPH_SCOPE, credential_from_settings, resolve_kind
from .errors import GraphError, InvalidRequest, NotFound, PermissionMissing
from .facade import GraphConnector
from .retry import RetryPolicy

if TYPE_CHECKING:
    from config.settings import Settings

    from .session import GraphSession

# No id Graph hands out looks like this: a write on it can only be refused (403) or not found (404).
NO_SUCH_ID = "AAMkAGJvb2tpbmdzLWxlZGdlci1kb2N0b3ItcHJvYmU="
# The doctor waits seconds, not the minutes a job may.
PROBE_POLICY = RetryPolicy(max_attempts=3, max_total=20.0, backoff_base=0.5, backoff_max=5.0)
_AADSTS = re.compile(r"AADSTS\d+")

Target = Literal["tenant", "business", "privacy"]
Verdict = Literal["granted", "missing", "outside_scope", "failed"]


class TokenProblem(Exception):
    """The credential could not get a token; the message says why without any secret."""


@dataclass(frozen=True)
class TokenFound:
    """A token was issued; `roles` is its roles claim (None when it is not a readable JWT, as the emulator's)."""

    kind: str
    roles: tuple[str, ...] | None


@dataclass(frozen=True)
class PermissionProbe:
    """One permission, what the service does with it, and the harmless call that proves it."""

    permission: str
    why: str
    target: Target
    call: Callable[[GraphSession, str], None]
    route: str  # what is called, for the checklist
    # True for an error that only comes after the permission check passed (404 of an id that cannot exist).
    granted_when: Callable[[GraphError], bool] = lambda error: False


@dataclass(frozen=True)
class ProbeOutcome:
    """What one probe found on one mailbox (or the tenant); `detail` never holds Graph's free text."""

    permission: str
    where: str
    verdict: Verdict
    detail: str = ""


def _user(mailbox: str, *tail: str) -> str:
    return "/".join(("/users", quote(mailbox, safe="@"), *tail))


def _list_businesses(session: GraphSession, _tenant: str) -> None:
    session.get("/solutions/bookingBusinesses", mailbox=None)


def _write_appointment(session: GraphSession, business: str) -> None:
    path = f"/solutions/bookingBusinesses/{quote(business, safe='@')}/appointments/{NO_SUCH_ID}"
    session.send("PATCH", path, mailbox=business, body={})


def _read_events(session: GraphSession, mailbox: str) -> None:
    session.get(_user(mailbox, "events"), mailbox=mailbox, params={"$top": "1", "$select": "id"})


def _write_event(session: GraphSession, mailbox: str) -> None:
    session.send("PATCH", _user(mailbox, "events", NO_SUCH_ID), mailbox=mailbox, body={})


def _read_time_zone(session: GraphSession, mailbox: str) -> None:
    session.get(_user(mailbox, "mailboxSettings", "timeZone"), mailbox=mailbox)


def _read_user(session: GraphSession, mailbox: str) -> None:
    session.get(_user(mailbox), mailbox=mailbox, params={"$select": "id"})


class BodiesHidden(PermissionMissing):
    """Messages came back without bodies: only Mail.ReadBasic is granted, and a request's text is its body."""


def _read_inbox(session: GraphSession, mailbox: str) -> None:
    page = session.get(_user(mailbox, "mailFolders", "inbox", "messages"), mailbox=mailbox,
                       params={"$top": "1", "$select": "id,body"})
    if any("body" not in message for message in page.get("value", ())):
        raise BodiesHidden("messages listed without their bodies (only Mail.ReadBasic)", status=200)


def _read_and_draft(session: GraphSession, mailbox: str) -> None:
    _read_inbox(session, mailbox)
    session.send("PATCH", _user(mailbox, "messages", NO_SUCH_ID), mailbox=mailbox, body={})


def _send_nothing(session: GraphSession, mailbox: str) -> None:
    message = {"subject": "bookings-ledger doctor: permission probe (no recipients, never delivered)",
               "body": {"contentType": "Text", "content": ""}}
    session.send("POST", _user(mailbox, "sendMail"), mailbox=mailbox,
                 body={"message": message, "saveToSentItems": False})


def _past_the_permission_check(error: GraphError) -> bool:
    """A 404 (the id does not exist), or a 400 (Outlook may call the id malformed, ErrorInvalidIdMalformed;
    sendMail answers ErrorInvalidRecipients): Graph only looks at the object or the body once the
    permission allowed the call."""
    return isinstance(error, (NotFound, InvalidRequest))


PERMISSION_PROBES: tuple[PermissionProbe, ...] = (
    PermissionProbe("Bookings.Read.All", "list the booking businesses and read their setup", "tenant",
                    _list_businesses, "GET /solutions/bookingBusinesses"),
    PermissionProbe("BookingsAppointment.ReadWrite.All", "read appointments and customers, anonymise and delete them",
                    "business", _write_appointment, "PATCH an appointment that cannot exist", _past_the_permission_check),
    PermissionProbe("Calendars.Read", "subscribe to and read the scheduling mailbox's calendar", "business",
                    _read_events, "GET /users/{mailbox}/events"),
    PermissionProbe("Calendars.ReadWrite", "anonymise or delete the appointments' calendar copies", "business",
                    _write_event, "PATCH an event that cannot exist", _past_the_permission_check),
    PermissionProbe("MailboxSettings.Read", "read the business's time zone", "business",
                    _read_time_zone, "GET /users/{mailbox}/mailboxSettings/timeZone"),
    PermissionProbe("User.Read.All", "resolve the scheduling mailbox's user id (notifications name it)", "business",
                    _read_user, "GET /users/{mailbox}"),
    PermissionProbe("Mail.ReadWrite", "read the requests that arrive in the privacy mailbox and draft the answers",
                    "privacy", _read_and_draft,
                    "GET /users/{privacy}/mailFolders/inbox/messages, PATCH a message that cannot exist",
                    _past_the_permission_check),
    PermissionProbe("Mail.Send", "answer from the privacy mailbox", "privacy",
                    _send_nothing, "POST /users/{privacy}/sendMail without recipients",
                    _past_the_permission_check),
)


def probing_connector(settings: Settings) -> GraphConnector:
    """A connector as the service builds one (GRAPH_CREDENTIAL), with a short retry budget.

    SettingsError when a credential setting is missing; TokenProblem when the credential cannot
    be built (an unreadable certificate file)."""
    try:
        credential = credential_from_settings(settings)
    except (OSError, ValueError) as exc:
        raise TokenProblem(f"the {resolve_kind(settings)} credential cannot be built ({type(exc).__name__})") from None
    return GraphConnector(base_url=settings.GRAPH_BASE_URL, credential=credential, policy=PROBE_POLICY, timeout=20.0)


def fetch_token(graph: GraphConnector, kind: str) -> TokenFound:
    """Ask the connector's credential for a Graph token, as the service's first call does."""
    import logging

    from azure.core.exceptions import AzureError

    # azure-identity logs each failed attempt with its own wording; the checklist says it once.
    logging.getLogger("azure.identity").setLevel(logging.CRITICAL)
    try:
        token = graph.credential.get_token(GRAPH_SCOPE)
    except AzureError as exc:
        codes = ", ".join(dict.fromkeys(_AADSTS.findall(str(exc)))) or type(exc).__name__
        raise TokenProblem(f"the {kind} credential could not get a token ({codes})") from None
    return TokenFound(kind=kind, roles=_roles(token.token))


def _roles(token: str) -> tuple[str, ...] | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    return tuple(claims.get("roles") or ()) if isinstance(claims, dict) else None


def run_probe(graph: GraphConnector, probe: PermissionProbe, where: str) -> ProbeOutcome:
    """Make one probe's call on `where` (a mailbox, or "tenant") and say what it proved."""
    try:
        probe.call(graph.session, where)
    except GraphError as error:
        if probe.granted_when(error):
            return ProbeOutcome(probe.permission, where, "granted")
        if isinstance(error, PermissionMissing):
            verdict: Verdict = "outside_scope" if error.outside_scope else "missing"
            detail = "only Mail.ReadBasic: bodies hidden" if isinstance(error, BodiesHidden) else _described(error)
            return ProbeOutcome(probe.permission, where, verdict, detail)
        return ProbeOutcome(probe.permission, where, "failed", _described(error))
    return ProbeOutcome(probe.permission, where, "granted")


def _described(error: GraphError) -> str:
    return " ".join(part for part in (f"HTTP {error.status}" if error.status else type(error).__name__, error.code) if part)
