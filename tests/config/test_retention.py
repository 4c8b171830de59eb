"""The retention policy covers every category of personal data the privacy notice names."""
from datetime import timedelta
from pathlib import Path

import pytest

from config import SettingsError
from config.retention import NOTICE_CATEGORIES, load_policy, parse_duration
from config.settings import DEFAULT_RETENTION_POLICY

NOTICE = Path(__file__).resolve().parents[2] / "config" / "privacy-notice.txt"


@pytest.fixture(scope="module")
def policy():
    return load_policy(DEFAULT_RETENTION_POLICY)


def test_every_notice_category_has_purpose_basis_period_and_clock(policy):
    covered = {c.notice_category for c in policy.category}
    assert covered == set(NOTICE_CATEGORIES)
    for category in policy.category:
        assert category.purpose and category.legal_basis and category.clock
        assert category.period > timedelta(0)


def test_notice_categories_are_the_ones_the_notice_names():
    """The four names are quoted from the notice served, so a new notice cannot drift silently."""
    text = NOTICE.read_text(encoding="utf-8")
    for name in NOTICE_CATEGORIES:
        assert f"{name}:" in text


def test_booking_fields_map_to_their_category(policy):
    assert policy.for_field("customers[].emailAddress").id == "booking.contact"
    assert policy.for_field("customers[].customQuestionAnswers").id == "booking.answers"
    assert policy.for_field("serviceNotes").id == "booking.notes"
    assert policy.for_field("no-such-field") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("P90D", timedelta(days=90)), ("P1Y", timedelta(days=365)), ("P13M", timedelta(days=390)),
     ("PT8H", timedelta(hours=8)), ("P1W2DT30M", timedelta(days=9, minutes=30))],
)
def test_iso_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "P", "PT", "90D", "P1.5Y", "P1DT"])
def test_bad_durations_are_rejected(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_policy_missing_a_notice_category_fails_with_a_clear_message(tmp_path):
    text = DEFAULT_RETENTION_POLICY.read_text(encoding="utf-8")
    broken = tmp_path / "retention.toml"
    broken.write_text(text.replace('"Cookies and similar technologies"', '"Booking information"'))
    with pytest.raises(SettingsError, match="Cookies and similar technologies has no category"):
        load_policy(broken)


def test_policy_with_a_bad_period_names_the_category(tmp_path):
    broken = tmp_path / "retention.toml"
    broken.write_text(DEFAULT_RETENTION_POLICY.read_text(encoding="utf-8").replace('"P90D"', '"90 days"', 1))
    with pytest.raises(SettingsError, match=r"category\.\d+\.retention"):
        load_policy(broken)
