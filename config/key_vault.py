"""Where the key settings come from when the environment leaves them unset: Azure Key Vault.

A key setting (LEDGER_MASTER_KEY, BLIND_INDEX_KEY, …) is the Key Vault **secret** of its name in
lower case with dashes (`ledger-master-key`). The reading itself (the Azure SDK, Graph's
credential) is connector/key_vault.py's; the composition root makes it the reader with
`use_reader`, so this package imports nothing of ours and no SDK.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from config.settings import Settings

# The vault hosts of Azure's public and sovereign clouds; anything else must be a loopback double.
VAULT_DOMAINS = (".vault.azure.net", ".vault.azure.cn", ".vault.usgovcloudapi.net")
LOOPBACK_NAMES = frozenset({"localhost"})

SecretReader = Callable[["Settings", str], "str | None"]
_reader: list[SecretReader] = []


def use_reader(reader: SecretReader) -> None:
    """Make `reader(settings, setting)` the way key settings are read from KEY_VAULT_URL."""
    _reader[:] = [reader]


def read_secret(settings: Settings, setting: str) -> str | None:
    """`setting`'s secret in KEY_VAULT_URL (None: the vault has none), through the reader in use."""
    from config.settings import SettingsError

    if not _reader:
        raise SettingsError("setting KEY_VAULT_URL is set, but this program reads no Key Vault "
                            "(start it as bookings-ledger, whose wiring does)")
    return _reader[0](settings, setting)


def secret_name(setting: str) -> str:
    """The Key Vault secret that holds a setting: LEDGER_MASTER_KEY → ledger-master-key."""
    return setting.lower().replace("_", "-")


def is_loopback(url: str) -> bool:
    """Whether the vault URL names this machine (a test double, never a real vault)."""
    host = urlsplit(url).hostname or ""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def valid_vault_url(url: str) -> bool:
    """An https URL of an Azure vault (https://NAME.vault.azure.net) or of a loopback double."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return parts.scheme == "https" and (host.endswith(VAULT_DOMAINS) or is_loopback(url))


