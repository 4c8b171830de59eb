"""Key settings from Key Vault: the challenge first, then the secret; read once; the environment
wins; every failure one SettingsError naming the setting and the secret, never the value.

The reader is connector/key_vault.py, as every process wires it. Key Vault's endpoints are mocked here with `responses` (the SDK's transport is `requests`), each
test on a vault name of its own so no process-wide cache or challenge carries over.
"""
from __future__ import annotations

import base64
import os
import re
import uuid

import pytest
import responses

from config import SettingsError, load_settings
from config.key_vault import secret_name, use_reader
from connector.key_vault import read_secret

CHALLENGE = ('Bearer authorization="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47", '
             'resource="https://vault.azure.net"')


def fresh_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture(autouse=True)
def _connector_reads_the_vault() -> None:
    use_reader(read_secret)  # as bookings_ledger/__init__.py wires every process


@pytest.fixture
def vault() -> str:
    return f"https://kv-{uuid.uuid4().hex[:12]}.vault.azure.net"


@pytest.fixture
def mocked() -> responses.RequestsMock:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def settings_for(vault: str, **environment: str):
    return load_settings({"KEY_VAULT_URL": vault, "GRAPH_CREDENTIAL": "static", **environment})


def secret_url(vault: str, setting: str) -> re.Pattern[str]:
    # The SDK asks for /secrets/{name}/?api-version=… (an empty version), as the real service accepts.
    return re.compile(re.escape(f"{vault}/secrets/{secret_name(setting)}") + r"/?\?api-version=[0-9a-z.-]+$")


def challenge(mocked: responses.RequestsMock, url: re.Pattern[str]) -> None:
    mocked.get(url, status=401, headers={"WWW-Authenticate": CHALLENGE},
               json={"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP token."}})


def secret(mocked: responses.RequestsMock, url: re.Pattern[str], value: str) -> None:
    mocked.get(url, json={"value": value, "id": "https://kv.vault.azure.net/secrets/name/4387e9f3d6e14c459867679a90fd0f79",
                          "attributes": {"enabled": True}})


def test_secret_names_are_the_settings_in_lower_case_with_dashes():
    assert secret_name("LEDGER_MASTER_KEY") == "ledger-master-key"
    assert secret_name("CLIENT_STATE_PREVIOUS_KEYS") == "client-state-previous-keys"
    assert secret_name("SECRET_KEY") == "secret-key"


def test_a_key_is_read_after_the_challenge_with_a_bearer_token_and_only_once(vault, mocked):
    key = fresh_key()
    url = secret_url(vault, "LEDGER_MASTER_KEY")
    challenge(mocked, url)
    secret(mocked, url, key + "\n")   # `az keyvault secret set --file` keeps the file's newline
    settings = settings_for(vault)
    assert settings.key("LEDGER_MASTER_KEY") == base64.b64decode(key)
    assert settings_for(vault).key("LEDGER_MASTER_KEY") == base64.b64decode(key)
    first, second = mocked.calls
    assert "Authorization" not in first.request.headers
    assert second.request.headers["Authorization"] == "Bearer emulator-token"
    assert "api-version=" in second.request.url


def test_the_environment_wins_and_the_vault_is_not_asked(vault, mocked):
    key = fresh_key()
    assert settings_for(vault, BLIND_INDEX_KEY=key).key("BLIND_INDEX_KEY") == base64.b64decode(key)
    assert len(mocked.calls) == 0


def test_previous_keys_come_from_the_vault_and_a_missing_secret_means_none(vault, mocked):
    old = [fresh_key(), fresh_key()]
    present, absent = secret_url(vault, "LEDGER_PREVIOUS_MASTER_KEYS"), secret_url(vault, "CLIENT_STATE_PREVIOUS_KEYS")
    challenge(mocked, present)
    secret(mocked, present, ",".join(old))
    mocked.get(absent, status=404, json={"error": {"code": "SecretNotFound", "message": "not found"}})
    settings = settings_for(vault)
    assert settings.previous_master_keys == [base64.b64decode(k) for k in old]
    assert settings.previous_client_state_keys == []


def test_a_required_key_missing_from_the_vault_names_the_setting_and_the_secret(vault, mocked):
    url = secret_url(vault, "CHECKPOINT_SIGNING_KEY")
    challenge(mocked, url)
    mocked.get(url, status=404, json={"error": {"code": "SecretNotFound", "message": "not found"}})
    with pytest.raises(SettingsError) as caught:
        settings_for(vault).key("CHECKPOINT_SIGNING_KEY")
    message = str(caught.value)
    assert "CHECKPOINT_SIGNING_KEY" in message and "checkpoint-signing-key" in message and vault in message
    assert "\n" not in message


@pytest.mark.parametrize(("status", "said"), [
    (403, "Key Vault Secrets User"),
    (401, "credential was refused"),
    (400, "HTTP 400"),
])
def test_a_refusal_is_one_line_naming_the_setting_and_the_secret(vault, mocked, status, said):
    url = secret_url(vault, "CLIENT_STATE_KEY")
    challenge(mocked, url)
    headers = {"WWW-Authenticate": CHALLENGE} if status == 401 else {}
    mocked.get(url, status=status, headers=headers, json={"error": {"code": "Forbidden", "message": "Caller is not authorized"}})
    with pytest.raises(SettingsError) as caught:
        settings_for(vault).key("CLIENT_STATE_KEY")
    message = str(caught.value)
    assert said in message and "CLIENT_STATE_KEY" in message and "client-state-key" in message
    assert "Caller is not authorized" not in message and "\n" not in message


def test_throttling_is_waited_out_as_retry_after_asks(vault, mocked):
    key = fresh_key()
    url = secret_url(vault, "SECRET_KEY")
    challenge(mocked, url)
    mocked.get(url, status=429, headers={"Retry-After": "1"}, json={"error": {"code": "Throttled", "message": "slow"}})
    secret(mocked, url, key)
    assert settings_for(vault).require("SECRET_KEY").get_secret_value() == key
    assert [call.response.status_code for call in mocked.calls] == [401, 429, 200]


def test_throttling_that_outlasts_the_retries_is_one_line(vault, mocked):
    url = secret_url(vault, "SECRET_KEY")
    challenge(mocked, url)
    mocked.get(url, status=429, headers={"Retry-After": "0"}, json={"error": {"code": "Throttled", "message": "slow"}})
    with pytest.raises(SettingsError, match=r"setting SECRET_KEY: Key Vault secret secret-key .* throttled \(429\)"):
        settings_for(vault).require("SECRET_KEY")


@pytest.mark.parametrize(("setting", "value"), [
    ("LEDGER_MASTER_KEY", "not base64 at all!"),
    ("BLIND_INDEX_KEY", base64.b64encode(b"sixteen bytes!!!").decode()),
    ("CLIENT_STATE_PREVIOUS_KEYS", f"{base64.b64encode(bytes(range(32))).decode()},short"),
])
def test_a_malformed_secret_is_refused_without_showing_its_value(vault, mocked, setting, value):
    url = secret_url(vault, setting)
    challenge(mocked, url)
    secret(mocked, url, value)
    settings = settings_for(vault)
    with pytest.raises(SettingsError) as caught:
        settings.key(setting) if setting != "CLIENT_STATE_PREVIOUS_KEYS" else settings.previous_client_state_keys
    message = str(caught.value)
    assert message.startswith(f"setting {setting}: Key Vault secret {secret_name(setting)} ")
    assert value not in message and "short" not in message


@pytest.mark.parametrize("url", [
    "https://contoso-ledger.vault.azure.net", "https://contoso-ledger.vault.azure.net/", "https://ledger.vault.azure.cn",
    "https://127.0.0.1:18101", "https://localhost:18101",
])
def test_vault_urls_of_azure_and_of_a_loopback_double_are_accepted(url):
    assert load_settings({"KEY_VAULT_URL": url}).KEY_VAULT_URL == url.rstrip("/")


@pytest.mark.parametrize("url", [
    "http://contoso-ledger.vault.azure.net", "https://vault.azure.net.evil.example", "https://contoso.example.com",
    "http://127.0.0.1:18101", "contoso-ledger",
])
def test_other_vault_urls_stop_the_start_naming_the_setting(url):
    with pytest.raises(SettingsError, match="setting KEY_VAULT_URL: must be the https URL of a vault"):
        load_settings({"KEY_VAULT_URL": url})


def test_a_credential_that_gets_no_token_is_one_line(vault, mocked, monkeypatch):
    """On a host without a managed identity (no IMDS answers) the start stops naming the setting."""
    for variable in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET"):
        monkeypatch.delenv(variable, raising=False)
    url = secret_url(vault, "BLIND_INDEX_KEY")
    challenge(mocked, url)
    settings = load_settings({"KEY_VAULT_URL": vault, "GRAPH_CREDENTIAL": "managed_identity"})
    with pytest.raises(SettingsError, match=r"^setting BLIND_INDEX_KEY: Key Vault secret blind-index-key in .*: "
                                            r"the credential was refused"):
        settings.key("BLIND_INDEX_KEY")
