"""Starts one `bookings-ledger` command on the soak's warped clock (test code: no hook in the product).

    python tests/soak/launch.py worker        (SOAK_TIME_OFFSET_FILE names the offset file)

Before the command runs, every clock the service reads for *simulated* time is pointed at the
warp: the `datetime` that `ledger.transactions.utc_now` (every Ledger's and wiring's default
clock, bound at import), the web app's clock and the key store's default clock call. What stays
real on purpose: APScheduler's own timing and the retry sleeps (real seconds). The scheduler's
constants are measured in two clocks, so the soak sets both: its triggers tick (real) every
TICK so a step's due jobs run inside the step, and the lease (compared in simulated time) lasts
long enough in simulated time that the warp's jumps between two heartbeats cannot expire it.
"""
from __future__ import annotations

import logging
import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
TICK = timedelta(seconds=0.5)                 # real: a step lasts about a second, each due job runs in it
HEARTBEAT = timedelta(seconds=1)              # real
LEASE_TTL = timedelta(hours=6)                # simulated: about 15 real seconds at the soak's pace
WARPED_MODULES = ("ledger.transactions", "ledger.keystore", "bookings_ledger.app", "bookings_ledger.commands.token")


def install_warp(offset_file: Path) -> None:
    """Point the service's simulated clocks at `offset_file` (before any command builds a clock)."""
    import importlib

    sys.path.insert(0, str(HERE))
    from warp import WarpedClock

    clock = WarpedClock(offset_file)

    class WarpedDatetime(datetime):
        """`datetime` whose now() is simulated; everything else is the real class's."""

        @classmethod
        def now(cls, tz: timezone | None = None) -> datetime:  # type: ignore[override]
            return clock.now(timezone.utc).astimezone(tz) if tz else clock.now().replace(tzinfo=None)

    for name in WARPED_MODULES:
        importlib.import_module(name).datetime = WarpedDatetime  # type: ignore[attr-defined]

    # The soak's triggers tick far more often than a job takes, so APScheduler's "skipped: maximum
    # number of running instances reached" would be most of the log; it is expected here.
    from bookings_ledger import logs
    configure = logs.configure_process_logging

    def configure_then_quiet(*args: object, **options: object) -> None:
        configure(*args, **options)
        logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)

    logs.configure_process_logging = configure_then_quiet

    from jobs import scheduler, subscriptions
    scheduler.HEARTBEAT, scheduler.LEASE_TTL = HEARTBEAT, LEASE_TTL
    subscriptions.LEASE_TTL = LEASE_TTL   # "far longer than a pass takes": in simulated time too
    scheduler._tick = lambda interval: min(interval, TICK)


def main(argv: list[str]) -> int:
    install_warp(Path(os.environ["SOAK_TIME_OFFSET_FILE"]))
    from bookings_ledger.cli import main as cli_main
    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
