"""The layout's arrows hold: no package imports what DESIGN.md's "may import" column forbids.

Read from the source (every `import` and `from … import`, lazy ones inside functions included),
so an import added deep in a function cannot slip past.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
OURS = {"config", "database", "ledger", "state", "connector", "webhooks", "jobs", "dashboard", "emulator", "bookings_ledger"}
MAY_IMPORT = {
    "config": set(),
    "database": {"config"},
    "ledger": {"config", "database"},
    "state": {"config", "database"},
    "connector": {"config"},
    "webhooks": {"config", "state", "database"},
    "jobs": {"config", "ledger", "state", "connector", "database"},
    "dashboard": {"config", "ledger", "state", "database"},
    "emulator": set(),
}
# Third-party packages only one of our packages may use (DESIGN.md, below the layout table).
ONLY_IN = {"msgraph": "connector", "azure": "connector", "kiota_abstractions": "connector",
           "kiota_http": "connector", "msal": "dashboard"}


def imported_roots(path: Path) -> set[str]:
    """The top-level names a module imports, relative imports left out (they stay in the package)."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def modules_of(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_package_imports_only_what_its_row_allows(package: str) -> None:
    """Each module of the package imports only the packages of ours its row names."""
    allowed = MAY_IMPORT[package] | {package}
    wrong = {
        f"{path.relative_to(ROOT)} imports {root}"
        for path in modules_of(package) for root in imported_roots(path) & OURS if root not in allowed
    }
    assert not wrong, sorted(wrong)


@pytest.mark.parametrize("library", sorted(ONLY_IN))
def test_sdk_imports_stay_in_their_package(library: str) -> None:
    """msgraph, azure-identity and kiota only in connector/; msal only in dashboard/."""
    owner = ONLY_IN[library]
    wrong = [str(path.relative_to(ROOT)) for package in OURS - {owner} if (ROOT / package).is_dir()
             for path in modules_of(package) if library in imported_roots(path)]
    assert not wrong, wrong


def test_the_ledger_core_is_pure() -> None:
    """ledger/core imports nothing of ours, and no third-party package but cryptography."""
    import sys

    allowed = sys.stdlib_module_names | {"cryptography", "__future__"}
    wrong = {f"{path.name} imports {root}" for path in modules_of("ledger/core")
             for root in imported_roots(path) if root not in allowed}
    assert not wrong, sorted(wrong)


def test_every_package_of_ours_has_a_row() -> None:
    """A new top-level package cannot dodge the table."""
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert packages - {"bookings_ledger", "tests", "bench"} <= set(MAY_IMPORT), packages
