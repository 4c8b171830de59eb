"""The emulator's outbox as the mail tests read it: every message sent, who to, subject and text."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Sent:
    """One message the emulator's outbox holds."""

    to: str
    subject: str
    text: str


class Outbox:
    """The emulator's outbox (`GET /_emulator/outbox`)."""

    def __init__(self, control: Any) -> None:
        self.control = control

    @property
    def sent(self) -> list[Sent]:
        return [Sent(m["recipients"][0], m["subject"], m["text"]) for m in self.control.call("GET", "/outbox")]
