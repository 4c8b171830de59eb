"""The receiver as an attacker with a leaked clientState, or none, finds it: every malformed,
forged, foreign or repeated item is refused, counted by reason and never stored; refusals that
need no database cost no query; unknown subscription ids cost a bounded number of queries."""
import contextlib
import uuid

import pytest
from sqlalchemy import event

import state.subscription_lookup as lookup
from webhook_items import MAILBOX, MAILBOX_USER_ID, NOW, add_subscription, inbox_rows, lifecycle, metric, notification, post

OTHER_GUID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"


def _with(**changes):
    return lambda item, subscription: {**item, **changes}


def _without(name):
    return lambda item, subscription: {k: v for k, v in item.items() if k != name}


def _resource(path):
    return lambda item, subscription: {**item, "resource": path}


# (mutation of a genuine change item, status, reason counted); reason None: stored.
CHANGE_CASES = {
    "genuine": (lambda item, subscription: item, 202, None),
    "genuine-address-form-resource": (_resource(f"Users/{MAILBOX.upper()}/Events/AAMkAD-event-1"), 202, None),
    "genuine-parenthesised-resource": (_resource(f"Users('{MAILBOX_USER_ID}')/Events('AAMkAD-event-1')"), 202, None),
    "missing-client-state": (_without("clientState"), 400, "malformed"),
    "blank-client-state": (_with(clientState=""), 400, "malformed"),
    "oversized-client-state": (_with(clientState="x" * 129), 400, "malformed"),
    "forged-client-state": (_with(clientState="x" * 64), 202, "forged_client_state"),
    "missing-tenant": (_without("tenantId"), 202, "wrong_tenant"),
    "wrong-tenant": (_with(tenantId=OTHER_GUID), 202, "wrong_tenant"),
    "other-mailbox-resource": (_resource(f"Users/{OTHER_GUID}/Events/AAMkAD-event-1"), 202, "wrong_resource"),
    "other-address-resource": (_resource("Users/ceo@contoso.com/Events/AAMkAD-event-1"), 202, "wrong_resource"),
    "resource-names-another-event": (_resource(f"Users/{MAILBOX_USER_ID}/Events/other"), 202, "wrong_resource"),
    "resource-not-an-event": (_resource(f"Users/{MAILBOX_USER_ID}/Messages/AAMkAD-event-1"), 202, "wrong_resource"),
    "resource-with-extra-path": (_resource(f"Users/{MAILBOX_USER_ID}/Events/AAMkAD-event-1/attachments"), 202,
                                 "wrong_resource"),
    "non-guid-subscription-id": (_with(subscriptionId="sub-1"), 202, "malformed_subscription_id"),
    "guid-with-sql": (_with(subscriptionId="' OR 1=1 --"), 202, "malformed_subscription_id"),
    "unknown-subscription": (_with(subscriptionId=OTHER_GUID), 202, "unknown_subscription"),
}


@pytest.mark.parametrize("case", list(CHANGE_CASES))
def test_change_notification_security_table(app, client, subscription, case):
    """Each case: the documented status, its reason counted once, stored only when genuine."""
    mutate, status, reason = CHANGE_CASES[case]
    response = post(client, mutate(notification(subscription), subscription))
    assert response.status_code == status
    if reason is None:
        assert inbox_rows(app) == [(subscription["id"], "created", "AAMkAD-event-1")]
    else:
        assert inbox_rows(app) == []
        assert metric(client, f'bl_notifications_rejected_total{{reason="{reason}"}}') == 1.0


LIFECYCLE_CASES = {
    "genuine": (lambda item, subscription: item, 202, None),
    "missing-client-state": (_without("clientState"), 400, "malformed"),
    "forged-client-state": (_with(clientState="x" * 64), 202, "forged_client_state"),
    "wrong-tenant": (_with(tenantId=OTHER_GUID), 202, "wrong_tenant"),
    "non-guid-subscription-id": (_with(subscriptionId="sub-1"), 202, "malformed_subscription_id"),
    "unknown-subscription": (_with(subscriptionId=OTHER_GUID), 202, "unknown_subscription"),
}


@pytest.mark.parametrize("case", list(LIFECYCLE_CASES))
def test_lifecycle_notification_security_table(app, client, subscription, case):
    mutate, status, reason = LIFECYCLE_CASES[case]
    response = post(client, mutate(lifecycle(subscription), subscription), path="/webhooks/graph/lifecycle")
    assert response.status_code == status
    if reason is None:
        assert inbox_rows(app) == [(subscription["id"], "missed", None)]
    else:
        assert inbox_rows(app) == []
        assert metric(client, f'bl_notifications_rejected_total{{reason="{reason}"}}') == 1.0


def test_duplicate_is_stored_once_and_counted(app, client, subscription):
    item = notification(subscription)
    post(client, item, item)
    post(client, item)
    assert inbox_rows(app) == [(subscription["id"], "created", "AAMkAD-event-1")]
    assert metric(client, "bl_notifications_duplicate_total") == 2.0


@contextlib.contextmanager
def counted_queries(app):
    """The queries the app's engine runs inside the block, as a list that fills up."""
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):   # SQLite's own framing
            statements.append(statement)

    engine = app.extensions["bookings_ledger.engine"]
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


@pytest.mark.parametrize("changes", [{"subscriptionId": "not-a-guid"}, {"tenantId": OTHER_GUID}],
                         ids=["non-guid", "wrong-tenant"])
def test_refusals_that_need_no_database_cost_no_query(app, client, subscription, changes):
    items = [{**notification(subscription, event_id=f"e{i}"), **changes} for i in range(1000)]
    with counted_queries(app) as statements:
        assert post(client, *items).status_code == 202
    assert statements == []


def test_ten_thousand_unknown_subscription_ids_cost_a_bounded_number_of_queries(app, client, subscription):
    """10,000 distinct unknown GUIDs in 10 POSTs: one query per POST; sent again: none at all."""
    forged = [{**notification(subscription), "subscriptionId": str(uuid.uuid4())} for _ in range(10_000)]
    posts = [forged[i:i + 1000] for i in range(0, len(forged), 1000)]
    with counted_queries(app) as first:
        for items in posts:
            assert post(client, *items).status_code == 202
    with counted_queries(app) as again:
        for items in posts:
            assert post(client, *items).status_code == 202
    assert len(first) <= len(posts)
    assert again == []
    assert inbox_rows(app) == []
    assert metric(client, 'bl_notifications_rejected_total{reason="unknown_subscription"}') == 20_000


def test_one_unknown_id_repeated_costs_one_query(app, client, subscription):
    stranger = {**notification(subscription), "subscriptionId": OTHER_GUID}
    with counted_queries(app) as statements:
        for _ in range(200):
            post(client, stranger)
    assert len(statements) == 1


def test_the_negative_cache_stays_within_its_size(app, client, subscription, monkeypatch):
    """A flood evicts the oldest unknown ids: memory stays bounded, an evicted id is queried again."""
    monkeypatch.setattr(lookup, "NEGATIVE_CACHE_SIZE", 100)
    ids = [str(uuid.uuid4()) for _ in range(300)]
    for chunk in (ids[i:i + 50] for i in range(0, 300, 50)):
        post(client, *({**notification(subscription), "subscriptionId": sid} for sid in chunk))
    with counted_queries(app) as recent:
        post(client, {**notification(subscription), "subscriptionId": ids[-1]})
    with counted_queries(app) as evicted:
        post(client, {**notification(subscription), "subscriptionId": ids[0]})
    assert (len(recent), len(evicted)) == (0, 1)


def test_a_just_created_subscription_is_checked_against_the_pending_secret(app, client, client_state_key):
    """Graph may notify between its 201 and our save: ids cached as unknown before do not stand in the way."""
    from sqlalchemy.orm import Session

    from state.client_states import ClientStateKeys
    from state.subscriptions import save_pending

    post(client, {**notification({"id": OTHER_GUID, "client_state": "the-new-secret"})})   # unknown, cached
    with Session(app.extensions["bookings_ledger.engine"]) as session, session.begin():
        save_pending(session, ClientStateKeys(client_state_key), business_id=MAILBOX,
                     resource=f"users/{MAILBOX}/events", client_state="the-new-secret", now=NOW,
                     mailbox_user_id=MAILBOX_USER_ID)
    new = {"id": str(uuid.uuid4()), "client_state": "the-new-secret"}
    assert post(client, notification(new)).status_code == 202
    assert post(client, notification({**new, "client_state": "not-the-secret"}, event_id="e2")).status_code == 202
    assert inbox_rows(app) == [(new["id"], "created", "AAMkAD-event-1")]


LEGACY_CASES = {
    "directory-id-form": (f"Users/{MAILBOX_USER_ID}/Events/AAMkAD-event-1", None),
    "address-form": (f"Users/{MAILBOX}/Events/AAMkAD-event-1", None),
    "another-address": ("Users/ceo@contoso.com/Events/AAMkAD-event-1", "wrong_resource"),
    "another-event": (f"Users/{MAILBOX_USER_ID}/Events/other", "wrong_resource"),
}


@pytest.mark.parametrize("case", list(LEGACY_CASES))
def test_a_row_without_its_mailbox_id_checks_what_it_can(app, client, client_state_key, case):
    """Rows migrated from before 0011 have no mailbox id until the renewal job reads it."""
    subscription = add_subscription(app, client_state_key, mailbox_user_id=None)
    resource, reason = LEGACY_CASES[case]
    post(client, {**notification(subscription), "resource": resource})
    assert len(inbox_rows(app)) == (0 if reason else 1)
    if reason:
        assert metric(client, f'bl_notifications_rejected_total{{reason="{reason}"}}') == 1.0
