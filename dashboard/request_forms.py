"""The request pages' forms read into what ledger/requests.py takes, and what is wrong with them.

    problems = Problems("intake", typed)        # what was typed, kept to show the form again
    intake = intake_from(form, problems, now=now, zone=zone)     # None when problems.errors

The ledger decides what a request's state allows (RequestError); these only check that a form
is complete and its choices are among those offered. Nothing here is logged: the typed values
(an email address, a note) go back into the officer's own page and nowhere else.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from werkzeug.datastructures import MultiDict

from ledger.deadlines import REGIMES
from ledger.requests import CHANNELS, REQUEST_TYPES, Intake
from state.request_runs import CHOICES     # a future appointment of an erasure: cancelled with a message, or kept

# What the officer types in: a call, a letter, a mail forwarded by hand, or in person. The portal,
# the API and the CLI record their own channels.
OFFICER_CHANNELS = tuple(channel for channel in CHANNELS if channel in ("telephone", "letter", "email", "dashboard"))
# The customer fields a rectification may correct in Bookings and the ledger (jobs/requests applies them).
CORRECTABLE = ("name", "email", "phone")
# What an officer can check a requester's answers against in what the service holds (privacy-facts
# 4.6: CCPA counts matched points; the names go in the ledger, never the answers).
DATA_POINTS = ("email", "phone", "name", "appointment", "address")
TEXT_LIMIT = 4000


@dataclass
class Problems:
    """What was wrong with one form (`form` names it), by field, and what was typed, to show it again."""

    form: str = ""
    typed: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def of(self, form: str) -> Problems:
        """These problems when they are `form`'s, else none (the page shows several forms)."""
        return self if self.form == form else Problems(form)


def typed_of(form: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str]:
    return {name: form.get(name, "").strip() for name in names}


def corrections_of(typed: Mapping[str, str]) -> dict[str, str]:
    """The corrected values typed (field -> new value), the blank ones left out."""
    return {name: typed[f"correction.{name}"] for name in CORRECTABLE if typed.get(f"correction.{name}")}


def intake_from(form: Mapping[str, str], problems: Problems, *, now: datetime, zone: ZoneInfo) -> Intake | None:
    """The officer's intake form as an Intake; None (and `problems.errors`) when it is incomplete."""
    typed = problems.typed
    typed.update(typed_of(form, ("request_type", "channel", "regime", "email", "phone", "received", "text",
                                 *(f"correction.{name}" for name in CORRECTABLE))))
    _choice(problems, "request_type", REQUEST_TYPES, "Choose the kind of request.")
    _choice(problems, "channel", OFFICER_CHANNELS, "Choose how the request came in.")
    _choice(problems, "regime", REGIMES, "Choose the law the request is answered under.")
    if not typed["email"] and not typed["phone"]:
        problems.errors["email"] = "Give an email address or a telephone number to answer the requester by."
    corrections = corrections_of(typed)
    if typed["request_type"] == "rectification" and not corrections:
        problems.errors["correction.name"] = "A rectification says what to correct: give at least one new value."
    if len(typed["text"]) > TEXT_LIMIT:
        problems.errors["text"] = f"Keep the note under {TEXT_LIMIT} characters."
    received = _received(problems, now, zone)
    if problems.errors:
        return None
    return Intake(typed["request_type"], typed["channel"], email=typed["email"] or None, phone=typed["phone"] or None,
                  regime=typed["regime"], received_at=received, text=typed["text"] or None, corrections=corrections)


def _received(problems: Problems, now: datetime, zone: ZoneInfo) -> datetime | None:
    """When a call or letter came in (the controller's local time), None for now; never in the future."""
    typed = problems.typed["received"]
    if not typed:
        return None
    try:
        received = datetime.fromisoformat(typed).replace(tzinfo=zone)
    except ValueError:
        problems.errors["received"] = "Give the date and time it came in, or leave it empty for now."
        return None
    if received > now:
        problems.errors["received"] = "A request cannot have come in after now."
    return received


def verification_from(form: MultiDict[str, str], problems: Problems) -> tuple[list[str], bool] | None:
    """The data points the officer matched and whether a signed declaration came with them."""
    points = [point for point in form.getlist("data_points") if point in DATA_POINTS]
    problems.typed.update({f"point.{point}": "on" for point in points})
    declaration = form.get("declaration") == "yes"
    if declaration:
        problems.typed["declaration"] = "yes"
    if not points:
        problems.errors["data_points"] = "Tick each data point the requester's answers matched; at least one."
        return None
    return points, declaration


def decision_from(form: Mapping[str, str], problems: Problems, reasons: tuple[str, ...]) -> tuple[str, str | None] | None:
    """An extension's or a refusal's reason code and the officer's note (kept encrypted)."""
    problems.typed.update(typed_of(form, ("reason", "note")))
    _choice(problems, "reason", reasons, "Choose the reason.")
    if len(problems.typed["note"]) > TEXT_LIMIT:
        problems.errors["note"] = f"Keep the note under {TEXT_LIMIT} characters."
    return None if problems.errors else (problems.typed["reason"], problems.typed["note"] or None)


def choices_from(form: Mapping[str, str], problems: Problems, appointment_ids: list[str]) -> dict[str, str] | None:
    """Cancel or keep, for each future appointment an erasure would touch; every one needs a choice."""
    choices = {appointment_id: form.get(f"choice.{appointment_id}", "") for appointment_id in appointment_ids}
    problems.typed.update({f"choice.{appointment_id}": choice for appointment_id, choice in choices.items()})
    if any(choice not in CHOICES for choice in choices.values()):
        problems.errors["choices"] = "Choose, for every future appointment, to cancel it with a message or to keep it."
        return None
    return choices


def _choice(problems: Problems, name: str, choices: tuple[str, ...], message: str) -> None:
    if problems.typed.get(name) not in choices:
        problems.errors[name] = message
