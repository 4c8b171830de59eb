"""Key Vault (when KEY_VAULT_URL is set): each key secret this deployment's processes need is readable.

Only names and verdicts are printed, never a value. A key the environment sets is not asked for:
the processes take it from there. A missing previous-keys secret is fine (no rotation under way).
"""
from __future__ import annotations

from collections.abc import Iterator

from .context import Findings
from .report import Line, fail, ok, skipped
from .settings_checks import PROCESS_NEEDS


def needed_keys() -> list[str]:
    """The key settings some process needs, then the optional ones of a rotation under way."""
    from config.settings import KEY_LISTS, KEY_SETTINGS

    needed = {name for names in PROCESS_NEEDS.values() for name in names if name in KEY_SETTINGS}
    return [name for name in KEY_SETTINGS if name in needed] + list(KEY_LISTS)


def check(findings: Findings) -> Iterator[Line]:
    settings = findings.settings
    if settings is None:
        yield skipped("key vault", "settings")
        return
    if settings.KEY_VAULT_URL is None:
        return  # keys from the environment only: the settings lines said whether they are there
    from config import SettingsError
    from config.key_vault import secret_name
    from config.settings import KEY_LISTS

    for name in needed_keys():
        if getattr(settings, name) is not None:
            continue
        check_name = f"key vault secret {secret_name(name)}"
        try:
            value = settings.secret(name)
        except SettingsError as exc:
            yield fail(check_name, str(exc), "see docs/ledger.md, \"Keys from Azure Key Vault\"")
            continue
        if value is not None:
            yield ok(check_name, f"readable ({name})")
        elif name in KEY_LISTS:
            yield ok(check_name, f"absent: no {name} (no rotation under way)")
        else:
            yield fail(check_name, f"absent from {settings.KEY_VAULT_URL} ({name})",
                       f"az keyvault secret set --vault-name NAME --name {secret_name(name)} --file FILE")
