"""Benchmark: HTTP requests and wall time to read and to anonymise 1,000 appointments, one by one
against $batch, in one run against the emulator over loopback HTTP.

    .venv/bin/python bench/graph_batching.py [--appointments 1000]

Target: at most 60 HTTP requests per 1,000 appointments for each batched phase. One-by-one runs
on 4 threads, the most one mailbox allows, so it is the best that can be done without batching.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connector import AppointmentUpdate, CustomerInfo, GraphConnector, StaticCredential  # noqa: E402
from emulator import EmulatorServer  # noqa: E402
from bench.support.figures import Figure, report  # noqa: E402

TARGET = 60  # HTTP requests per 1,000 appointments, each batched phase (issue 4)
ANONYMOUS = AppointmentUpdate(customers=(CustomerInfo(customer_id=None, name="Anonymised", email="", phone=""),),
                              service_notes="")


def measure(control: httpx.Client, work: Callable[[], object]) -> tuple[int, int, float]:
    """(HTTP requests that reached the emulator, Graph operations, seconds) for `work`."""
    control.delete("/requests").raise_for_status()
    started = time.perf_counter()
    work()
    elapsed = time.perf_counter() - started
    counts = {key: n for key, n in control.get("/requests").json().items() if "/_emulator/" not in key}
    envelopes = sum(n for key, n in counts.items() if " /v1.0/$batch " in key)
    others = sum(counts.values()) - envelopes
    # Batch members are counted by the emulator under their own routes; they are not HTTP requests.
    return (envelopes or others), others, elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appointments", type=int, default=1000)
    n = parser.parse_args().appointments
    with EmulatorServer(port=0, seed=3) as emulator, httpx.Client(base_url=emulator.base_url + "/_emulator") as control:
        business = control.post("/seed", json={"appointmentsPerBusiness": n, "customersPerBusiness": 100}).json()["businesses"][0]
        with GraphConnector(base_url=emulator.graph_url, credential=StaticCredential()) as graph:
            ids = [a.id for a in graph.bookings.appointments(business)]
            one_by_one = ThreadPoolExecutor(4)
            phases = {
                "read, one by one": lambda: list(one_by_one.map(lambda i: graph.bookings.appointment(business, i), ids)),
                "read, $batch": lambda: [r.value for r in graph.bookings.appointments_by_ids(business, ids)],
                "anonymise, one by one": lambda: list(one_by_one.map(
                    lambda i: graph.bookings.update_appointment(business, i, ANONYMOUS), ids)),
                "anonymise, $batch": lambda: list(graph.bookings.update_appointments(business, dict.fromkeys(ids, ANONYMOUS))),
            }
            results = {name: measure(control, work) for name, work in phases.items()}
            one_by_one.shutdown()
    print(f"{len(ids)} appointments, emulator on loopback HTTP")
    print(f"{'phase':24} {'HTTP requests':>14} {'Graph ops':>10} {'per 1,000':>10} {'wall s':>8}")
    for name, (requests, operations, seconds) in results.items():
        print(f"{name:24} {requests:>14} {operations:>10} {requests * 1000 / len(ids):>10.0f} {seconds:>8.2f}")
    batched = [results["read, $batch"][0], results["anonymise, $batch"][0]]
    ok = all(r * 1000 / len(ids) <= TARGET for r in batched)
    for verb in ("read", "anonymise"):
        slow, fast = results[f"{verb}, one by one"][2], results[f"{verb}, $batch"][2]
        print(f"{verb}: $batch is {slow / fast:.1f}x faster than one by one on 4 threads")
    print(f"target <= {TARGET} HTTP requests per 1,000 appointments: {'met' if ok else 'MISSED'}")
    report(figures(results, len(ids)))
    return 0


def figures(results: dict[str, tuple[int, int, float]], count: int) -> list[Figure]:
    """Per verb: batched requests per 1,000 against one by one, and the wall time against one by one."""
    rows = []
    for verb in ("read", "anonymise"):
        (slow_requests, _, slow_seconds), (requests, _, seconds) = results[f"{verb}, one by one"], results[f"{verb}, $batch"]
        per_thousand = requests * 1000 / count
        rows += [Figure("graph_batching", f"{verb} {count:,} appointments, $batch vs one by one: HTTP requests per 1,000",
                        f"<= {TARGET}", f"{per_thousand:.0f}", requests / slow_requests, per_thousand <= TARGET),
                 Figure("graph_batching", f"{verb} {count:,} appointments, $batch vs one by one on 4 threads: wall time",
                        "", f"{seconds:.2f} s", seconds / slow_seconds, None)]
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
