"""One row of `make bench`'s table: a figure, its target, what was measured, and the ratio to the
baseline measured in the same run (never to a number remembered from another machine or day).

Each benchmark prints its own detail as it likes, then calls `report(figures)`: that prints the
rows, and when BENCH_FIGURES names a file (as `make bench` sets it) appends them there as JSON
lines, so one table can be printed after every benchmark has run in its own process.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass

FIGURES_FILE = "BENCH_FIGURES"


@dataclass(frozen=True)
class Figure:
    """`ratio` is measured / baseline of the same run (None where a figure has no baseline, for
    example a count that must be zero); `met` says whether the target holds (None: no target)."""

    bench: str        # the script's name, e.g. "webhook_ack"
    name: str         # what is measured, e.g. "ack throughput vs bare Flask, PostgreSQL"
    target: str       # e.g. ">= 0.60", "p99 < 50 ms", "0"
    measured: str     # the measured value with its unit, e.g. "1,840 req/s"
    ratio: float | None
    met: bool | None


def report(figures: Iterable[Figure]) -> None:
    rows = list(figures)
    for figure in rows:
        ratio = "" if figure.ratio is None else f"{figure.ratio:.2f}x"
        verdict = {True: "ok", False: "MISSED", None: ""}[figure.met]
        print(f"  [{figure.bench}] {figure.name}: {figure.measured} (target {figure.target}) {ratio} {verdict}".rstrip())
    path = os.environ.get(FIGURES_FILE)
    if path:
        with open(path, "a", encoding="utf-8") as out:
            for figure in rows:
                out.write(json.dumps(asdict(figure)) + "\n")


def read_figures(path: str) -> list[Figure]:
    with open(path, encoding="utf-8") as lines:
        return [Figure(**json.loads(line)) for line in lines if line.strip()]
