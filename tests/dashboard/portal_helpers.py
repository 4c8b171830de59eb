"""What the public privacy page's tests share: an app over a database of either backend, a visitor
with the page's CSRF token, and the mailer's part of a verification (issuing the wanted challenge),
done as comms' mailer does it, through state.verification.

(A module of its own, not a conftest: see dashboard_helpers.py.)
"""
from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from bookings_ledger.app import close_app
from dashboard_helpers import csrf_token, started_app
from state.verification import IssuedChallenge, issue_challenge, wanted_challenges

EMAIL = "ada.lovelace@example.org"
CHALLENGE_URL = re.compile(r"/privacy/verify/(chl_[A-Za-z0-9_-]+)")
STATUS_URL = re.compile(r'href="(/privacy/status/[A-Za-z0-9_-]+)"')


def submit(app: Flask, client: FlaskClient, request_type: str = "erasure", **fields: str):
    """POST a filled form of `request_type` as the page does; the response."""
    form = {"csrf_token": csrf_token(app, client), "email": EMAIL, **fields}
    return client.post(f"/privacy/requests/new/{request_type}", data=form)


def challenge_of(response) -> str:
    """The challenge id the submission's redirect points to."""
    return CHALLENGE_URL.search(response.headers["Location"]).group(1)


def mail_challenges(app: Flask, minutes: int = 15) -> dict[str, IssuedChallenge]:
    """Issue every wanted challenge, as the mailer does before it mails them; by request id."""
    engine = app.extensions["bookings_ledger.dashboard"].engine
    clock = app.extensions["bookings_ledger.dashboard"].clock
    with Session(engine) as session, session.begin():
        return {request_id: issue_challenge(session, challenge, clock(), minutes)
                for challenge, request_id in wanted_challenges(session)}


def post(app: Flask, client: FlaskClient, url: str, **fields: str):
    """POST a form with the client's CSRF token."""
    return client.post(url, data={"csrf_token": csrf_token(app, client), **fields})


@pytest.fixture
def portal_app(dashboard_settings, database_url, keystore_url, clock) -> Iterator[Flask]:
    """The dashboard app over a database of the parametrized backend, on the tests' `clock` (codes and
    links expire by it), with a rate limit no test reaches unless it sets its own."""
    app = started_app({**dashboard_settings, "DATABASE_URL": database_url, "KEYSTORE_URL": keystore_url,
                       "PORTAL_RATE_LIMIT": "1000 per minute"}, clock=clock)
    yield app
    close_app(app)
