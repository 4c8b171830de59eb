"""The one normalisation of emails and phone numbers: every lookup, ledger- or Graph-side, uses it.

One person's identifier, however it was typed or pasted, must give one canonical form, and two
people's identifiers must never share one. Both functions raise IdentifierError when a value has
no canonical form; its message never repeats the value (it reaches logs and CLI output).

Email, in this order:
1. format characters (Unicode category Cf: zero-width space and joiners, soft hyphen, BOM...)
   removed: invisible, so pasted text carries them without anyone knowing;
2. NFKC, so full-width and other compatibility forms become their plain letters;
3. surrounding white space removed; the address is split at its last `@`;
4. local part case-folded (`ß` and `SS` both become `ss`; the local part keeps its dots and
   `+tags`: folding those is a provider's rule, not a standard);
5. domain: one trailing dot (the DNS root) dropped, then IDNA-encoded with UTS 46 processing
   (non-transitional), whose mapping step lower-cases it. A U-label (`bücher.example`) and its
   A-label (`xn--bcher-kva.example`) give the same form. The domain is deliberately not
   case-folded with Python's `casefold`: that would turn `straße.de` into `strasse.de`, another
   domain in DNS, and no longer equal to its own A-label `xn--strae-oqa.de`.

Phone: the same steps 1-3, then parsed by `phonenumbers` (national numbers read in the default
region), required to be a valid number (`is_valid_number`, not merely possibly one), and
written E.164 with its extension kept as `;ext=N` (RFC 3966), so two people on one switchboard
keep two identities.
"""
from __future__ import annotations

import unicodedata

import idna
import phonenumbers


class IdentifierError(ValueError):
    """An email or phone number with no canonical form (the message omits the value)."""


def normalise_email(value: str) -> str:
    """The canonical form of an email address (see the module docstring)."""
    local, at, domain = _cleaned(value).rpartition("@")
    if not at or not local or not domain:
        raise IdentifierError("not an email address")
    local = unicodedata.normalize("NFKC", local.casefold())
    return f"{local}@{_domain(domain)}"


def normalise_phone(value: str, default_region: str) -> str:
    """The E.164 form of a valid phone number, `;ext=N` kept; national numbers read in `default_region`."""
    try:
        number = phonenumbers.parse(_cleaned(value), default_region)
    except phonenumbers.NumberParseException:
        raise IdentifierError("not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise IdentifierError("not a valid phone number")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return f"{e164};ext={number.extension}" if number.extension else e164


def _cleaned(value: str) -> str:
    visible = "".join(ch for ch in value if unicodedata.category(ch) != "Cf")
    return unicodedata.normalize("NFKC", visible).strip()


def _domain(domain: str) -> str:
    if domain.endswith("."):
        domain = domain[:-1]
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        # idna's messages quote the offending label: never pass them on.
        raise IdentifierError("not a valid email domain") from None
