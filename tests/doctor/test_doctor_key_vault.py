"""`doctor` with KEY_VAULT_URL: one line per key secret the deployment needs, readable or not,
naming the secret and never showing a value."""
from __future__ import annotations

import pytest

from config.key_vault import secret_name
from config.settings import KEY_SETTINGS
from tests.key_vault_double import KeyVaultDouble, worker_ports

# A vault URL of its own per test: a process reads each secret once and keeps it (config/key_vault.py).
# Ports of this xdist worker (18150-18199), one per test.
VAULT_PORTS = worker_ports(18150, 10)


@pytest.fixture
def vault(environment, monkeypatch, tmp_path):
    """Every key of the set-up moved from the environment into a Key Vault double."""
    secrets = {secret_name(name): environment[name] for name in KEY_SETTINGS if name in environment}
    with KeyVaultDouble(tmp_path, next(VAULT_PORTS), secrets) as double:
        for name in KEY_SETTINGS:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("KEY_VAULT_URL", double.url)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(double.certificate))
        yield double


def test_every_needed_secret_is_reported_readable_and_the_checklist_passes(vault, doctor):
    checklist = doctor()
    assert checklist.code == 0, checklist.failed()
    lines = {line["check"]: line for line in checklist.checks if line["check"].startswith("key vault secret ")}
    assert set(lines) == {f"key vault secret {secret_name(name)}" for name in KEY_SETTINGS}
    assert lines["key vault secret ledger-master-key"]["found"] == "readable (LEDGER_MASTER_KEY)"
    assert lines["key vault secret ledger-previous-master-keys"]["status"] == "ok"
    for value in vault.secrets.values():
        assert value not in checklist.output


def test_a_missing_secret_fails_naming_it(vault, doctor):
    del vault.secrets["checkpoint-signing-key"]
    checklist = doctor()
    assert checklist.code != 0
    [failed] = [line for line in checklist.failed() if line["check"].startswith("key vault")]
    assert failed["check"] == "key vault secret checkpoint-signing-key"
    assert "CHECKPOINT_SIGNING_KEY" in failed["found"] and "az keyvault secret set" in failed["fix"]
