"""The machine a `make bench` ran on, in one line: CPU model and count, memory, Python, the
PostgreSQL server's version, the date, and the load average seen during the run (other work on a
shared machine moves every figure, so the table says how busy it was)."""
from __future__ import annotations

import os
import platform
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import create_engine, text

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_url() -> str:
    """The server the benches measure: BENCH_DATABASE_URL, else TEST_DATABASE_URL, else the local test server."""
    return os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL") or DEFAULT_PG


def cpu() -> str:
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    models = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    count = sum(1 for line in lines if line.startswith("processor"))
    return f"{models[0] if models else platform.processor() or 'unknown CPU'} x {count}"


def memory() -> str:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return f"{int(line.split()[1]) / 1024 ** 2:.1f} GiB"
    return "unknown memory"


def postgres_version(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return "PostgreSQL " + connection.execute(text("SHOW server_version")).scalar_one()
    except Exception as exc:  # noqa: BLE001 - the line says why instead of failing the whole run
        return f"PostgreSQL unreachable ({type(exc).__name__})"
    finally:
        engine.dispose()


def load_average() -> float:
    """The 1-minute load average."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def describe(started: datetime, loads: list[float]) -> str:
    """One line about the machine, for a run that began at `started` and saw the load averages `loads`."""
    return (f"{cpu()}, {memory()}, Python {platform.python_version()}, {postgres_version(postgres_url())}; "
            f"{started:%Y-%m-%d %H:%M} to {datetime.now(timezone.utc):%H:%M} UTC; "
            f"1-minute load average {min(loads):.1f} to {max(loads):.1f} (sampled before each bench and at the end)")
