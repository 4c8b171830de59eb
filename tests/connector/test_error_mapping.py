"""Graph's answers become a small exception tree that names permissions but never personal data."""
from __future__ import annotations

import pytest

from connector.errors import (
    AuthenticationFailed, Gone, InvalidRequest, NotFound, OutcomeUnknown, PermissionMissing, Throttled,
    Unavailable, error_for_status, redact_path,
)

HEADERS = {"request-id": "rid-1", "client-request-id": "crid-1"}


def make(status: int, *, idempotent: bool = True, message: str = "", code: str = "Code") -> Exception:
    return error_for_status(status, code=code, message=message, headers=HEADERS, method="GET",
                            route="/x/{id}", idempotent=idempotent, retry_after=None)


@pytest.mark.parametrize(("status", "idempotent", "kind", "retryable"), [
    (400, True, InvalidRequest, False), (401, True, AuthenticationFailed, False), (403, True, PermissionMissing, False),
    (404, True, NotFound, False), (409, True, InvalidRequest, False), (410, True, Gone, False),
    (429, True, Throttled, True), (429, False, Throttled, True), (500, True, Unavailable, False),
    (503, True, Unavailable, True), (503, False, Unavailable, True), (504, True, Unavailable, True),
    (504, False, OutcomeUnknown, False),
])
def test_each_status_maps_to_its_exception(status: int, idempotent: bool, kind: type, retryable: bool) -> None:
    """429 and 503 mean Graph refused before acting; a 504 on a POST may hide a completed write."""
    error = make(status, idempotent=idempotent)
    assert type(error) is kind
    assert error.retryable is retryable
    assert error.status == status and error.request_id == "rid-1"


def test_a_403_names_the_permissions_graph_asked_for() -> None:
    message = ("Missing role permissions on the request. API requires one of 'BookingsAppointment.ReadWrite.All, "
               "Bookings.Read.All'. Roles on the request 'Calendars.Read'.")
    error = make(403, message=message)
    assert error.permissions[:2] == ("BookingsAppointment.ReadWrite.All", "Bookings.Read.All")
    assert "BookingsAppointment.ReadWrite.All" in str(error)


def test_graph_free_text_never_reaches_the_exception() -> None:
    """Validation messages can echo personal data, so only the code and ids are kept."""
    error = make(400, message="Invalid email 'jane.doe@example.com'", code="ErrorInvalidRequest")
    assert "jane" not in str(error) and "ErrorInvalidRequest" in str(error) and "rid-1" in str(error)


@pytest.mark.parametrize(("path", "route"), [
    ("/solutions/bookingBusinesses/clinic@contoso.com/appointments/AAMk=", "/solutions/bookingBusinesses/{id}/appointments/{id}"),
    ("/solutions/bookingBusinesses/b@x.com/calendarView?start=a&end=b", "/solutions/bookingBusinesses/{id}/calendarView"),
    ("http://127.0.0.1:1/v1.0/users/jane@x.com/calendarView/delta?$deltatoken=s", "/v1.0/users/{id}/calendarView/delta"),
    ("/subscriptions/abc/reauthorize", "/subscriptions/{id}/reauthorize"),
])
def test_routes_in_errors_have_every_id_redacted(path: str, route: str) -> None:
    assert redact_path(path) == route
