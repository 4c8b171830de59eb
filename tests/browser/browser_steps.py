"""Steps a person takes in the dashboard, by the visible labels the contract fixes."""
from __future__ import annotations

import re


def sign_in(page, user_name: str, password: str) -> None:
    """Sign in through the local sign-in form."""
    page.goto("/sign-in")
    page.get_by_label("User name").fill(user_name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def search_subject(page, email: str) -> str:
    """Search by email from the search page, open the only result and return its subject ref."""
    page.goto("/subjects")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Search").click()
    result = page.locator("main a[href^='/subjects/']")
    assert result.count() == 1, f"the search found {result.count()} subjects, expected one"
    ref = result.inner_text().strip()
    result.click()
    page.wait_for_url(re.compile(rf"/subjects/{re.escape(ref)}$"))
    return ref


def place_hold(page, scope: str, target: str, reason: str) -> None:
    """Place a hold from the holds page."""
    page.goto("/holds")
    page.get_by_label("Scope").select_option(scope)
    page.get_by_label("Target").fill(target)
    page.get_by_label("Reason", exact=True).fill(reason)
    page.get_by_role("button", name="Place hold").click()


def hold_row(page, target: str):
    """The active-holds table row that names `target`."""
    return page.locator("tr", has_text=target)


def release_hold(page, target: str, reason: str) -> None:
    """Release the active hold on `target` from its row on the holds page."""
    row = hold_row(page, target)
    row.get_by_label("Release reason").fill(reason)
    row.get_by_role("button", name="Release").click()
