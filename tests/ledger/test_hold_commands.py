"""`bookings-ledger hold place | release | list` through the real command, on each backend:
exit 0 done, 1 the hold is unknown or released, 2 bad usage."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from ledger.transactions import Ledger


@pytest.fixture
def ada(ledger: Ledger) -> str:
    with ledger.transaction() as tx:
        subject = tx.new_subject()
        tx.collect(subject, {"name": "Ada Lovelace"}, categories={"name": "identity"}, purpose="appointment")
    return subject


def _place(cli, *args: str) -> str:
    code, output = cli("hold", "place", *args, "--reason", "Case 14", "--by", "Jane Officer")
    assert code == 0, output
    return output.strip()


def test_place_prints_the_id_and_list_shows_the_active_holds(cli, ada):
    on_subject = _place(cli, "--subject", ada)
    on_business = _place(cli, "--business", "clinic@contoso.com", "--until", "2999-12-31")
    code, output = cli("hold", "list", "--json")
    assert code == 0
    holds = {hold["id"]: hold for hold in json.loads(output)["holds"]}
    assert set(holds) == {on_subject, on_business}
    assert holds[on_subject]["scope"] == "subject" and holds[on_subject]["target"] == ada
    assert holds[on_subject]["reason"] == "Case 14" and holds[on_subject]["placed_by"] == "Jane Officer"
    assert holds[on_business]["ends_at"] == "3000-01-01T00:00:00+00:00" and holds[on_business]["state"] == "active"
    code, output = cli("hold", "list")
    assert code == 0 and len(output.splitlines()) == 2 and "business:clinic@contoso.com" in output


def test_release_takes_a_hold_off_the_list_but_not_off_list_all(cli, ada):
    hold = _place(cli, "--appointment", "AAMk-1")
    code, output = cli("hold", "release", hold, "--reason", "Case closed", "--by", "Jane Officer", "--json")
    assert code == 0 and json.loads(output)["state"] == "released"
    assert cli("hold", "list") == (0, "no holds\n")
    code, output = cli("hold", "list", "--all", "--json")
    (released,) = json.loads(output)["holds"]
    assert (released["id"], released["state"], released["release_reason"]) == (hold, "released", "Case closed")


def test_an_unknown_or_released_hold_is_exit_1(cli, ada):
    hold = _place(cli, "--subject", ada)
    assert cli("hold", "release", hold, "--reason", "done")[0] == 0
    for hold_id in (hold, "0" * 32):
        code, output = cli("hold", "release", hold_id, "--reason", "again")
        assert code == 1 and f"no active hold {hold_id}" in output


@pytest.mark.parametrize(("args", "message"), [
    ([], "exactly one of --subject, --appointment and --business"),
    (["--appointment", "A", "--business", "B"], "exactly one of"),
    (["--subject", "0" * 32], f"no subject {'0' * 32}"),
    (["--business", "B", "--until", "2020-01-01"], "ended already"),
    (["--business", "B", "--until", "next week"], "not an ISO date"),
    (["--business", "B", "--until", "2999-01-01T10:00:00"], "UTC offset"),
])
def test_bad_usage_is_exit_2_and_places_nothing(cli, db, args, message):
    code, output = cli("hold", "place", *args, "--reason", "Case 14")
    assert code == 2 and message in output
    assert cli("hold", "list", "--json") == (0, json.dumps({"holds": []}) + "\n")


def test_a_hold_until_a_day_lasts_through_that_day(cli, db):
    tomorrow = (datetime.now(timezone.utc) + timedelta(days=1)).date()
    _place(cli, "--business", "B", "--until", tomorrow.isoformat())
    code, output = cli("hold", "list", "--json")
    (hold,) = json.loads(output)["holds"]
    assert hold["ends_at"] == f"{tomorrow + timedelta(days=1)}T00:00:00+00:00"
