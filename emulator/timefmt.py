"""Parsing and formatting of Graph's date, time and duration values."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import bad_request

# Graph accepts Windows zone names as well as IANA ones; these are the ones Bookings commonly
# shows. Anything else must be an IANA name.
_WINDOWS_TO_IANA = {
    "UTC": "UTC",
    "Pacific Standard Time": "America/Los_Angeles",
    "Mountain Standard Time": "America/Denver",
    "Central Standard Time": "America/Chicago",
    "Eastern Standard Time": "America/New_York",
    "GMT Standard Time": "Europe/London",
    "W. Europe Standard Time": "Europe/Berlin",
    "Romance Standard Time": "Europe/Paris",
    "Tokyo Standard Time": "Asia/Tokyo",
    "India Standard Time": "Asia/Kolkata",
    "AUS Eastern Standard Time": "Australia/Sydney",
}
_WINDOWS_ZONES = {windows.lower(): iana for windows, iana in _WINDOWS_TO_IANA.items()}
# For mailboxes that answer Windows names (Options.mailbox_time_zone_windows_names).
_IANA_TO_WINDOWS = {iana.lower(): windows for windows, iana in _WINDOWS_TO_IANA.items()}
_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def zone(name: str) -> ZoneInfo:
    """Resolve a Windows or IANA time-zone name."""
    try:
        return ZoneInfo(_WINDOWS_ZONES.get(name.lower(), name))
    except (ZoneInfoNotFoundError, ValueError):
        raise bad_request(f"The time zone '{name}' is not valid.") from None


def windows_name(name: str) -> str:
    """The Windows name of a zone given by IANA name (a Windows or unknown name is returned as it is)."""
    return _IANA_TO_WINDOWS.get(name.lower(), name)


def parse_offset_datetime(text: str | None, name: str, *, naive_is_utc: bool = False) -> datetime:
    """Parse an ISO 8601 instant that must carry an offset (Bookings calendarView's start/end),
    or that is read as UTC without one (``naive_is_utc``, Outlook's calendarView)."""
    if not text:
        raise bad_request(f"The parameter '{name}' is required.", "ErrorInvalidParameter")
    try:
        value = datetime.fromisoformat(text.replace(" ", "+"))  # '+' arrives as ' ' when not encoded
    except ValueError:
        raise bad_request(f"The value '{text}' of parameter '{name}' is not a valid DateTimeOffset.", "ErrorInvalidParameter") from None
    if value.tzinfo is None and naive_is_utc:
        value = value.replace(tzinfo=timezone.utc)
    if value.tzinfo is None:
        raise bad_request(f"The value '{text}' of parameter '{name}' has no time-zone offset.", "ErrorInvalidParameter")
    return value.astimezone(timezone.utc)


def parse_date_time_time_zone(value: object, name: str) -> datetime:
    """Parse a dateTimeTimeZone object; an offset inside dateTime wins over timeZone."""
    if not isinstance(value, dict) or not value.get("dateTime"):
        raise bad_request(f"The property '{name}' must be a dateTimeTimeZone with a dateTime.")
    try:
        parsed = datetime.fromisoformat(str(value["dateTime"]))
    except ValueError:
        raise bad_request(f"Cannot convert the literal '{value['dateTime']}' of '{name}' to a DateTime.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone(value.get("timeZone") or "UTC"))
    return parsed.astimezone(timezone.utc)


def parse_instant(text: object, name: str) -> datetime:
    """Parse a DateTimeOffset property (no offset means UTC, as Graph assumes)."""
    try:
        parsed = datetime.fromisoformat(str(text))
    except ValueError:
        raise bad_request(f"Cannot convert the literal '{text}' of '{name}' to a DateTimeOffset.") from None
    return parsed.replace(tzinfo=parsed.tzinfo or timezone.utc).astimezone(timezone.utc)


def graph_utc(moment: datetime) -> str:
    """Format as Graph prints UTC instants in Bookings: seven fractional digits and 'Z'."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def iso_utc(moment: datetime) -> str:
    """Format a DateTimeOffset property (createdDateTime, expirationDateTime)."""
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def date_time_time_zone(moment: datetime, *, suffix: str = "Z") -> dict:
    """A dateTimeTimeZone in UTC (Bookings adds 'Z'; Outlook events print it without)."""
    return {"dateTime": graph_utc(moment)[:-1] + suffix, "timeZone": "UTC"}


def parse_duration(text: str | None) -> timedelta:
    """Parse the ISO 8601 durations Bookings uses (PT30M, P1D)."""
    match = _DURATION.match(text or "")
    if not match:
        raise bad_request(f"'{text}' is not a valid ISO 8601 duration.")
    days, hours, minutes, seconds = (float(part or 0) for part in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def format_duration(span: timedelta) -> str:
    """Format a timedelta the way Graph prints durations (PT1H30M, P1D)."""
    total = int(span.total_seconds())
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    time_part = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
    return "P" + (f"{days}D" if days else "") + (f"T{time_part}" if time_part else ("" if days else "T0S"))
