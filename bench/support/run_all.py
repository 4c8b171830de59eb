"""`make bench`: every benchmark in bench/, each in its own process, one after another, then one
table of every figure they reported (bench, figure, target, measured, ratio to its baseline,
met/missed), also written as Markdown with the machine to var/bench/performance.md, from which
docs/performance.md is refreshed.

    .venv/bin/python bench/support/run_all.py [--only NAME ...] [--output PATH]

Each bench prints its own detail as it runs and reports its rows through `report()` into a fresh
BENCH_FIGURES file. The exit status is 1 when a bench crashed (exited non-zero, or reported no
figures); a missed target is a row of the table, not a crash.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402

from bench.support.bench_table import BenchRun, markdown, rich_table  # noqa: E402
from bench.support.figures import FIGURES_FILE, Figure, read_figures  # noqa: E402
from bench.support.machine import describe, load_average  # noqa: E402

OUTPUT = ROOT / "var" / "bench" / "performance.md"
# Benches another bench runs as part of its own figures (the issues asked for them there); run alone
# too they would measure the same thing twice, so `make bench` leaves them to that bench.
PARTS = {"anonymise": "retention", "request_notices": "requests"}


def benches(only: list[str] | None) -> list[Path]:
    """bench/*.py in name order, without the parts, or just those named."""
    scripts = sorted((ROOT / "bench").glob("*.py"))
    if only:
        missing = set(only) - {script.stem for script in scripts}
        if missing:
            raise SystemExit(f"no such bench: {', '.join(sorted(missing))}")
        return [script for script in scripts if script.stem in only]
    return [script for script in scripts if script.stem not in PARTS]


def run(script: Path, figures_file: Path) -> tuple[BenchRun, list[Figure]]:
    """Run one bench in a process of its own, its output passing through; how it ended, and its rows."""
    figures_file.unlink(missing_ok=True)
    print(f"== bench/{script.name}", flush=True)
    started = time.perf_counter()
    returncode = subprocess.run([sys.executable, str(script)], cwd=ROOT,
                                env={**os.environ, FIGURES_FILE: str(figures_file)}).returncode
    seconds = time.perf_counter() - started
    figures = read_figures(str(figures_file)) if figures_file.exists() else []
    return BenchRun(script.stem, returncode, seconds, len(figures)), figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these benches (file names without .py)")
    parser.add_argument("--output", type=Path, default=OUTPUT, help=f"the Markdown table (default {OUTPUT.relative_to(ROOT)})")
    args = parser.parse_args()
    started, loads = datetime.now(timezone.utc), [load_average()]
    figures_dir = args.output.parent / "figures"
    figures_dir.mkdir(parents=True, exist_ok=True)
    command = "make bench" if not args.only else f"bench/support/run_all.py --only {' '.join(args.only)}"
    scripts = benches(args.only)
    runs: list[BenchRun] = []
    figures: list[Figure] = []
    for number, script in enumerate(scripts, 1):
        ended, reported = run(script, figures_dir / f"{script.stem}.jsonl")
        runs.append(ended)
        figures += reported
        loads.append(load_average())
        # Written after every bench, so a run cut short still leaves the table of what it measured.
        pending = [later.stem for later in scripts[number:]]
        args.output.write_text(markdown(figures, runs, describe(started, loads), command, pending), encoding="utf-8")
    Console().print(rich_table(figures, f"make bench: {len(figures)} figures from {len(runs)} benches"))
    for crashed in (run for run in runs if run.crashed):
        print(f"CRASHED: {crashed.bench} (exit {crashed.returncode}, {crashed.figures} figures reported)")
    print(f"written to {args.output}")
    return 1 if any(run.crashed for run in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
