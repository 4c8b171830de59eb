"""The processing-record file: the shipped one loads against both shipped policies; a broken one
fails with one SettingsError naming the setting and the field."""
from __future__ import annotations

from pathlib import Path

import pytest

from config.processing_record import load_processing_record
from config.retention import load_policy
from config.settings import DEFAULT_PROCESSING_RECORD, SettingsError

CONFIG = Path(__file__).resolve().parents[2] / "config"
POLICY = load_policy(CONFIG / "retention.toml")
SHIPPED = DEFAULT_PROCESSING_RECORD.read_text(encoding="utf-8")


@pytest.mark.parametrize("policy_file", ["retention.toml", "retention-demo.toml"])
def test_the_shipped_file_loads_and_says_it_holds_examples(policy_file):
    record = load_processing_record(DEFAULT_PROCESSING_RECORD, load_policy(CONFIG / policy_file))
    assert record.contains_examples and "example" in record.controller.name
    assert record.recipients and record.transfers and record.security_measures


def broken(tmp_path: Path, old: str, new: str) -> Path:
    assert old in SHIPPED
    path = tmp_path / "processing-record.toml"
    path.write_text(SHIPPED.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize("old, new, message", [
    ('[controller]\nname = "Contoso Ltd (example: replace)"', '[controller]\nname = "  "', "controller.name: may not be blank"),
    ('contact = "dpo@contoso.com (example: replace)"', 'email = "dpo@contoso.com"', "dpo.contact: Field required"),
    ('role = "processor"', 'role = "friend"', "recipients.0.role: Input should be"),
    ('surfaces = ["bookings", "outside"]', 'surfaces = ["cloud"]', "recipients.0.surfaces.0: Input should be"),
    ('recipient = "Microsoft Ireland', 'recipient = "Someone else', "transfers: 'Someone else"),
    ('categories = ["usage.audit", "cookies.session"]', 'categories = ["usage.audit", "cookies.jar"]',
     "data_subjects.1.categories: cookies.jar is not a category of the retention policy"),
    ('categories = ["usage.audit", "cookies.session"]', 'categories = ["usage.audit"]',
     "data_subjects: no data subjects for the policy's cookies.session"),
    ("\ncontains_examples = true\n", "\ncontains_examples = true\ncontroler = 1\n", "controler: Extra inputs are not permitted"),
    ("[controller]", "[controller", "is not valid TOML"),
])
def test_a_broken_file_gives_one_error_naming_the_field(tmp_path, old, new, message):
    path = broken(tmp_path, old, new)
    with pytest.raises(SettingsError) as refused:
        load_processing_record(path, POLICY)
    assert str(refused.value).startswith("setting PROCESSING_RECORD_FILE: ") and message in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(SettingsError, match="setting PROCESSING_RECORD_FILE: cannot read .*nothing.toml"):
        load_processing_record(tmp_path / "nothing.toml", POLICY)
