"""Benchmark: appointments per second read through the connector from the emulator, against plain
httpx + json.loads of the same pages, in the same run.

    .venv/bin/python bench/connector_parse.py [--appointments 5000] [--rounds 3]

Target: the connector reaches at least 0.5 of the plain baseline (the typed SDK path reaches
about 0.01). A second table compares CPU only, on pages already fetched: json.loads against
json.loads plus our dataclass parsing, so the parsing cost shows even when the network dominates.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connector import GraphConnector, StaticCredential  # noqa: E402
from connector.parse import parse_appointment  # noqa: E402
from emulator import EmulatorServer  # noqa: E402
from bench.support.figures import Figure, report  # noqa: E402

TARGET = 0.5  # of the plain httpx + json.loads baseline (issue 4)


def plain_pages(graph_url: str, business: str) -> list[bytes]:
    """Every page of the appointments list, fetched with httpx alone; the raw bodies."""
    pages, url = [], f"{graph_url}/solutions/bookingBusinesses/{business}/appointments"
    with httpx.Client(headers={"Authorization": "Bearer emulator-token"}) as http:
        while url:
            raw = http.get(url).raise_for_status().content
            pages.append(raw)
            url = json.loads(raw).get("@odata.nextLink")
    return pages


def best_rate(rounds: int, count_items: Callable[[], int]) -> float:
    """The best items-per-second over `rounds` runs of `count_items()`."""
    rates = []
    for _ in range(rounds):
        started = time.perf_counter()
        items = count_items()
        rates.append(items / (time.perf_counter() - started))
    return max(rates)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appointments", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with EmulatorServer(port=0, seed=5) as emulator:
        business = httpx.post(f"{emulator.base_url}/_emulator/seed",
                              json={"appointmentsPerBusiness": args.appointments}).json()["businesses"][0]
        with GraphConnector(base_url=emulator.graph_url, credential=StaticCredential()) as graph:
            connector = best_rate(args.rounds, lambda: sum(1 for _ in graph.bookings.appointments(business)))
            baseline = best_rate(args.rounds, lambda: sum(len(json.loads(p)["value"])
                                                          for p in plain_pages(emulator.graph_url, business)))
        pages = plain_pages(emulator.graph_url, business)
    loads_only = best_rate(args.rounds, lambda: sum(len(json.loads(p)["value"]) for p in pages))
    parsed = best_rate(args.rounds, lambda: sum(1 for p in pages for a in json.loads(p)["value"]
                                                if parse_appointment(a, business)))
    print(f"{args.appointments} appointments in {len(pages)} pages, emulator on loopback HTTP, best of {args.rounds}")
    print(f"{'end to end':32} {'appointments/s':>15}")
    print(f"{'httpx + json.loads (baseline)':32} {baseline:>15,.0f}")
    print(f"{'connector (adapter + dataclasses)':32} {connector:>15,.0f}   ratio {connector / baseline:.2f}")
    print(f"{'CPU only, pages in memory':32} {'appointments/s':>15}")
    print(f"{'json.loads':32} {loads_only:>15,.0f}")
    print(f"{'json.loads + parse_appointment':32} {parsed:>15,.0f}   ratio {parsed / loads_only:.2f}")
    ok = connector / baseline >= TARGET
    print(f"target connector >= {TARGET} of baseline: {'met' if ok else 'MISSED'}")
    report([Figure("connector_parse", "appointments/s through the connector vs httpx + json.loads", f">= {TARGET} of baseline",
                   f"{connector:,.0f}/s (baseline {baseline:,.0f}/s)", connector / baseline, ok),
            Figure("connector_parse", "CPU only: json.loads + parse_appointment vs json.loads", "",
                   f"{parsed:,.0f}/s (baseline {loads_only:,.0f}/s)", parsed / loads_only, None)])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
