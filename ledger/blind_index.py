"""Blind indexes: keyed HMAC-SHA256 of normalised emails and phone numbers.

Normalisation, so one person's identifier always gives one digest:
- email: Unicode NFC, surrounding white space removed, lower-cased (the whole address, local part
  included: mail systems in practice treat it case-insensitively). Nothing else is rewritten
  (no dot or `+tag` folding: those are provider rules, not standards).
- phone: parsed with `phonenumbers`, national numbers in DEFAULT_PHONE_REGION, formatted E.164.

digest = HMAC-SHA256(BLIND_INDEX_KEY, kind || 0x00 || normalised value), so an email and a phone
number with the same text never collide. Errors never repeat the value.
"""
from __future__ import annotations

import hashlib
import hmac
import unicodedata

import phonenumbers

EMAIL = "email"
PHONE = "phone"


class IdentifierError(ValueError):
    """An email or phone number that cannot be normalised (the message omits the value)."""


def normalise_email(value: str) -> str:
    """The canonical form of an email address (see the module docstring)."""
    normalised = unicodedata.normalize("NFC", value).strip().lower()
    local, at, domain = normalised.rpartition("@")
    if not at or not local or not domain:
        raise IdentifierError("not an email address")
    return normalised


def normalise_phone(value: str, default_region: str) -> str:
    """The E.164 form of a phone number; national numbers are read in `default_region`."""
    try:
        number = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException:
        raise IdentifierError("not a phone number") from None
    if not phonenumbers.is_possible_number(number):
        raise IdentifierError("not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def blind_digest(key: bytes, kind: str, normalised: str) -> bytes:
    """The blind index of an already normalised identifier."""
    return hmac.new(key, kind.encode() + b"\x00" + normalised.encode("utf-8"), hashlib.sha256).digest()


def identifier_digests(key: bytes, region: str, *, email: str | None = None, phone: str | None = None) -> list[tuple[str, bytes]]:
    """(kind, digest) for each identifier given."""
    digests = []
    if email is not None:
        digests.append((EMAIL, blind_digest(key, EMAIL, normalise_email(email))))
    if phone is not None:
        digests.append((PHONE, blind_digest(key, PHONE, normalise_phone(phone, region))))
    return digests
