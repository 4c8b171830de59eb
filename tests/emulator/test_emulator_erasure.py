"""Bookings erasure surfaces (privacy-facts §2.1–2.3): PATCH of customers[], Bookings' own
cancellation mail, and DELETE customer answering 500 although it deleted."""

from __future__ import annotations

import httpx
import pytest

from emulator_helpers import new_appointment

ELEMENT = "#microsoft.graph.bookingCustomerInformation"
ANSWERS = [{"questionId": "q1", "question": "What is your age?", "answerInputType": "text", "answerOptions": [],
            "isRequired": True, "answer": "47", "selectedOptions": []}]


def _url(business: str, appointment_id: str = "") -> str:
    return f"/solutions/bookingBusinesses/{business}/appointments" + (f"/{appointment_id}" if appointment_id else "")


def _with_answers(client: httpx.Client, business: str, start: str = "2034-01-09T10:00:00", **extra: object) -> dict:
    customers = [{"name": "Ada Lovelace", "emailAddress": "ada@example.com", "phone": "+44 20 7946 0000",
                  "customQuestionAnswers": ANSWERS}]
    return new_appointment(client, business, start=start, customers=customers, **extra)


def _customer_ids(client: httpx.Client, business: str) -> list[str]:
    return [c["id"] for c in client.get(f"/solutions/bookingBusinesses/{business}/customers").json()["value"]]


# PATCH customers[] ---------------------------------------------------------------------------------
def test_patched_customers_are_stored_as_sent_not_filled_from_the_customer(client: httpx.Client, business: str) -> None:
    """Full replacement: name, email, phone and answers left out are null/empty, not taken from customerId;
    the legacy fields mirror the rewritten single customer, so they are null too."""
    created = _with_answers(client, business)
    customer_id = created["customers"][0]["customerId"]
    assert created["customerEmailAddress"] == "ada@example.com"
    response = client.patch(_url(business, created["id"]), json={"customers": [{"@odata.type": ELEMENT, "customerId": customer_id}]})
    assert response.status_code == 204
    after = client.get(_url(business, created["id"])).json()
    element = after["customers"][0]
    assert element["customerId"] == customer_id
    assert element["name"] is None and element["emailAddress"] is None and element["phone"] is None
    assert element["customQuestionAnswers"] == []
    assert after["customerName"] is None and after["customerEmailAddress"] is None and after["customerPhone"] is None
    # The bookingCustomer itself is untouched: it is a surface of its own.
    customer = client.get(f"/solutions/bookingBusinesses/{business}/customers/{customer_id}").json()
    assert customer["emailAddress"] == "ada@example.com"


def test_legacy_fields_can_be_made_to_keep_the_old_customer(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """legacy_fields_follow_customers off: the legacy copy keeps the old values after a rewrite."""
    control.post("/options", json={"legacy_fields_follow_customers": False})
    created = _with_answers(client, business)
    element = {"@odata.type": ELEMENT, "customerId": created["customers"][0]["customerId"], "name": "Anonymised"}
    assert client.patch(_url(business, created["id"]), json={"customers": [element]}).status_code == 204
    after = client.get(_url(business, created["id"])).json()
    assert after["customers"][0]["name"] == "Anonymised" and after["customerName"] == "Ada Lovelace"


@pytest.mark.parametrize("element", [{"customerId": None, "name": "No type"}, {"@odata.type": "#microsoft.graph.bookingCustomerInformationBase"}])
def test_an_element_without_the_concrete_odata_type_is_refused(client: httpx.Client, business: str, element: dict) -> None:
    """Each element must carry "@odata.type": "#microsoft.graph.bookingCustomerInformation" (400 otherwise)."""
    created = new_appointment(client, business)
    response = client.patch(_url(business, created["id"]), json={"customers": [element]})
    assert response.status_code == 400 and response.json()["error"]["code"] == "BadRequest"
    assert client.get(_url(business, created["id"])).json()["customers"][0]["name"] == "Ada Lovelace"


def test_an_unknown_customer_id_is_refused(client: httpx.Client, business: str) -> None:
    """customerId must exist in the business's customers (current learn page)."""
    created = new_appointment(client, business)
    response = client.patch(_url(business, created["id"]), json={"customers": [{"@odata.type": ELEMENT, "customerId": "nobody"}]})
    assert response.status_code == 400 and "nobody" in response.json()["error"]["message"]


@pytest.mark.parametrize(("answer", "names", "registered"), [("drop", [], False), ("register", ["Ghost"], True)])
def test_unknown_customer_id_leniencies_are_switches(client: httpx.Client, control: httpx.Client, business: str,
                                                     answer: str, names: list, registered: bool) -> None:
    """Older page: an unknown id is silently dropped; the emulator's former leniency registered it."""
    control.post("/options", json={"patch_unknown_customer_id": answer})
    created = new_appointment(client, business)
    element = {"@odata.type": ELEMENT, "customerId": "ghost-id", "name": "Ghost"}
    assert client.patch(_url(business, created["id"]), json={"customers": [element]}).status_code == 204
    assert [c["name"] for c in client.get(_url(business, created["id"])).json()["customers"]] == names
    assert ("ghost-id" in _customer_ids(client, business)) is registered


def test_several_customers_need_more_than_one_seat(client: httpx.Client, business: str) -> None:
    """Two customers on a one-seat appointment: 400; with maximumAttendeesCount 2 they are accepted."""
    created = new_appointment(client, business)
    first, second = _customer_ids(client, business)[:2]
    customers = [{"@odata.type": ELEMENT, "customerId": first}, {"@odata.type": ELEMENT, "customerId": second}]
    assert client.patch(_url(business, created["id"]), json={"customers": customers}).status_code == 400
    assert client.patch(_url(business, created["id"]), json={"customers": customers, "maximumAttendeesCount": 2}).status_code == 204
    after = client.get(_url(business, created["id"])).json()
    assert after["filledAttendeesCount"] == 2 and after["customerName"] is None


@pytest.mark.parametrize(("accept", "status"), [(True, 204), (False, 400)])
def test_empty_customers_on_a_one_customer_appointment_is_a_switch(client: httpx.Client, control: httpx.Client, business: str,
                                                                  accept: bool, status: int) -> None:
    """UNCONFIRMED: accept_empty_customers (default on) empties the array; off, Graph's 400."""
    control.post("/options", json={"accept_empty_customers": accept})
    created = new_appointment(client, business)
    assert client.patch(_url(business, created["id"]), json={"customers": []}).status_code == status
    after = client.get(_url(business, created["id"])).json()
    assert (after["customers"] == [] and after["filledAttendeesCount"] == 0 and after["customerEmailAddress"] is None) is accept


@pytest.mark.parametrize(("keep", "answers"), [(False, []), (True, ANSWERS)])
def test_answers_survive_a_copy_back_only_when_switched_on(client: httpx.Client, control: httpx.Client, business: str,
                                                          keep: bool, answers: list) -> None:
    """UNCONFIRMED: by default the element as sent is stored, so answers left out are gone."""
    control.post("/options", json={"patch_keeps_custom_answers": keep})
    created = _with_answers(client, business)
    element = {"@odata.type": ELEMENT, "customerId": created["customers"][0]["customerId"], "name": "Anonymised"}
    client.patch(_url(business, created["id"]), json={"customers": [element]})
    assert client.get(_url(business, created["id"])).json()["customers"][0]["customQuestionAnswers"] == answers


def test_resent_answers_are_kept(client: httpx.Client, business: str) -> None:
    """A copy-back that resends the answers keeps them, as sent."""
    created = _with_answers(client, business)
    element = {**created["customers"][0], "customQuestionAnswers": [{**ANSWERS[0], "answer": ""}]}
    client.patch(_url(business, created["id"]), json={"customers": [element]})
    assert client.get(_url(business, created["id"])).json()["customers"][0]["customQuestionAnswers"][0]["answer"] == ""


# Bookings' own mail --------------------------------------------------------------------------------------
def _staff(client: httpx.Client, business: str) -> dict:
    return client.get(f"/solutions/bookingBusinesses/{business}/staffMembers").json()["value"][0]


def test_cancel_mails_customers_and_staff(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """bookingappointment-cancel sends a message to the customer and staff; the outbox records it."""
    staff = _staff(client, business)
    created = new_appointment(client, business, staffMemberIds=[staff["id"]])
    client.post(_url(business, created["id"]) + "/cancel", json={"cancellationMessage": "Closed"})
    [mail] = control.get("/mail", params={"kind": "cancellation"}).json()
    assert mail["trigger"] == "cancel" and mail["business"] == business and mail["appointmentId"] == created["id"]
    assert mail["recipients"] == ["ada@example.com", staff["emailAddress"]] and mail["sentDateTime"]


@pytest.mark.parametrize(("quirk", "mailed"), [(True, True), (False, False)])
def test_plain_delete_mails_customers_while_the_quirk_is_on(client: httpx.Client, control: httpx.Client, business: str,
                                                           quirk: bool, mailed: bool) -> None:
    """docs-contrib#9012: DELETE also sent cancellation mails (default on); off, DELETE mails nobody."""
    control.post("/options", json={"quirk_delete_appointment_mails_customers": quirk})
    created = new_appointment(client, business)
    assert client.delete(_url(business, created["id"])).status_code == 204
    sent = control.get("/mail", params={"recipient": "ADA@example.com"}).json()
    assert bool(sent) is mailed and all(m["trigger"] == "delete" for m in sent)


@pytest.mark.parametrize(("suppresses", "customer_mailed"), [(False, True), (True, False)])
def test_opt_out_before_delete_spares_the_customer_only_when_switched_on(client: httpx.Client, control: httpx.Client, business: str,
                                                                        suppresses: bool, customer_mailed: bool) -> None:
    """UNCONFIRMED: optOutOfCustomerEmail set first; staff are mailed either way."""
    control.post("/options", json={"opt_out_suppresses_delete_mail": suppresses})
    staff = _staff(client, business)
    created = new_appointment(client, business, staffMemberIds=[staff["id"]])
    client.patch(_url(business, created["id"]), json={"optOutOfCustomerEmail": True})
    client.delete(_url(business, created["id"]))
    [mail] = control.get("/mail", params={"kind": "cancellation"}).json()
    assert ("ada@example.com" in mail["recipients"]) is customer_mailed and staff["emailAddress"] in mail["recipients"]


# DELETE customer ---------------------------------------------------------------------------------------------
def test_delete_customer_may_answer_500_and_still_delete(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """docs-contrib#9012: 500 in Graph's error shape, the customer is gone (404 next), appointments keep their copy."""
    control.post("/options", json={"quirk_delete_customer_500_rate": 1.0})
    created = new_appointment(client, business)
    url = f"/solutions/bookingBusinesses/{business}/customers/{created['customers'][0]['customerId']}"
    response = client.delete(url)
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] and error["innerError"]["request-id"] == response.headers["request-id"]
    assert client.get(url).status_code == 404 and client.delete(url).status_code == 404
    # No cascade: the appointment still holds the customer's details.
    assert client.get(_url(business, created["id"])).json()["customers"][0]["emailAddress"] == "ada@example.com"


def test_delete_customer_answers_204_by_default(client: httpx.Client, business: str) -> None:
    """quirk_delete_customer_500_rate is 0.0 by default."""
    customer_id = _customer_ids(client, business)[0]
    assert client.delete(f"/solutions/bookingBusinesses/{business}/customers/{customer_id}").status_code == 204


def test_a_patched_element_without_customer_id_registers_a_new_customer(client: httpx.Client, business: str) -> None:
    """As on create (§1.3; on PATCH an inference): the element becomes a new bookingCustomer, stored as sent."""
    created = new_appointment(client, business)
    before = set(_customer_ids(client, business))
    element = {"@odata.type": ELEMENT, "name": "Anonymised", "emailAddress": ""}
    assert client.patch(_url(business, created["id"]), json={"customers": [element]}).status_code == 204
    [stored] = client.get(_url(business, created["id"])).json()["customers"]
    assert stored["customerId"] not in before and stored["customerId"] in _customer_ids(client, business)
    assert stored["name"] == "Anonymised" and stored["emailAddress"] is None


def test_a_refused_patch_registers_no_customer(client: httpx.Client, business: str) -> None:
    """An unknown id beside a new person: 400, and the new person was not made a bookingCustomer."""
    created = new_appointment(client, business)
    before = _customer_ids(client, business)
    elements = [{"@odata.type": ELEMENT, "name": "Newcomer"}, {"@odata.type": ELEMENT, "customerId": "nobody"}]
    response = client.patch(_url(business, created["id"]), json={"customers": elements, "maximumAttendeesCount": 2})
    assert response.status_code == 400 and _customer_ids(client, business) == before
