"""The mail templates: the shipped ones load and render; a broken edit stops the start with one
line naming the file and what is wrong, and the sandbox keeps a template away from Python's insides."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from config.mail_templates import PLACEHOLDERS, load_templates, placeholders
from config.settings import DEFAULT_MAIL_TEMPLATES, SettingsError


@pytest.fixture
def templates_dir(tmp_path: Path) -> Path:
    """A copy of the shipped templates to edit."""
    return Path(shutil.copytree(DEFAULT_MAIL_TEMPLATES, tmp_path / "mail-templates"))


def test_every_shipped_template_loads_and_renders_one_subject_line():
    templates = load_templates(DEFAULT_MAIL_TEMPLATES)
    refusal = templates.render("refusal", {**dict.fromkeys(placeholders("refusal"), ""), "regime": "gdpr",
                                           "reason": "excessive", "request_id": "req_1"})
    assert "\n" not in refusal.subject and "req_1" in refusal.subject
    assert "excessive" in refusal.text and "supervisory authority" in refusal.text


@pytest.mark.parametrize(("edit", "complaint"), [
    ("{% if regime == 'nowhere' %}{{ secret_field }}{% endif %}", "unknown placeholders secret_field"),
    ("{{ code ", "unexpected end of template"),
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "unsafe"),
    ("{{ request_id | nosuchfilter }}", "nosuchfilter"),
])
def test_a_broken_edit_stops_the_start_naming_the_file(templates_dir, edit, complaint):
    """A placeholder that does not exist (even in a branch the sample does not take), a syntax error,
    an attempt to reach Python's internals, an unknown filter: each a SettingsError naming the file."""
    path = templates_dir / "verification.txt"
    path.write_text(path.read_text(encoding="utf-8") + edit + "\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="verification.txt") as raised:
        load_templates(templates_dir)
    assert complaint in str(raised.value)


def test_a_missing_template_or_subject_line_stops_the_start(templates_dir):
    (templates_dir / "digest.txt").unlink()
    with pytest.raises(SettingsError, match="cannot read .*digest.txt"):
        load_templates(templates_dir)
    shutil.copy(DEFAULT_MAIL_TEMPLATES / "digest.txt", templates_dir / "digest.txt")
    (templates_dir / "refusal.txt").write_text("Dear {{ request_id }}\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="refusal.txt must start with a `Subject: …` line"):
        load_templates(templates_dir)


def test_rendering_refuses_a_context_that_does_not_match_the_placeholders():
    templates = load_templates(DEFAULT_MAIL_TEMPLATES)
    context = {name: "x" for name in placeholders("material-change")}
    with pytest.raises(ValueError, match="extra"):
        templates.render("material-change", {**context, "extra": "y"})
    assert set(PLACEHOLDERS) == {"acknowledgement", "verification", "extension", "completion", "refusal",
                                 "material-change", "digest"}
