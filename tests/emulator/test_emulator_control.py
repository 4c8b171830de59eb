"""Control API: seed, traffic, faults, clock, request counters, state dump, reset."""

from __future__ import annotations

import httpx

from emulator import EmulatorServer
from emulator_helpers import FAST, Receiver, eventually, new_appointment, subscribe


def _shape(state: dict) -> list:
    """What must be identical across runs with one seed (timestamps aside)."""
    return [[b["business"]["displayName"], [c["displayName"] for c in b["customers"]],
             [(a["id"], a["customers"][0]["name"], a["customers"][0]["customQuestionAnswers"][0]["answer"], a["customerTimeZone"])
              for a in b["appointments"]]] for b in state["businesses"]]


def _seeded_state(seed: int) -> dict:
    with EmulatorServer(seed=seed, **FAST) as server:
        httpx.post(server.base_url + "/_emulator/seed", json={"seed": seed, "businesses": 3, "appointmentsPerBusiness": 20})
        return httpx.get(server.base_url + "/_emulator/state").json()


def test_seeding_is_deterministic_and_realistic() -> None:
    """Same seed → same businesses, customers, appointments and ids; businesses span time zones."""
    first, again, other = _seeded_state(5), _seeded_state(5), _seeded_state(6)
    assert _shape(first) == _shape(again) and _shape(first) != _shape(other)
    business = first["businesses"][0]
    assert len(first["businesses"]) == 3 and len(business["appointments"]) == 20
    assert {b["mailboxSettings"]["timeZone"] for b in first["businesses"]} == {
        "Central Standard Time", "GMT Standard Time", "AUS Eastern Standard Time"}
    assert all("timeZone" not in b["business"] for b in first["businesses"])
    customer = business["customers"][0]
    assert "@" in customer["emailAddress"] and customer["phones"][0]["number"].startswith("+1")
    assert business["customQuestions"][0]["displayName"] == "What is your age?"


def test_traffic_changes_bookings_and_notifies(client: httpx.Client, control: httpx.Client, business: str, receiver: Receiver) -> None:
    """A bounded traffic run performs its operations and they reach subscribers."""
    subscribe(client, business, receiver.url)
    control.post("/traffic", json={"rate": 200, "count": 40, "seed": 3})
    assert eventually(lambda: not control.get("/traffic").json()["running"])
    done = control.get("/traffic").json()["done"]
    assert sum(done.values()) == 40 and done["create"] > 0
    assert receiver.wait_for(lambda r: len(r.notifications()) >= done["create"])
    control.post("/traffic", json={"rate": 5, "duration": 60})
    assert control.post("/traffic/stop").json()["running"] is False


def test_request_faults_throttle_with_retry_after(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """429 for the next N matching requests, Graph's error body and a whole-second Retry-After."""
    control.post("/faults", json={"requests": [{"status": 429, "count": 2, "route": "/appointments$", "method": "GET", "retry_after": 1.5}]})
    url = f"/solutions/bookingBusinesses/{business}/appointments"
    first, second, third = (client.get(url) for _ in range(3))
    assert [first.status_code, second.status_code, third.status_code] == [429, 429, 200]
    assert first.headers["Retry-After"] == "2" and first.json()["error"]["code"] == "TooManyRequests"
    assert client.get("/solutions/bookingBusinesses").status_code == 200


def test_quirk_fractional_retry_after(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """§6 switch: Retry-After "1.5"."""
    control.post("/options", json={"quirk_fractional_retry_after": True})
    control.post("/faults", json={"requests": [{"status": 503, "count": 1, "retry_after": 1.5}]})
    response = client.get("/solutions/bookingBusinesses")
    assert response.status_code == 503 and response.headers["Retry-After"] == "1.5"


def test_share_faults_hit_a_fraction_and_latency_delays(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """A 50 % share of 504s hits some requests, not all; a latency-only rule delays without failing."""
    control.post("/faults", json={"requests": [{"status": 504, "share": 0.5, "retry_after": None}]})
    statuses = [client.get("/solutions/bookingBusinesses").status_code for _ in range(40)]
    assert 0 < statuses.count(504) < 40 and set(statuses) == {200, 504}
    control.post("/faults", json={"requests": [{"status": 0, "latency_s": 0.2}]})
    response = client.get("/solutions/bookingBusinesses")
    assert response.status_code == 200 and response.elapsed.total_seconds() >= 0.2


def test_request_counters_by_route_and_reset(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """Counts keyed by method, route template and status; DELETE zeroes them."""
    control.delete("/requests")
    client.get(f"/solutions/bookingBusinesses/{business}/appointments")
    client.get(f"/solutions/bookingBusinesses/{business}/appointments/AAMkADx=")
    counts = control.get("/requests").json()
    assert counts["GET /v1.0/solutions/bookingBusinesses/<business_id>/appointments 200"] == 1
    assert counts["GET /v1.0/solutions/bookingBusinesses/<business_id>/appointments/<appointment_id> 404"] == 1


def test_state_dump_holds_graphs_truth(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """The dump has every appointment as GET-by-id shows it, and cancellations."""
    created = new_appointment(client, business)
    client.post(f"/solutions/bookingBusinesses/{business}/appointments/{created['id']}/cancel", json={"cancellationMessage": "ill"})
    state = control.get("/state").json()["businesses"][0]
    assert state["appointmentCount"] == 30 and len(state["appointments"]) == 30
    assert state["cancelledAppointments"][0]["id"] == created["id"]
    assert state["appointments"][0]["reminders"]  # single-GET fields are present


def test_clock_warp_and_reset(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """The clock moves; reset empties the tenant and restores real time."""
    before = control.get("/clock").json()["now"]
    after = control.post("/clock", json={"advanceMinutes": 60 * 24}).json()["now"]
    assert after[:10] != before[:10]
    assert control.post("/reset").status_code == 204
    assert client.get("/solutions/bookingBusinesses").json()["value"] == []
    assert control.get("/clock").json()["now"][:10] == before[:10]


def test_unknown_options_are_refused(control: httpx.Client) -> None:
    """Typos in option names fail loudly."""
    assert control.post("/options", json={"page_sise": 5}).status_code == 400


def test_reads_stay_consistent_under_concurrent_traffic(server: EmulatorServer, control: httpx.Client, business: str) -> None:
    """Traffic writes while three keep-alive clients read lists, calendar views, events and the state dump."""
    from concurrent.futures import ThreadPoolExecutor

    control.post("/traffic", json={"rate": 500, "count": 300, "seed": 9})
    paths = [f"/v1.0/solutions/bookingBusinesses/{business}/appointments",
             f"/v1.0/solutions/bookingBusinesses/{business}/calendarView?start=2000-01-01T00:00:00Z&end=2100-01-01T00:00:00Z",
             f"/v1.0/users/{business}/events", "/_emulator/state", "/_emulator/notifications"]

    def reader(offset: int) -> set[int]:
        with httpx.Client(base_url=server.base_url, headers={"Authorization": "Bearer x"}, timeout=10) as http:
            return {http.get(paths[(offset + i) % len(paths)]).status_code for i in range(40)}

    with ThreadPoolExecutor(3) as pool:
        statuses = set().union(*pool.map(reader, range(3)))
    assert statuses == {200}
    assert eventually(lambda: not control.get("/traffic").json()["running"])


def test_the_seed_fills_a_privacy_mailbox_with_requests_from_seeded_customers(client: httpx.Client, control: httpx.Client) -> None:
    """privacyMailbox: five request mails from customers of the seeded business, plus one auto-reply; deterministic."""
    def seeded() -> tuple[list[str], set[str]]:
        control.post("/reset").raise_for_status()
        answer = control.post("/seed", json={"seed": 9, "businesses": 1, "appointmentsPerBusiness": 3,
                                             "customersPerBusiness": 4, "privacyMailbox": "Privacy@Contoso.example"}).json()
        assert len(answer["privacyMessages"]) == 6
        listed = client.get("/users/privacy@contoso.example/mailFolders/Inbox/messages",
                            params={"$select": "subject,from,internetMessageHeaders", "$orderby": "receivedDateTime asc"}).json()["value"]
        customers = {c["emailAddress"] for c in control.get("/state").json()["businesses"][0]["customers"]}
        assert {m["from"]["emailAddress"]["address"] for m in listed[:5]} <= customers
        assert {"name": "Auto-Submitted", "value": "auto-replied"} in listed[5]["internetMessageHeaders"]
        return [m["subject"] for m in listed], {m["from"]["emailAddress"]["address"] for m in listed}
    assert seeded() == seeded()
