"""What the public privacy page's tests share (their app is conftest's `portal_app`): a visitor's
form posts with the page's CSRF token, and the mailer's part of a verification (issuing the wanted challenge),
done as the request mailer does it, through state.verification.

(A module of its own, not a conftest: see dashboard_helpers.py.)
"""
from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from dashboard_helpers import csrf_token
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

