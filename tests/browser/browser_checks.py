"""What every page is held to in a browser: a screenshot kept as a test artifact, no serious or
critical axe-core violation, and (at phone width) no horizontal overflow."""
from __future__ import annotations

from pathlib import Path

from axe_playwright_python.sync_playwright import Axe

PHONE = {"width": 375, "height": 740}   # a phone's viewport, for the layout checks

SCREENSHOTS = Path(__file__).parents[2] / "test-artifacts" / "screenshots"
BLOCKING_IMPACTS = {"serious", "critical"}
_axe = Axe()  # axe.min.js from the package itself: nothing is downloaded


def screenshot(page, name: str) -> Path:
    """The whole page as test-artifacts/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def blocking_violations(page) -> list[str]:
    """axe-core's serious and critical violations on the page, one line each: id, impact, targets."""
    violations = _axe.run(page).response["violations"]
    return [f"{violation['id']} ({violation['impact']}): {violation['help']}; "
            f"targets {[node['target'] for node in violation['nodes']]}"
            for violation in violations if violation["impact"] in BLOCKING_IMPACTS]


def assert_accessible(page, name: str) -> None:
    """Screenshot the page, then fail naming each serious or critical axe violation."""
    screenshot(page, name)
    found = blocking_violations(page)
    assert not found, f"axe-core on {name} ({page.url}):\n" + "\n".join(found)


def horizontal_overflow(page) -> tuple[int, int]:
    """(scrollWidth, clientWidth) of the document: wider content than the viewport scrolls sideways."""
    return page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
