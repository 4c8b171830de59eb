"""The `bookings-ledger` command: help is instant, usage and settings errors exit 2."""
import subprocess
import sys

import pytest

from bookings_ledger.cli import COMMANDS, main

HEAVY = ("sqlalchemy", "msgraph", "azure.identity", "kiota_abstractions", "flask", "cryptography", "rich")


def test_help_lists_every_command_without_heavy_imports():
    """--help must answer in well under a second, so it may import none of the heavy libraries."""
    probe = (
        "import sys\n"
        "from bookings_ledger.cli import main\n"
        "code = main(['--help'])\n"
        f"loaded = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print('LOADED', loaded)\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stdout
    for name in COMMANDS:
        assert name in result.stdout


def test_unknown_command_is_a_usage_error(capsys):
    assert main(["no-such-command"]) == 2
    assert "No such command" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_module_exposes_a_command(name):
    assert main([name, "--help"]) == 0
