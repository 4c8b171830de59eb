"""bench/capacity.py counts what docs/scale.md claims per booking change: on a tiny run, one change
of each kind costs one notification, the Graph operations the model uses (3 for a new booking, 1
for a change to a held one) and one ledger entry of the kind it calls for."""
from __future__ import annotations

from pathlib import Path

import pytest

from bench.capacity import CLAIMED, isolated_costs
from bench.support.capacity_rig import DRIVER, Rig, service_requests


def test_service_requests_leave_out_the_driver_and_the_control_api() -> None:
    """A $batch envelope is one HTTP request and no operation; each member is one operation."""
    log = [
        {"path": "/v1.0/solutions/bookingBusinesses/b/appointments", "batched": False, "headers": {"client-request-id": DRIVER + "1"}},
        {"path": "/_emulator/notifications", "batched": False, "headers": {}},
        {"path": "/v1.0/$batch", "batched": False, "headers": {"client-request-id": "sdk"}},
        {"path": "/v1.0/users/b/events/e", "batched": True, "headers": {}},
        {"path": "/v1.0/solutions/bookingBusinesses/b/appointments/a", "batched": True, "headers": {}},
        {"path": "/v1.0/subscriptions/s", "batched": False, "headers": {"client-request-id": None}},
    ]
    assert service_requests(log) == (2, 3)


@pytest.mark.slow
def test_one_change_of_each_kind_costs_what_the_model_claims(database_url: str, tmp_path: Path) -> None:
    """Alone, each change is one notification, its Graph operations and one ledger entry; the
    web app stores one inbox row for it and the worker writes one ledger row."""
    with Rig(database_url, tmp_path, businesses=1) as rig:
        costs = isolated_costs(rig, repeats=1)
    for kind, (notifications, operations, entry) in CLAIMED.items():
        cost = costs[kind]
        assert (cost.notifications, cost.graph_operations) == (notifications, operations), kind
        assert cost.graph_http == operations, kind   # alone, every $batch carries one request
        assert cost.entries == {entry: 1}, kind
        assert (cost.rows["inbox"], cost.rows["ledger_entries"]) == (1, 1), kind
        assert cost.commits > 0, kind
