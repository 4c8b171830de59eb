"""JSON batching rules (json-batching, graph-facts §3)."""

from __future__ import annotations

import httpx
import pytest

from emulator_helpers import new_appointment


def _get(i: int, url: str = "/solutions/bookingBusinesses") -> dict:
    return {"id": str(i), "method": "GET", "url": url}


def test_members_get_their_own_status_headers_and_body(client: httpx.Client, business: str) -> None:
    """200 envelope; each response matched by id carries status, headers and body."""
    appointment = new_appointment(client, business)
    batch = {"requests": [_get(1), _get(2, f"/solutions/bookingBusinesses/{business}/appointments/{appointment['id']}"),
                          _get(3, f"/solutions/bookingBusinesses/{business}/appointments/AAMkADnope="),
                          {"id": "4", "method": "PATCH", "url": f"/solutions/bookingBusinesses/{business}/appointments/{appointment['id']}",
                           "headers": {"Content-Type": "application/json"}, "body": {"serviceNotes": "batched"}}]}
    response = client.post("/$batch", json=batch)
    assert response.status_code == 200
    by_id = {r["id"]: r for r in response.json()["responses"]}
    assert by_id["1"]["status"] == 200 and by_id["1"]["body"]["value"][0]["id"] == business
    assert by_id["2"]["body"]["id"] == appointment["id"] and by_id["2"]["headers"]["Content-Type"].startswith("application/json")
    assert by_id["3"]["status"] == 404 and by_id["3"]["body"]["error"]["code"] == "ErrorItemNotFound"
    assert by_id["4"]["status"] == 204 and "body" not in by_id["4"]


@pytest.mark.parametrize(("requests", "fragment"), [
    ([_get(i) for i in range(21)], "maximum of 20"),
    ([_get(1), _get(1)], "unique"),
    ([{"id": "1", "method": "GET", "url": "https://graph.microsoft.com/v1.0/users"}], "relative"),
    ([{**_get(1), "dependsOn": ["9"]}], "not in the batch"),
])
def test_malformed_batches_fail_whole_with_400(client: httpx.Client, business: str, requests: list, fragment: str) -> None:
    """More than 20, duplicate ids, absolute urls, unknown dependencies: the batch fails with 400."""
    response = client.post("/$batch", json={"requests": requests})
    assert response.status_code == 400 and fragment in response.json()["error"]["message"]


def test_twenty_requests_are_allowed(client: httpx.Client, business: str) -> None:
    """Exactly 20 is fine."""
    assert client.post("/$batch", json={"requests": [_get(i) for i in range(20)]}).status_code == 200


def test_a_failed_dependency_gives_424(client: httpx.Client, business: str) -> None:
    """dependsOn: when the dependency fails, the dependent gets 424 Failed Dependency."""
    batch = {"requests": [_get(1, f"/solutions/bookingBusinesses/{business}/appointments/AAMkADnope="),
                          {**_get(2), "dependsOn": ["1"]}, {**_get(3), "dependsOn": ["2"]}]}
    by_id = {r["id"]: r["status"] for r in client.post("/$batch", json=batch).json()["responses"]}
    assert by_id == {"1": 404, "2": 424, "3": 424}


def test_a_throttled_member_gets_429_inside_a_200_envelope(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """Each member counts against limits; an over-limit member gets its own 429 with Retry-After."""
    control.post("/faults", json={"requests": [{"status": 429, "count": 1, "route": "/appointments", "retry_after": 2}]})
    batch = {"requests": [_get(1, f"/solutions/bookingBusinesses/{business}/appointments"), _get(2)]}
    response = client.post("/$batch", json=batch)
    assert response.status_code == 200
    by_id = {r["id"]: r for r in response.json()["responses"]}
    assert by_id["1"]["status"] == 429 and by_id["1"]["headers"]["Retry-After"] == "2"
    assert by_id["2"]["status"] == 200


def test_responses_may_come_back_in_another_order(client: httpx.Client, business: str) -> None:
    """Responses are matched by id, not position (the emulator shuffles them by default)."""
    ids = [r["id"] for r in client.post("/$batch", json={"requests": [_get(i) for i in range(20)]}).json()["responses"]]
    assert sorted(ids, key=int) == [str(i) for i in range(20)] and ids != [str(i) for i in range(20)]
