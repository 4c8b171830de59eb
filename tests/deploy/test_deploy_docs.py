"""docs/deploy.md quotes the commands deploy/'s units run, word for word, so the page cannot drift from
what tests/deploy/test_units.py starts."""
from __future__ import annotations

from pathlib import Path

import pytest

from systemd_units import parse_environment_file, parse_unit

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PAGE = (ROOT / "docs" / "deploy.md").read_text()
UNITS = sorted(DEPLOY.glob("*.service"))


@pytest.mark.parametrize("unit", UNITS, ids=lambda path: path.name)
def test_the_page_quotes_each_units_execstart_line(unit: Path) -> None:
    """Every ExecStart= of every unit appears verbatim on the page, next to the unit's name."""
    assert unit.name in PAGE
    for line in parse_unit(unit).values("Service", "ExecStart"):
        assert f"`ExecStart={line}`" in PAGE, f"docs/deploy.md does not quote {unit.name}'s ExecStart={line}"


def test_the_page_names_every_unit_and_the_env_example() -> None:
    """Nothing shipped in deploy/ goes unmentioned."""
    for path in DEPLOY.iterdir():
        assert path.name in PAGE, f"docs/deploy.md does not mention deploy/{path.name}"


@pytest.mark.parametrize("unit", UNITS, ids=lambda path: path.name)
def test_the_page_states_each_units_stop_signal_and_timeout(unit: Path) -> None:
    """The stop column says what the unit does: its KillSignal, and its TimeoutStopSec for a long-running one."""
    parsed = parse_unit(unit)
    if parsed.value("Service", "Type") == "oneshot":
        return
    row = next(line for line in PAGE.splitlines() if line.startswith(f"| `{unit.name}`"))
    signal = parsed.value("Service", "KillSignal", "SIGTERM")
    timeout = parsed.value("Service", "TimeoutStopSec").replace("min", " min").replace("s", " s")
    assert (signal in row or "the same" in row), row
    assert (timeout in row or "the same" in row), row


def test_the_key_files_the_page_lists_are_the_ones_the_units_read() -> None:
    """The per-process key files of the page's table are exactly the optional EnvironmentFiles of the units."""
    read = {entry.removeprefix("-") for unit in UNITS for entry in parse_unit(unit).values("Service", "EnvironmentFile")
            if entry.startswith("-")} - {"/etc/bookings-ledger/db-upgrade.env"}
    listed = {line.split("`")[1] for line in PAGE.splitlines() if line.startswith("| `/etc/bookings-ledger/")}
    assert listed == read
    assert "KEY_VAULT_URL" in parse_environment_file(DEPLOY / "bookings-ledger.env.example")
