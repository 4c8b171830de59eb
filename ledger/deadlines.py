"""The legal deadlines of a data-subject request, from its moment of receipt.

    calendars = Calendars.from_settings(settings)
    due = deadlines_for("gdpr", "access", received_at, calendars)   # -> Deadlines (UTC instants)

GDPR Art. 12(3): one month from receipt, extendable by two further months. "One month" is
counted as Regulation 1182/71 Art. 3 says (privacy-facts.md 4.2): the day of receipt is not
counted; the period ends at the end of the day of the next month that has the same date (the
month's last day when it has none: 31 January -> 28/29 February); a last day on a Saturday,
Sunday or public holiday of the configured country moves to the end of the next working day.
The extension is counted the same way, three months from receipt (the ICO's reading, the same
dates). CCPA (11 CCR §7021, §7026): 45 calendar days from the day of receipt whatever the
verification took, extendable once by 45; receipt confirmed within 10 business days; an
opt-out of sale or sharing answered within 15 business days.

Dates are those of the controller's time zone (REQUEST_TIME_ZONE): a request received at 23:30
in Dublin on 31 January was received on the 31st there, whatever UTC says. Each deadline is
returned as the UTC instant at which that local day ends.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

import holidays
from dateutil.relativedelta import relativedelta

REGIMES = ("gdpr", "ccpa")
CCPA_PERIOD = timedelta(days=45)
CCPA_CONFIRM_BUSINESS_DAYS = 10
CCPA_OPT_OUT_BUSINESS_DAYS = 15
OPT_OUT = "opt-out"


@dataclass(frozen=True)
class Calendar:
    """Working days of one jurisdiction: Monday to Friday, less its public holidays."""

    country: str
    subdivision: str | None = None

    @classmethod
    def parse(cls, spec: str) -> Calendar:
        """A calendar from "IE" or "US-CA" (country, then an optional subdivision)."""
        country, _, subdivision = spec.partition("-")
        return cls(country.upper(), subdivision.upper() or None)

    @cached_property
    def _holidays(self) -> holidays.HolidayBase:
        # Years are filled in lazily by the library as dates are looked up.
        return holidays.country_holidays(self.country, subdiv=self.subdivision)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._holidays

    def on_or_after(self, day: date) -> date:
        """The day itself when it is a working day, else the next working day."""
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def add_business_days(self, day: date, count: int) -> date:
        """The `count`th working day after `day` (the day itself not counted)."""
        while count > 0:
            day += timedelta(days=1)
            count -= self.is_working_day(day)
        return day


@dataclass(frozen=True)
class Calendars:
    """The controller's time zone and each regime's working days."""

    zone: ZoneInfo
    gdpr: Calendar
    ccpa: Calendar

    @classmethod
    def from_settings(cls, settings: Any) -> Calendars:
        return cls(ZoneInfo(settings.REQUEST_TIME_ZONE), Calendar.parse(settings.REQUEST_HOLIDAYS_GDPR),
                   Calendar.parse(settings.REQUEST_HOLIDAYS_CCPA))

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def end_of(self, day: date) -> datetime:
        """The UTC instant at which `day` ends in the controller's zone."""
        next_midnight = datetime.combine(day + timedelta(days=1), time(), self.zone)
        return next_midnight.astimezone(ZoneInfo("UTC"))


@dataclass(frozen=True)
class Deadlines:
    """A request's deadlines as UTC instants (each the end of a local day)."""

    respond_by: datetime              # the first period's end
    extended_respond_by: datetime     # what the deadline becomes once extended
    confirm_receipt_by: datetime | None  # CCPA only


def deadlines_for(regime: str, request_type: str, received_at: datetime, calendars: Calendars) -> Deadlines:
    """The deadlines of a request of `request_type` received at `received_at` under `regime`."""
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    received = calendars.local_date(received_at)
    if regime == "gdpr":
        first = gdpr_period_end(received, 1, calendars.gdpr)
        return Deadlines(calendars.end_of(first), calendars.end_of(gdpr_period_end(received, 3, calendars.gdpr)), None)
    if regime == "ccpa":
        confirm = calendars.end_of(calendars.ccpa.add_business_days(received, CCPA_CONFIRM_BUSINESS_DAYS))
        if request_type == OPT_OUT:
            # §7026: 15 business days and no extension; nothing to confirm, the opt-out is the answer.
            due = calendars.end_of(calendars.ccpa.add_business_days(received, CCPA_OPT_OUT_BUSINESS_DAYS))
            return Deadlines(due, due, None)
        return Deadlines(calendars.end_of(received + CCPA_PERIOD), calendars.end_of(received + 2 * CCPA_PERIOD), confirm)
    raise ValueError(f"unknown regime {regime!r}; expected one of {', '.join(REGIMES)}")


def gdpr_period_end(received: date, months: int, calendar: Calendar) -> date:
    """Reg. 1182/71 Art. 3(2)(c) and 3(4): the same date `months` later (or that month's last day),
    moved to the next working day when it is a weekend day or public holiday."""
    # relativedelta clamps to the month's last day: 31 January + 1 month is 28 or 29 February.
    return calendar.on_or_after(received + relativedelta(months=months))
