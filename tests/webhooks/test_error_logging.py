"""An unexpected error answers one problem shape and is logged by class, never by its message."""
from __future__ import annotations

import json
import logging

SECRET = "ada.lovelace@example.com"


class DriverError(Exception):
    """Stands in for a driver error whose message quotes the refused row."""


def test_an_unexpected_error_is_logged_without_its_message(app, client, caplog):
    def broken() -> str:
        raise DriverError(f'Failing row contains (customer, {SECRET}, null)')

    app.add_url_rule("/broken", "broken", broken)
    with caplog.at_level(logging.ERROR):
        answer = client.get("/broken")
    assert answer.status_code == 500 and answer.mimetype == "application/problem+json"
    assert json.loads(answer.data)["title"] == "Internal Server Error"
    assert "GET /broken failed: DriverError" in caplog.text
    assert SECRET not in caplog.text and SECRET not in answer.get_data(as_text=True)
