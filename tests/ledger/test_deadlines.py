"""Request deadlines, worked out by hand from the rules and a calendar, then asked of the code.

GDPR: Regulation 1182/71 Art. 3 (privacy-facts.md 4.2) with Ireland's public holidays; CCPA:
11 CCR §7021 and §7026 with California's. Each expected date below was counted on a calendar,
not computed, and each says why.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.deadlines import Calendar, Calendars, deadlines_for, gdpr_period_end

DUBLIN, LOS_ANGELES = ZoneInfo("Europe/Dublin"), ZoneInfo("America/Los_Angeles")
IRELAND = Calendars(DUBLIN, Calendar("IE"), Calendar("US", "CA"))
CALIFORNIA = Calendars(LOS_ANGELES, Calendar("IE"), Calendar("US", "CA"))


def _noon(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=zone)


def _local_day(instant: datetime, zone: ZoneInfo) -> date:
    """The local day a deadline instant closes (the instant is that day's following midnight)."""
    return (instant.astimezone(zone) - timedelta(microseconds=1)).date()


@pytest.mark.parametrize("received, due, why", [
    (date(2027, 3, 15), date(2027, 4, 15), "the same date next month, a Thursday"),
    (date(2024, 1, 31), date(2024, 2, 29), "no 31 February: the month's last day, in a leap year the 29th"),
    (date(2025, 1, 31), date(2025, 2, 28), "no 31 February: the month's last day, a Friday"),
    (date(2027, 1, 31), date(2027, 3, 1), "28 February 2027 is a Sunday: the next working day"),
    (date(2026, 11, 5), date(2026, 12, 7), "5 December 2026 is a Saturday: Monday"),
    (date(2026, 12, 1), date(2027, 1, 4), "1 January is New Year's Day (a Friday): Monday"),
    (date(2026, 11, 25), date(2026, 12, 28), "Christmas Friday, St Stephen's Saturday, then Sunday: Monday"),
    (date(2027, 2, 28), date(2027, 3, 30), "28 March 2027 is a Sunday, the 29th Easter Monday: Tuesday"),
])
def test_gdpr_one_month(received, due, why):
    deadlines = deadlines_for("gdpr", "access", _noon(received, DUBLIN), IRELAND)
    assert _local_day(deadlines.respond_by, DUBLIN) == due, why
    assert deadlines.confirm_receipt_by is None


def test_gdpr_deadline_ends_at_midnight_in_the_controllers_zone():
    deadlines = deadlines_for("gdpr", "erasure", _noon(date(2027, 3, 15), DUBLIN), IRELAND)
    # 15 April 2027 ends at midnight Irish Summer Time, 23:00 UTC.
    assert deadlines.respond_by == datetime(2027, 4, 15, 23, 0, tzinfo=timezone.utc)


def test_the_day_of_receipt_is_the_controllers_day_not_utcs():
    # 23:30 UTC on 31 July 2026 is 00:30 on 1 August in Dublin: one month is 1 September.
    received = datetime(2026, 7, 31, 23, 30, tzinfo=timezone.utc)
    assert _local_day(deadlines_for("gdpr", "access", received, IRELAND).respond_by, DUBLIN) == date(2026, 9, 1)


@pytest.mark.parametrize("received, extended, why", [
    (date(2027, 3, 15), date(2027, 6, 15), "three months from receipt, a Tuesday"),
    (date(2026, 11, 30), date(2027, 3, 1), "28 February 2027 (no 30th) is a Sunday: Monday 1 March"),
    (date(2023, 11, 29), date(2024, 2, 29), "a leap year keeps the 29th"),
])
def test_gdpr_extension_is_three_months_from_receipt(received, extended, why):
    deadlines = deadlines_for("gdpr", "access", _noon(received, DUBLIN), IRELAND)
    assert _local_day(deadlines.extended_respond_by, DUBLIN) == extended, why


@pytest.mark.parametrize("received, due, extended, why", [
    (date(2027, 3, 1), date(2027, 4, 15), date(2027, 5, 30), "45 calendar days, 90 with the extension"),
    (date(2026, 11, 17), date(2027, 1, 1), date(2027, 2, 15), "a holiday does not move a CCPA day count"),
    (date(2028, 1, 15), date(2028, 2, 29), date(2028, 4, 14), "a leap day is a day like any other"),
])
def test_ccpa_45_days(received, due, extended, why):
    deadlines = deadlines_for("ccpa", "erasure", _noon(received, LOS_ANGELES), CALIFORNIA)
    assert _local_day(deadlines.respond_by, LOS_ANGELES) == due, why
    assert _local_day(deadlines.extended_respond_by, LOS_ANGELES) == extended, why


def test_ccpa_receipt_is_confirmed_within_10_business_days():
    # Monday 16 November 2026: 17-20 (4), 23-25 (7), Thanksgiving 26 and the day after 27 are
    # California holidays, 30 Nov (8), 1 Dec (9), 2 Dec (10).
    deadlines = deadlines_for("ccpa", "access", _noon(date(2026, 11, 16), LOS_ANGELES), CALIFORNIA)
    assert _local_day(deadlines.confirm_receipt_by, LOS_ANGELES) == date(2026, 12, 2)


def test_ccpa_opt_out_within_15_business_days_and_never_extended():
    # Friday 18 December 2026: 21-24 (4), Christmas 25, 28-31 (8), New Year 1 Jan, 4-8 Jan (13), 11, 12 (15).
    deadlines = deadlines_for("ccpa", "opt-out", _noon(date(2026, 12, 18), LOS_ANGELES), CALIFORNIA)
    assert _local_day(deadlines.respond_by, LOS_ANGELES) == date(2027, 1, 12)
    assert deadlines.extended_respond_by == deadlines.respond_by and deadlines.confirm_receipt_by is None


def test_an_unknown_regime_or_a_naive_time_is_refused():
    with pytest.raises(ValueError, match="unknown regime"):
        deadlines_for("lgpd", "access", _noon(date(2027, 3, 1), DUBLIN), IRELAND)
    with pytest.raises(ValueError, match="timezone-aware"):
        deadlines_for("gdpr", "access", datetime(2027, 3, 1, 12), IRELAND)


@settings(max_examples=300, deadline=None)
@given(st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)))
def test_gdpr_one_month_properties(received):
    due = gdpr_period_end(received, 1, IRELAND.gdpr)
    # A working day, in the next month or (moved past a weekend or holiday) a few days after it,
    # never before the same date (or the month's last day) and never more than a week after.
    assert IRELAND.gdpr.is_working_day(due)
    months_later = (due.year * 12 + due.month) - (received.year * 12 + received.month)
    assert months_later in (1, 2)
    nominal = min(received.day, _last_day(received.year + (received.month // 12), received.month % 12 + 1))
    assert date(received.year + received.month // 12, received.month % 12 + 1, nominal) <= due
    assert (due - date(received.year + received.month // 12, received.month % 12 + 1, nominal)).days <= 6


def _last_day(year: int, month: int) -> int:
    return ((date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)).day
