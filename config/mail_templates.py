"""The editable templates of the mail the service sends (MAIL_TEMPLATES_DIR, one `NAME.txt` each).

A template is plain text: its first line `Subject: …`, a blank line, then the body. Both are
Jinja2 templates rendered in a sandbox (an operator edits them, so they may not reach Python's
internals) with StrictUndefined (a misspelt placeholder is an error, not an empty string).

    templates = load_templates(settings.MAIL_TEMPLATES_DIR)    # SettingsError when any is wrong
    mail = templates.render("acknowledgement", {...})           # RenderedMail(subject, text)

Every template is checked when it is loaded, at start-up: it must exist, parse, name no variable
but its placeholders (PLACEHOLDERS, documented in docs/mail.md; checked on the parsed template,
so a branch the sample does not take is checked too) and render with sample values, so a broken
edit stops the process that would send it instead of failing one mail at a time later.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError, meta
from jinja2.sandbox import SandboxedEnvironment

from config.settings import SettingsError

_COMMON = ("privacy_page", "mailbox")
_REQUEST = (*_COMMON, "request_id", "request_type", "regime")
# Each template's placeholders, with the sample value it is checked against at start-up.
PLACEHOLDERS: dict[str, dict[str, Any]] = {
    "acknowledgement": {"received_on": "2026-01-05", "due_on": "2026-02-05", "needs_verification": True,
                        "confirm_by": "2026-01-19", "duplicate_of": ""},
    "verification": {"code": "123456", "link": "https://example.org/privacy/v/token", "minutes": 15},
    "extension": {"reason": "complexity", "note": "", "first_due_on": "2026-02-05", "due_on": "2026-04-05"},
    "completion": {"outcome": "partial", "export_link": "https://example.org/privacy/export/token", "link_hours": 72,
                   "kept": [{"surface": "appointment", "reason": "legal-hold"}]},
    "refusal": {"reason": "manifestly-unfounded", "note": ""},
    "material-change": {"notice_version": "2026-12-01", "notice_link": "https://example.org/privacy/notices/2026-12-01"},
    "digest": {"day": "2026-01-05", "alert_days": 7,
               "requests": [{"request_id": "req_0", "request_type": "access", "regime": "gdpr", "state": "verified",
                             "due_on": "2026-01-09", "days_left": 4}]},
}
REQUEST_TEMPLATES = frozenset({"acknowledgement", "verification", "extension", "completion", "refusal"})
_SAMPLE_COMMON = {"privacy_page": "https://example.org/privacy", "mailbox": "privacy@example.org",
                  "request_id": "req_0", "request_type": "erasure", "regime": "gdpr"}


def placeholders(name: str) -> tuple[str, ...]:
    """The names a template may use."""
    common = _REQUEST if name in REQUEST_TEMPLATES else _COMMON
    return (*common, *PLACEHOLDERS[name])


@dataclass(frozen=True)
class RenderedMail:
    """A mail ready to draft: its subject line and plain-text body."""

    subject: str
    text: str


@dataclass(frozen=True)
class _Template:
    subject: Any
    body: Any


class MailTemplates:
    """The loaded, checked templates; `render` fills one in."""

    def __init__(self, templates: Mapping[str, _Template]) -> None:
        self._templates = dict(templates)

    def render(self, name: str, context: Mapping[str, Any]) -> RenderedMail:
        """Fill template `name` in; ValueError when the context misses or adds a placeholder."""
        expected = set(placeholders(name))
        if set(context) != expected:
            raise ValueError(f"mail template {name}: placeholders {sorted(expected ^ set(context))} do not match")
        template = self._templates[name]
        subject = " ".join(template.subject.render(context).split())   # one header line, whatever was typed
        return RenderedMail(subject, template.body.render(context).strip() + "\n")


def load_templates(directory: Path) -> MailTemplates:
    """Read and check every template in `directory`; SettingsError naming the file and what is wrong."""
    environment = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    loaded = {name: _load(environment, directory / f"{name}.txt") for name in PLACEHOLDERS}
    templates = MailTemplates(loaded)
    for name in PLACEHOLDERS:
        sample = {key: _SAMPLE_COMMON.get(key, PLACEHOLDERS[name].get(key)) for key in placeholders(name)}
        try:
            templates.render(name, sample)
        except (TemplateError, ValueError) as exc:
            raise SettingsError(f"setting MAIL_TEMPLATES_DIR: {directory / (name + '.txt')}: {exc}") from None
    return templates


def _load(environment: SandboxedEnvironment, path: Path) -> _Template:
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"setting MAIL_TEMPLATES_DIR: cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SettingsError(f"setting MAIL_TEMPLATES_DIR: {path} is not UTF-8 text") from None
    head, _, body = source.partition("\n")
    if not head.lower().startswith("subject:") or not body.startswith("\n"):
        raise SettingsError(f"setting MAIL_TEMPLATES_DIR: {path} must start with a `Subject: …` line and a blank line")
    subject, body = head[len("subject:"):].strip(), body[1:]
    try:
        used = set().union(*(meta.find_undeclared_variables(environment.parse(part)) for part in (subject, body)))
        unknown = sorted(used - set(placeholders(path.stem)))
        if unknown:
            raise SettingsError(f"setting MAIL_TEMPLATES_DIR: {path}: unknown placeholders {', '.join(unknown)}")
        return _Template(environment.from_string(subject), environment.from_string(body))
    except TemplateError as exc:
        raise SettingsError(f"setting MAIL_TEMPLATES_DIR: {path}: {exc}") from None
