"""`bookings-ledger subject find | show | erase` on each backend, through the real command."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import text

from ledger.transactions import Ledger

ADA = {"email": "Ada@Bücher.example", "phone": "+44 20 7946 0018 ext. 12", "name": "Ada Lovelace"}


@pytest.fixture
def ada(ledger: Ledger) -> str:
    """A subject collected with an IDN email and a phone extension."""
    with ledger.transaction() as tx:
        subject = tx.new_subject()
        tx.collect(subject, ADA, categories=dict.fromkeys(ADA, "contact"), purpose="appointment", refs={"appointment": "AAMk-1"})
    return subject


def _entries(ledger: Ledger) -> list[dict]:
    with ledger.engine.connect() as connection:
        return [json.loads(body) for body in connection.execute(text("SELECT body FROM ledger_entries ORDER BY seq")).scalars()]


@pytest.mark.parametrize("option", [
    ["--email", "ADA@xn--bcher-kva.example."],
    ["--email", "ａｄａ@bücher.example"],
    ["--phone", "020 7946 0018 x12"],
])
def test_find_prints_the_subject_ref_and_nothing_else(cli, ada, option):
    code, output = cli("subject", "find", *option)
    assert (code, output) == (0, f"{ada}\n")


def test_find_json_lists_refs_and_another_extension_finds_no_one(cli, ada):
    assert cli("subject", "find", "--email", "ada@bücher.example", "--json") == (0, json.dumps({"subjects": [ada]}) + "\n")
    code, output = cli("subject", "find", "--phone", "020 7946 0018", "--json")
    assert (code, json.loads(output)) == (0, {"subjects": []})


@pytest.mark.parametrize(("option", "value"), [("--phone", "+1 555 0100"), ("--email", "ada@exa_mple.com"), ("--email", "no-at-sign")])
def test_an_identifier_without_a_canonical_form_is_exit_2_with_a_line_that_omits_it(cli, ada, option, value):
    code, output = cli("subject", "find", option, value)
    assert code == 2
    assert output.startswith(f"bookings-ledger: {option}: ") and output.count("\n") == 1
    assert value not in output and "exa_mple" not in output


@pytest.mark.parametrize("args", [[], ["--email", "a@b.example", "--phone", "020 7946 0018"]])
def test_find_needs_exactly_one_identifier(cli, args):
    code, output = cli("subject", "find", *args)
    assert code == 2 and "exactly one of --email and --phone" in output


def test_show_decrypts_and_records_who_viewed_and_why(cli, ledger, ada):
    code, output = cli("subject", "show", ada, "--purpose", "access-request", "--actor", "officer-7", "--json")
    assert code == 0
    assert json.loads(output) == {"subject": ada, "viewer": "officer-7", "purpose": "access-request", "values": ADA}
    viewed = _entries(ledger)[-1]
    assert (viewed["kind"], viewed["subject"], viewed["actor"], viewed["purpose"]) == ("viewed", ada, "officer-7", "access-request")


def test_show_names_the_operating_system_user_by_default(cli, ledger, ada, monkeypatch):
    monkeypatch.setattr("getpass.getuser", lambda: "ops-user")
    code, output = cli("subject", "show", ada, "--purpose", "rectification")
    assert code == 0 and "email: Ada@Bücher.example\n" in output
    assert _entries(ledger)[-1]["actor"] == "ops-user"


def test_show_needs_a_purpose(cli, ada):
    code, output = cli("subject", "show", ada)
    assert code == 2 and "--purpose" in output


def test_erase_prints_the_receipt_and_the_subject_is_gone(cli, ledger, ada):
    code, output = cli("subject", "erase", ada, "--reason", "erasure-request", "--json")
    assert code == 0
    receipt = json.loads(output)
    kinds = {entry["seq"]: entry["kind"] for entry in _entries(ledger)}
    assert kinds[receipt["erased_seq"]] == "erased" and kinds[receipt["key_destroyed_seq"]] == "key-destroyed"
    assert cli("subject", "find", "--email", ADA["email"]) == (0, "no subject found\n")
    code, output = cli("subject", "show", ada, "--purpose", "audit")
    assert code == 1 and "erased" in output
    code, output = cli("subject", "erase", ada, "--reason", "again")
    assert code == 1 and "already erased" in output


def test_erase_prints_every_field_of_the_receipt_as_lines(cli, ledger, ada):
    code, output = cli("subject", "erase", ada, "--reason", "erasure-request")
    assert code == 0
    lines = dict(line.split(": ", 1) for line in output.splitlines())
    assert lines["subject"] == ada and int(lines["erased_seq"]) + 1 == int(lines["key_destroyed_seq"])


@pytest.mark.parametrize("args", [["show", "0" * 32, "--purpose", "audit"], ["erase", "0" * 32, "--reason", "test"]])
def test_an_unknown_reference_is_exit_2(cli, db, args):
    code, output = cli("subject", *args)
    assert code == 2 and f"no subject {'0' * 32}" in output


def test_a_subject_on_legal_hold_is_not_erased_and_the_message_names_the_hold(cli, ledger, ada):
    code, hold_id = cli("hold", "place", "--subject", ada, "--reason", "Case 14: Ada Lovelace v. Babbage")
    assert code == 0
    code, output = cli("subject", "erase", ada, "--reason", "erasure-request")
    assert code == 1 and f"on legal hold ({hold_id.strip()})" in output
    assert "Ada" not in output and "Case 14" not in output
    assert cli("subject", "find", "--email", ADA["email"]) == (0, f"{ada}\n")


def test_child_flags_once_alerts_the_officer_and_keeps_the_reason_out_of_the_chain(cli, ledger, ada):
    code, output = cli("subject", "child", ada, "--reason", "Her mother says Ada is 12", "--by", "officer-7", "--json")
    assert code == 0
    flagged = json.loads(output.splitlines()[0])   # the document; the id-only warning follows on stderr
    assert flagged["subject"] == ada and flagged["alert"] and flagged["held_by"] == []
    entry = _entries(ledger)[-1]
    assert (entry["seq"], entry["kind"], entry["by_officer"]) == (flagged["flagged_seq"], "child-flagged", True)
    recorded = json.dumps({k: v for k, v in entry.items() if k != "time"})
    # Neither the reason nor the age in it, as text or as a number (ids are hex and may hold "12").
    assert "mother" not in recorded and not re.search(r"(?<![0-9a-f])12(?![0-9a-f])", recorded)
    assert "officer-7" not in json.dumps(entry)
    code, output = cli("subject", "child", ada, "--reason", "again", "--json")
    again = json.loads(output.splitlines()[0])
    assert code == 0 and again["flagged_seq"] is None and again["alert"] is None


@pytest.mark.parametrize(("erased", "code", "message"), [(False, 2, "no subject"), (True, 1, "already erased")])
def test_child_of_an_unknown_or_erased_subject_is_refused(cli, ledger, ada, erased, code, message):
    ref = ada if erased else "0" * 32
    if erased:
        ledger.erase_subject(ada, reason="erasure-request")
    result, output = cli("subject", "child", ref, "--reason", "r")
    assert result == code and message in output
