"""Property: however one person's email or phone number is typed, `find_subjects` finds that
person and no one else; a number that is not valid finds no one and is refused.

Each example collects a subject under one random spelling of a generated identity and looks it
up under another. The identities are generated in a canonical alphabet (lower case, no `ß`,
precomposed letters), so two different generated identities are two different people: the
lookup must return exactly the subjects collected for the looked-up identity, on each backend.
"""
from __future__ import annotations

import idna
import phonenumbers
import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from ledger.identifiers import IdentifierError, normalise_email, normalise_phone
from ledger.transactions import Ledger

# Every example writes to a real database, so no shrinking: a failure reports the first
# falsifying example as drawn, which still names the spelling that missed.
PROPERTY_SETTINGS = settings(
    max_examples=30, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
REGION = "GB"  # the ledger fixture's phone region: national numbers are read as British
FORMAT_CHARACTERS = "\u200b\u200c\u200d\u2060\ufeff\u00ad"  # zero-width space/joiners, word joiner, BOM, soft hyphen
LOCAL_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789.+-_é"
DOMAIN_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789üéöñåø"
EXTENSIONS = ("", "1", "12", "204", "0204")
SHARP_S = ("ß", "SS", "ẞ", "Ss")  # all case-fold to "ss"
EXAMPLE_NUMBERS = [
    phonenumbers.example_number_for_type(region, kind)
    for region in ("GB", "US", "DE", "FR", "JP", "BR")
    for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE)
]


def _full_width(ch: str) -> str:
    return chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch


@st.composite
def spelled(draw: st.DrawFn, text: str) -> str:
    """`text` with random case, full-width forms and format characters, as pasted text carries.

    Each change is one bit mask over the characters: a few draws per string, not per character,
    keep generation cheap on a loaded machine."""
    def mask() -> int:
        return draw(st.integers(0, 2 ** len(text) - 1))

    upper, wide, hidden = mask(), mask(), mask()
    invisible = draw(st.sampled_from(FORMAT_CHARACTERS))
    out = []
    for i, ch in enumerate(text):
        ch = ch.upper() if upper >> i & 1 else ch
        ch = "".join(_full_width(c) for c in ch) if wide >> i & 1 else ch
        out.append(invisible + ch if hidden >> i & 1 else ch)
    return "".join(out)


@st.composite
def email_identities(draw: st.DrawFn) -> tuple[str, tuple[str, ...]]:
    """(local part, domain labels): one person's address in the canonical alphabet."""
    part = st.text(st.sampled_from(LOCAL_ALPHABET), max_size=6)
    local = draw(part) + draw(st.sampled_from(["", "ss"])) + draw(part)  # "ss" often, for its `ß` spellings
    assume(local)
    labels = draw(st.lists(st.text(st.sampled_from(DOMAIN_ALPHABET), min_size=1, max_size=10), min_size=1, max_size=2))
    tld = draw(st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz"), min_size=2, max_size=6))
    return local, (*labels, tld)


@st.composite
def email_spellings(draw: st.DrawFn, identity: tuple[str, tuple[str, ...]]) -> str:
    """One way a person might type the address: U- or A-labels, `ß` for `ss`, case, full width,
    zero-width characters, the DNS root's trailing dot, surrounding white space."""
    local, labels = identity
    while "ss" in local and draw(st.booleans()):
        local = local.replace("ss", draw(st.sampled_from(SHARP_S)), 1)
    domain = ".".join(idna.encode(label).decode() if draw(st.booleans()) else label for label in labels)
    trailing = draw(st.sampled_from(["", "."]))
    space = draw(st.sampled_from(["", " ", "\t"]))
    return f"{space}{draw(spelled(local))}{draw(spelled('@'))}{draw(spelled(domain))}{trailing}{space}"


@st.composite
def phone_identities(draw: st.DrawFn) -> tuple[phonenumbers.PhoneNumber, str]:
    """(a valid number, its extension or ""): one line of one person."""
    example = draw(st.sampled_from(EXAMPLE_NUMBERS))
    national = str(example.national_number)
    national = national[:-2] + draw(st.text(st.sampled_from("0123456789"), min_size=2, max_size=2))
    number = phonenumbers.PhoneNumber(country_code=example.country_code, national_number=int(national))
    assume(phonenumbers.is_valid_number(number))
    return number, draw(st.sampled_from(EXTENSIONS))


@st.composite
def phone_spellings(draw: st.DrawFn, identity: tuple[phonenumbers.PhoneNumber, str]) -> str:
    """One way to write the line: E.164, international, national (British numbers), RFC 3966,
    the extension as `ext.`, `x` or `;ext=`, with full-width digits and zero-width characters."""
    number, extension = identity
    formats = [phonenumbers.PhoneNumberFormat.E164, phonenumbers.PhoneNumberFormat.INTERNATIONAL]
    if phonenumbers.region_code_for_number(number) == REGION:
        formats.append(phonenumbers.PhoneNumberFormat.NATIONAL)
    written = phonenumbers.format_number(number, draw(st.sampled_from(formats)))
    if extension:
        written += draw(st.sampled_from([" ext. ", " x", ";ext=", " extension "])) + extension
    return draw(spelled(written))


@pytest.fixture
def collected(ledger: Ledger) -> dict[object, set[str]]:
    """Identity -> the subjects collected under some spelling of it (shared by one test's examples)."""
    return {}


def _collect(ledger: Ledger, **identifier: str) -> str:
    with ledger.transaction() as tx:
        subject = tx.new_subject()
        tx.collect(subject, identifier, categories=dict.fromkeys(identifier, "contact"), purpose="appointment")
    return subject


def _find(ledger: Ledger, **identifier: str) -> set[str]:
    with ledger.transaction() as tx:
        return set(tx.find_subjects(**identifier))


@PROPERTY_SETTINGS
@given(data=st.data(), identity=email_identities())
def test_every_spelling_of_an_email_finds_that_person_and_no_one_else(data, identity, ledger, collected):
    stored, looked_up = data.draw(email_spellings(identity)), data.draw(email_spellings(identity))
    collected.setdefault(identity, set()).add(_collect(ledger, email=stored))
    assert _find(ledger, email=looked_up) == collected[identity]


@PROPERTY_SETTINGS
@given(data=st.data(), identity=phone_identities())
def test_every_spelling_of_a_line_finds_that_person_and_other_extensions_do_not(data, identity, ledger, collected):
    """The line and a neighbour on the same switchboard (another extension, or none) are stored;
    each is found under any spelling of its own line only."""
    number, extension = identity
    neighbour = (number, data.draw(st.sampled_from([e for e in EXTENSIONS if e != extension])))
    for line in (identity, neighbour):
        key = (number.country_code, number.national_number, line[1])
        collected.setdefault(key, set()).add(_collect(ledger, phone=data.draw(phone_spellings(line))))
    for line in (identity, neighbour):
        key = (number.country_code, number.national_number, line[1])
        assert _find(ledger, phone=data.draw(phone_spellings(line))) == collected[key]


@PROPERTY_SETTINGS
@given(digits=st.text(st.sampled_from("0123456789"), min_size=1, max_size=15), plus=st.booleans())
def test_an_invalid_number_is_refused_never_matched(digits, plus, ledger):
    written = ("+" if plus else "") + digits
    try:
        number = phonenumbers.parse(written, REGION)
    except phonenumbers.NumberParseException:
        number = None
    assume(number is None or not phonenumbers.is_valid_number(number))
    with pytest.raises(IdentifierError) as refused, ledger.transaction() as tx:
        tx.find_subjects(phone=written)
    assert digits not in str(refused.value)


@pytest.mark.parametrize(("typed", "canonical"), [
    ("Jörg@Bücher.example", "jörg@xn--bcher-kva.example"),
    ("jörg@XN--BCHER-KVA.example.", "jörg@xn--bcher-kva.example"),
    ("STRASSE@example.com", "strasse@example.com"),
    ("Straße@example.com", "strasse@example.com"),
    ("ａｎｎ＠ｅｘａｍｐｌｅ．ｃｏｍ", "ann@example.com"),
    ("a\u200bnn@exa\u00admple.com", "ann@example.com"),
    ("Ann.Lee+Bookings@Example.com", "ann.lee+bookings@example.com"),  # dots and +tags are the provider's business
    ("ann@straße.de", "ann@xn--strae-oqa.de"),  # a domain of its own in DNS, not strasse.de
])
def test_known_spellings_have_the_documented_canonical_form(typed, canonical):
    assert normalise_email(typed) == canonical


@pytest.mark.parametrize(("typed", "canonical"), [
    ("020 7946 0018", "+442079460018"),
    ("+44 20 7946 0018 ext. 12", "+442079460018;ext=12"),
    ("tel:+44-20-7946-0018;ext=12", "+442079460018;ext=12"),
])
def test_known_numbers_have_the_documented_canonical_form(typed, canonical):
    assert normalise_phone(typed, REGION) == canonical


@pytest.mark.parametrize("value", ["ann@exa_mple.com", "ann@", "@example.com", "ann@a..b", "ann@xn--zz.com"])
def test_an_email_without_a_canonical_form_is_refused_without_repeating_it(value):
    with pytest.raises(IdentifierError) as refused:
        normalise_email(value)
    assert value not in str(refused.value) and "exa_mple" not in str(refused.value)
