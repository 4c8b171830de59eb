"""Fixtures for the browser tests: Debian's Chromium driven by Playwright, against the live service.

Chromium comes from Debian (`apt-get install chromium`, as .ci/run does) and is launched by its
path: Playwright never downloads a browser here. Without /usr/bin/chromium these tests skip with
the reason, except under CI=true, where they fail: CI must never pass by skipping them (the rule
tests/conftest.py applies to PostgreSQL).

One service and one browser serve each test module, no longer: Playwright's sync API keeps an
asyncio loop running in the thread while it is open, and a later test on the same worker that
calls asyncio.run() (the Graph SDK's) would fail. Each module carries an `xdist_group` of its own,
so `make test`'s xdist run (`--dist loadgroup`) keeps a module's tests together on one worker, one
after the other, while two modules may run at once on the two workers. Each test gets a
fresh browser context; signed-in contexts start from a session's cookies saved once a module, so
the tests do not spend the sign-in rate limit.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from browser_service import LiveService, running_service
from browser_steps import sign_in

CHROMIUM = Path("/usr/bin/chromium")
# Headless, and nothing that reaches for Google's hosts: this machine's network is closed.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LAPTOP = {"width": 1280, "height": 800}
ACTION_TIMEOUT_MS = 10_000  # a local page answers in well under a second; a missing label fails soon


def chromium_path() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    reason = f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install -y chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {reason}: the browser tests must run in CI")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator:
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def live_service(browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    with running_service(tmp_path_factory.mktemp("live-service")) as service:
        yield service


class ConsoleErrors(list):
    """Every console error and uncaught page error of the pages it watches (a CSP violation is one)."""

    def watch(self, page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.append(f"page error: {error}"))

    def _console(self, message) -> None:
        if message.type == "error":
            self.append(f"console: {message.text} ({message.location.get('url')})")

    def forgive(self, fragment: str) -> None:
        """Drop the errors containing `fragment`: a test that provokes an error status on purpose."""
        self[:] = [error for error in self if fragment not in error]


@pytest.fixture
def console_errors() -> Iterator[ConsoleErrors]:
    errors = ConsoleErrors()
    yield errors
    assert not errors, "the browser reported errors (a CSP violation is one):\n" + "\n".join(errors)


@pytest.fixture
def new_page(browser, live_service: LiveService, console_errors: ConsoleErrors) -> Iterator[Callable[..., object]]:
    """`new_page(**context_options)`: a page in a fresh context on the service, its errors watched."""
    contexts = []

    def open_page(**options):
        context = browser.new_context(base_url=live_service.base_url, viewport=options.pop("viewport", LAPTOP), **options)
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        console_errors.watch(page)
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture(scope="module")
def officer_state(browser, live_service: LiveService) -> dict:
    """The cookies of one officer's sign-in, for contexts that start signed in."""
    context = browser.new_context(base_url=live_service.base_url)
    page = context.new_page()
    sign_in(page, "officer", live_service.password)
    page.wait_for_url(f"{live_service.base_url}/")
    state = context.storage_state()
    context.close()
    return state


@pytest.fixture
def officer_page(new_page, officer_state: dict):
    """A page of a context signed in as the privacy officer, on the overview."""
    page = new_page(storage_state=officer_state)
    page.goto("/")
    return page
