"""Every setting with its value for the admin page, secrets reduced to "set" or "not set".

A setting is secret when its type is SecretStr or its name says so (*_KEY, *_KEYS, *_SECRET,
PASSWORD): nothing of the value is shown, not even a prefix. A URL's password is masked too
(DATABASE_URL may carry one).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, SecretStr

SECRET_NAME = re.compile(r"(_KEYS?|_SECRET)$|PASSWORD")
SET, NOT_SET = "set", "not set"
MASK = "***"


@dataclass(frozen=True)
class SettingLine:
    name: str
    value: str
    secret: bool


def setting_lines(settings: BaseModel) -> list[SettingLine]:
    """One line per setting, in name order."""
    lines = []
    for name in sorted(type(settings).model_fields):
        value = getattr(settings, name)
        if isinstance(value, SecretStr) or SECRET_NAME.search(name):
            lines.append(SettingLine(name, NOT_SET if value in (None, "") else SET, secret=True))
        else:
            lines.append(SettingLine(name, _shown(value), secret=False))
    return lines


def _shown(value: Any) -> str:
    if value is None:
        return NOT_SET
    text = str(value)
    return _without_password(text) if "://" in text else text


def _without_password(url: str) -> str:
    """The URL with its password (if any) replaced by ***; user, host and path kept."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:   # not a URL after all (e.g. a malformed port): show nothing of it
        return MASK
    if "password" in parts.query.lower():   # libpq also takes ?password=…
        parts = parts._replace(query=MASK)
    if password is not None:
        user, host = parts.username or "", parts.netloc.rsplit("@", 1)[1]
        parts = parts._replace(netloc=f"{user}:{MASK}@{host}")
    return urlunsplit(parts)
