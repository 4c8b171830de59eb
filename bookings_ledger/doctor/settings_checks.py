"""Settings: they load (one line per problem), and each process finds the settings it needs."""
from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from .context import Findings
from .report import Line, fail, ok, warn

if TYPE_CHECKING:
    from config.settings import Settings

# What each process refuses to start without (bookings_ledger/app.py, commands/*), beyond Graph's
# credential settings, which the credentials check asks for as the service does.
PROCESS_NEEDS: dict[str, tuple[str, ...]] = {
    "serve --only webhooks": ("CLIENT_STATE_KEY", "GRAPH_TENANT_ID"),
    "serve --only dashboard": ("LEDGER_MASTER_KEY", "BLIND_INDEX_KEY", "SECRET_KEY"),
    # A worker's lifecycle handling replaces a removed subscription, hashing its new clientState.
    "worker": ("LEDGER_MASTER_KEY", "BLIND_INDEX_KEY", "CLIENT_STATE_KEY"),
    "scheduler": ("BOOKING_BUSINESSES", "LEDGER_MASTER_KEY", "BLIND_INDEX_KEY", "CHECKPOINT_SIGNING_KEY",
                  "CLIENT_STATE_KEY"),
}
# Sign-in with Entra ID needs the tenant and an app registration (the dashboard's own, or the service's).
ENTRA_NEEDS = (("GRAPH_TENANT_ID",), ("DASHBOARD_CLIENT_ID", "GRAPH_CLIENT_ID"))


def check(findings: Findings) -> Iterator[Line]:
    from config import SettingsError, load_settings

    try:
        findings.settings = load_settings()
    except SettingsError as exc:
        for problem in str(exc).splitlines():
            yield fail("settings", problem, "correct it in the environment, .env or the BOOKINGS_LEDGER_CONFIG file")
        return
    yield ok("settings", "loaded and valid")
    yield from _process_lines(findings.settings)


def _process_lines(settings: Settings) -> Iterator[Line]:
    for process, names in PROCESS_NEEDS.items():
        needs = [(name,) for name in names]
        if process == "serve --only dashboard" and settings.AUTH_MODE == "entra":
            needs += ENTRA_NEEDS
        missing = [" or ".join(group) for group in needs if not any(_present(settings, name) for name in group)]
        if missing:
            yield warn(f"settings for {process}", f"missing {', '.join(missing)}",
                       f"set them where `bookings-ledger {process}` runs (fine if it never runs with these settings)")
        else:
            yield ok(f"settings for {process}", "all present")


def _present(settings: Settings, name: str) -> bool:
    from config.settings import KEY_SETTINGS

    # A key left to Key Vault counts as present here; the key vault lines say whether it is readable.
    return getattr(settings, name) not in (None, "") or (name in KEY_SETTINGS and settings.KEY_VAULT_URL is not None)
