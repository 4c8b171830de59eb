"""A stand-in for connector.mail.Mail's drafts, for the sender's state-machine tests: it keeps
drafts and sent messages in memory and can die (raise) just before or right after Graph would
have acted, the windows a killed process leaves. The HTTP tests against the emulator are test_request_mail.py's."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from connector.errors import NotFound, OutcomeUnknown


class Died(BaseException):
    """The process died here (a BaseException, so no `except Exception` in the sender catches it)."""


@dataclass
class Message:
    id: str
    to: str
    subject: str
    text: str
    marker: str


@dataclass
class MailDouble:
    """Drafts and sent mail of one mailbox; `die_after` names a call that raises Died once it acted,
    `unknown_after` one that raises OutcomeUnknown once it acted (a timeout after Graph acted)."""

    drafts: dict[str, Message] = field(default_factory=dict)
    sent: list[Message] = field(default_factory=list)
    die_after: str | None = None
    die_before: str | None = None
    unknown_after: str | None = None
    calls: list[str] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=itertools.count)

    def create_draft(self, user: str, to: str, subject: str, text: str, *, marker: str) -> str:
        draft = Message(f"draft-{next(self._ids)}", to, subject, text, marker)
        self.drafts[draft.id] = draft
        return self._after("create_draft", draft.id)

    def find_draft(self, user: str, marker: str) -> str | None:
        self.calls.append("find_draft")
        return next((d.id for d in self.drafts.values() if d.marker == marker), None)

    def send_draft(self, user: str, draft_id: str) -> None:
        if self.die_before == "send_draft":
            self.die_before = None
            raise Died("before send_draft")
        if draft_id not in self.drafts:
            raise NotFound("HTTP 404 ErrorItemNotFound", method="POST", route="/users/{id}/messages/{id}/send", status=404)
        self.sent.append(self.drafts.pop(draft_id))
        self._after("send_draft", None)

    def _after(self, call: str, value: str | None) -> str | None:
        self.calls.append(call)
        if self.die_after == call:
            self.die_after = None
            raise Died(call)
        if self.unknown_after == call:
            self.unknown_after = None
            raise OutcomeUnknown("timed out", method="POST", route="/users/{id}/messages")
        return value
