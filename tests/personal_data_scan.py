"""Finding a tenant's personal values in text (log lines, mostly): the values Graph holds, and a
normalised scan, so an address logged in capitals or a number logged without its spaces is found.

    values = personal_values(control.state())      # names, emails, phones, streets, notes
    found = personal_values_in(text, values)       # the values the text carries (empty: none)
    scanner = Scanner(values)                      # the same, built once for many texts

tests/jobs/test_logs_carry_no_personal_data.py scans one pipeline's output with it, and the soak
(tests/soak/checks.py) every line of every process it ran.
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import phonenumbers

# Shorter values (a first name such as "Ada", a two-digit note) would be found in ids and words
# that are no one's data; every seeded name, address and number is longer.
SHORTEST = 5
# A phone's own digits are at least this long: fewer would match parts of ids and timestamps.
SHORTEST_PHONE_DIGITS = 7
# A written phone number: digits, maybe a leading +, with spaces, dots, dashes or brackets between.
_PHONE_LIKE = re.compile(r"\+?\d[\d\s().-]*\d")
_WORD = re.compile(r"\w+")


def personal_values(state: dict[str, Any]) -> set[str]:
    """Every name, email address, phone number (as written and in E.164), street and note the tenant holds."""
    values: set[str] = set()
    for business in state["businesses"]:
        for customer in business["customers"]:
            values |= {customer["displayName"], customer["emailAddress"]}
            values |= {phone["number"] for phone in customer["phones"]}
            values |= {address["street"] for address in customer["addresses"]}
        for appointment in (business["appointments"] or []) + business.get("cancelledAppointments", []):
            values |= {appointment.get(name) or "" for name in ("customerName", "customerEmailAddress", "customerPhone",
                                                                  "customerNotes")}
            for customer in appointment.get("customers", []):
                values |= {customer["name"], customer["emailAddress"], customer["phone"]}
    values |= {_e164(value) for value in values if value and value.startswith("+")}
    return {value for value in values if value and len(value) >= SHORTEST}


def personal_values_in(text: str, values: Iterable[str]) -> list[str]:
    """The values `text` carries, sorted (see Scanner)."""
    return Scanner(values).found_in(text)


class Scanner:
    """Finds given values in texts: any value case-insensitively, and phone numbers also by their
    digits alone, however the text writes them ("+1 (312) 555-0100" found as "13125550100").

    Built once for many texts (a soak's every log file): a value is looked for only in a text
    holding its words, and a phone only among the text's runs of digits, so the cost is the text's
    length and its distinct words, not its length times the number of values."""

    def __init__(self, values: Iterable[str]) -> None:
        self._by_word: dict[str, list[tuple[str, tuple[str, ...], str]]] = defaultdict(list)
        self._phones: dict[str, str] = {}
        for value in values:
            folded = value.casefold()
            words = _WORD.findall(folded)
            if words:   # the first word may end a word of the text, the last begin one; the others stand alone
                self._by_word[words[0]].append((folded, tuple(words[1:-1]), value))
            if _is_phone(value):
                self._phones[_digits(value)] = value
        self._lengths = sorted({len(digits) for digits in self._phones})

    def found_in(self, text: str) -> list[str]:
        folded = text.casefold()
        # A value's first word may begin inside a word of the text ("xada" holds "ada"): every
        # suffix of the text's words is looked up, so a value is found wherever it starts (a
        # one-word value followed by more letters, "Gracefield" for "Grace", is not a match).
        words = set(_WORD.findall(folded))
        found = {value for word in words for start in range(len(word))
                 for value_folded, inner, value in self._by_word.get(word[start:], ())
                 if all(w in words for w in inner) and value_folded in folded}
        for run in {_digits(match) for match in _PHONE_LIKE.findall(text)} if self._phones else ():
            found |= {self._phones[run[i:i + n]] for n in self._lengths for i in range(len(run) - n + 1)
                      if run[i:i + n] in self._phones}
        return sorted(found)


def _is_phone(value: str) -> bool:
    return bool(re.fullmatch(r"\+?[\d\s().-]+", value)) and len(_digits(value)) >= SHORTEST_PHONE_DIGITS


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _e164(number: str) -> str:
    return phonenumbers.format_number(phonenumbers.parse(number), phonenumbers.PhoneNumberFormat.E164)
