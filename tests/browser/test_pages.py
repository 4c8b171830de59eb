"""Every page in the navigation, in a real browser: it opens, is screenshotted, and axe-core finds
no serious or critical violation; at phone width the overview and a subject's page do not scroll
sideways. Console errors (a CSP violation among them) fail the test (conftest.py)."""
from __future__ import annotations

import pytest

from browser_checks import PHONE, assert_accessible, horizontal_overflow, screenshot
from browser_steps import search_subject

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-pages")]
# Pages no main-nav link leads to: the admin area's own sub-pages and the public privacy notice.
PAGES_OUTSIDE_THE_NAV = ("/admin/settings", "/admin/subscriptions", "/privacy-notice")


def page_name(path: str) -> str:
    """A screenshot's name for a path: "/" is the overview, "/admin/settings" is admin-settings."""
    return path.strip("/").replace("/", "-") or "overview"


def nav_paths(page) -> list[str]:
    return page.locator("nav[aria-label='Main'] a").evaluate_all("links => links.map(link => link.getAttribute('href'))")


def test_every_page_in_the_navigation_opens_and_passes_axe(officer_page):
    paths = nav_paths(officer_page)
    assert {"/", "/subjects", "/holds", "/processing-record", "/admin"} <= set(paths), paths
    failures = []
    for path in [*paths, *PAGES_OUTSIDE_THE_NAV]:
        response = officer_page.goto(path)
        assert response is not None and response.ok, f"{path} answered {response and response.status}"
        try:
            assert_accessible(officer_page, page_name(path))
        except AssertionError as failure:  # report every page, not only the first that fails
            failures.append(str(failure))
    assert not failures, "\n\n".join(failures)


def test_the_overview_and_a_subject_fit_a_phone_screen(new_page, officer_state, live_service):
    page = new_page(storage_state=officer_state, viewport=PHONE)
    page.goto("/")
    scroll_width, client_width = horizontal_overflow(page)
    screenshot(page, "overview-phone")
    assert scroll_width <= client_width, f"the overview scrolls sideways at 375 px ({scroll_width} > {client_width})"
    search_subject(page, live_service.subject_email)
    scroll_width, client_width = horizontal_overflow(page)
    screenshot(page, "subject-phone")
    assert scroll_width <= client_width, f"a subject's page scrolls sideways at 375 px ({scroll_width} > {client_width})"
