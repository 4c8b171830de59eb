"""Key Vault secrets through the azure-keyvault-secrets SDK, with the credential Graph uses.

config/key_vault.py says where key settings come from; this module reads them, each once per
process (then from memory), when the composition root (bookings_ledger/__init__.py) has made it
the reader. Errors are one SettingsError naming the setting and the secret, never the value:

    SettingsError
     ├── refused      the credential got no token, or the vault answered 401 / 403
     ├── throttled    429 still, after the SDK's retries (which honour Retry-After)
     ├── unreachable  no answer from KEY_VAULT_URL
     └── malformed    the secret's value is not what the setting needs (said by config/settings.py)
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from config.key_vault import is_loopback, secret_name

if TYPE_CHECKING:
    from azure.keyvault.secrets import SecretClient

    from config.settings import Settings

# Bounds a process start when the vault throttles: each retry waits what Retry-After asks.
RETRIES = 3

_lock = threading.Lock()
_clients: dict[str, SecretClient] = {}
_values: dict[tuple[str, str], str | None] = {}


def read_secret(settings: Settings, setting: str) -> str | None:
    """The value of `setting`'s secret in KEY_VAULT_URL, None when the vault has no such secret;
    read once per process, then from memory."""
    vault = settings.KEY_VAULT_URL
    assert vault is not None  # callers ask only when a vault is configured
    with _lock:  # threads of one process asking at once still read the vault once
        if (vault, setting) not in _values:
            _values[vault, setting] = _fetch(_client(settings), vault, setting)
        return _values[vault, setting]


def _client(settings: Settings) -> SecretClient:
    from azure.keyvault.secrets import SecretClient

    from .credentials import credential_from_settings

    vault = settings.KEY_VAULT_URL
    if vault not in _clients:
        # A double on 127.0.0.1 answers the challenge as the real vault does (resource
        # https://vault.azure.net), which cannot match its own host name.
        _clients[vault] = SecretClient(vault, credential_from_settings(settings), retry_total=RETRIES,
                                       verify_challenge_resource=not is_loopback(vault))
    return _clients[vault]


def _fetch(client: SecretClient, vault: str, setting: str) -> str | None:
    from azure.core.exceptions import (ClientAuthenticationError, HttpResponseError, ResourceNotFoundError,
                                       ServiceRequestError)

    from config.settings import SettingsError

    name = secret_name(setting)
    where = f"setting {setting}: Key Vault secret {name} in {vault}"
    # Only status codes go into the message: the SDK's own text may quote the service's answer.
    try:
        value = client.get_secret(name).value
    except ResourceNotFoundError:
        return None
    except ClientAuthenticationError:
        raise SettingsError(f"{where}: the credential was refused (no token for https://vault.azure.net/.default, "
                            "or the vault answered 401)") from None
    except HttpResponseError as exc:
        raise SettingsError(f"{where}: {_refusal(exc.status_code)}") from None
    except ServiceRequestError:
        raise SettingsError(f"{where}: the vault cannot be reached") from None
    except ValueError:  # the SDK's check of the challenge: the vault named another resource
        raise SettingsError(f"{where}: the vault's challenge names a resource other than the vault") from None
    return value.strip() if value is not None else None


def _refusal(status: int | None) -> str:
    if status == 403:
        return "access denied (403): give this identity the role Key Vault Secrets User on the vault"
    if status == 429:
        return f"throttled (429) after {RETRIES} retries; start the process again in a minute"
    return f"the vault answered HTTP {status}"
