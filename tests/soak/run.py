"""The soak: the whole production shape through simulated days, bounded and self-stopping.

    python tests/soak/run.py --days 7 [--seed N] [--port-base 18600] [--work-dir DIR]

The emulator as its own process, `db upgrade`, `serve` under gunicorn (2 workers), 2 `worker`s and
2 `scheduler`s on PostgreSQL (TEST_DATABASE_URL's server: a ledger database and a key-store
database, random names, dropped after), all on the warped clock (warp.py, launch.py). Each step
moves simulated time forward by a step (90 minutes) in the offset file and on the emulator's clock, gives the
step its real time, then samples the watermark lag. The scenario (scenario.py) adds bursts,
throttling, outages, lifecycle events and kills; notification faults run throughout; the request
stream files data-subject requests until a day or so before the end. Then traffic stops, the inbox
drains, `sync` runs a last reconcile, and the checks decide the exit code (0: every check passed).
"""
from __future__ import annotations

import argparse
import json
import secrets
import signal
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT_VAR = HERE.parents[1] / "var"
sys.path[:0] = [str(HERE.parents[1]), str(HERE)]

from databases import soak_databases            # noqa: E402
from processes import ProcessTree               # noqa: E402
from run_state import SoakRun                   # noqa: E402
from scenario import (BURST_RATE, BURST_SECONDS, NOTIFICATION_FAULTS, OUTAGE, STEADY_RATE,  # noqa: E402
                      THROTTLE, Event, plan)
from warp import OFFSET_FILE_SETTING, Warp      # noqa: E402

from checks import print_report, run_checks       # noqa: E402
from evidence import save_evidence                # noqa: E402
from personal_values import PersonalValues        # noqa: E402
from request_stream import RequestStream          # noqa: E402

STEP_MINUTES = 90                  # simulated time per step (--step-minutes)
STEP_SECONDS = 0.6                 # real time each step is given at least
# and at most, waiting for the service to catch up with the step: a calendar round that failed for
# a business (throttled past its retries, an outage) runs again DELTA_INTERVAL_MINUTES (1) later, a
# real minute inside a step; at 20 s and then 45 s the step ended first and sampled 90 minutes of lag.
SETTLE_SECONDS = 75
# An inbox row deferred by less than this (a coalesced lifecycle row rechecks in 30 s) is work still
# under way, not a retry's backoff: the step waits for it rather than jump 90 minutes over it.
SHORT_DEFERRAL = timedelta(seconds=60)
SAMPLE_EVERY = timedelta(hours=3)  # how often the personal values Graph holds are gathered
BUSINESSES, APPOINTMENTS = 3, 40
DRAIN_STEPS = 60


class Emulator:
    """The emulator's control API and the Graph routes the harness reads."""

    def __init__(self, url: str) -> None:
        self.url = url

    def call(self, method: str, path: str, body: object = None) -> object:
        request = urllib.request.Request(f"{self.url}{path}", method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json", "Authorization": "Bearer soak"})
        with urllib.request.urlopen(request, timeout=60) as answer:
            raw = answer.read()
        return json.loads(raw) if raw else None

    def subscriptions(self) -> list[dict]:
        # From the control API, which the injected Graph faults (429, 503 on /v1.0/) never touch.
        return self.call("GET", "/_emulator/state?appointments=false")["subscriptions"]  # type: ignore[index]


def wait_for(what: str, ready, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"timed out waiting for {what}")


def answers(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return answer.status == 200


def service_settings(work: Path, database_url: str, keystore_url: str, emulator_url: str, web_url: str) -> dict[str, str]:
    from bookings_ledger.keys import generate_all_keys

    return {
        **generate_all_keys(),
        "DATABASE_URL": database_url, "KEYSTORE_URL": keystore_url,
        "GRAPH_BASE_URL": f"{emulator_url}/v1.0", "GRAPH_CREDENTIAL": "static",
        "PUBLIC_BASE_URL": web_url, "AUTH_MODE": "local", "LOCAL_PASSWORD": secrets.token_urlsafe(12),
        "RETENTION_POLICY_FILE": str(HERE / "retention-soak.toml"),
        # Job intervals in simulated minutes (the scheduler decides due jobs on the warped clock).
        "DELTA_INTERVAL_MINUTES": "1", "RETENTION_INTERVAL_MINUTES": "60", "ANONYMISE_INTERVAL_MINUTES": "15",
        "REQUEST_INTERVAL_MINUTES": "5", "RECONCILE_INTERVAL_MINUTES": "1440",
        # The horizon covers every appointment the emulator seeds (90 days back, 30 ahead) and the
        # run: "the ledger equals Graph" is then about all of Graph, not a window of it.
        "RECONCILE_DAYS_BACK": "120", "RECONCILE_DAYS_AHEAD": "60",
        "CHECKPOINT_DIR": str(work / "checkpoints"), "EXPORT_DIR": str(work / "exports"),
        "LOG_FORMAT": "json", "LOG_LEVEL": "INFO",
        OFFSET_FILE_SETTING: str(work / "time-offset"),
    }


class Soak:
    """One run: start the tree, drive the steps and the scenario, drain, check."""

    def __init__(self, args: argparse.Namespace, work: Path, urls: tuple[str, str]) -> None:
        self.args, self.work = args, work
        self.stride = timedelta(minutes=args.step_minutes)
        self.log_dir = work / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.warp = Warp(work / "time-offset")
        self.emulator_port, self.web_port = args.port_base, args.port_base + 1
        self.emulator = Emulator(f"http://127.0.0.1:{self.emulator_port}")
        self.web_url = f"http://127.0.0.1:{self.web_port}"
        self.settings = service_settings(work, *urls, self.emulator.url, self.web_url)
        self.tree = ProcessTree(self.settings, self.log_dir)
        self.faults: dict[str, int] = {"throttle": 0, "outage": 0, "burst": 0, "lifecycle": 0}
        self.changes = 0
        self.samples: list = []
        self.killed: list[str] = []

    def start(self) -> None:
        seed = self.args.seed
        # --seed seeds the booking businesses too, and makes ids and fault dice reproducible.
        self.tree.start("emulator", ["emulator", "--port", str(self.emulator_port), "--seed", str(seed),
                                     "--businesses", str(BUSINESSES), "--appointments", str(APPOINTMENTS)])
        wait_for("the emulator", lambda: answers(f"{self.emulator.url}/_emulator/clock"))
        granted = self.emulator.call("GET", "/_emulator/options")["granted_permissions"]  # type: ignore[index]
        self.emulator.call("POST", "/_emulator/options", {"granted_permissions": [*granted, "Calendars.ReadWrite"]})
        state = self.emulator.call("GET", "/_emulator/state?appointments=false")
        businesses = [entry["business"]["id"] for entry in state["businesses"]]  # type: ignore[index]
        self.settings.update(BOOKING_BUSINESSES=",".join(businesses), GRAPH_TENANT_ID=state["tenantId"])  # type: ignore[index]
        self.tree.env.update(self.settings)
        self.tree.run("db-upgrade", ["db", "upgrade"])
        self.api_token = self.tree.run("token", ["token", "create", "--name", "soak", "--scope", "requests:read",
                                                 "--scope", "requests:write", "--scope", "requests:run"]).strip()
        self.tree.start("web", ["serve", "--bind", f"127.0.0.1:{self.web_port}", "--workers", "2",
                                "--allow-local-sign-in"])
        wait_for("serve", lambda: answers(f"{self.web_url}/healthz"))
        for name in ("worker-1", "worker-2"):
            self.tree.start(name, ["worker", "--interval", "0.2"])
        for name in ("scheduler-1", "scheduler-2"):
            self.tree.start(name, ["scheduler"])
        wait_for("a subscription per business (the scheduler's handshake)",
                 lambda: len(self.emulator.subscriptions()) >= BUSINESSES, timeout=180)
        # The first delta round opens each calendar's link (a sweep each), one interval after the
        # scheduler starts in real time; simulated time starts moving once it has.
        from database.engine import create_ledger_engine
        from state.leases import last_success

        engine = create_ledger_engine(self.settings["DATABASE_URL"])
        wait_for("the first delta round", lambda: last_success(engine, "follow-calendars") is not None, timeout=300)
        engine.dispose()
        self.emulator.call("POST", "/_emulator/faults", {"notifications": NOTIFICATION_FAULTS})
        self.traffic(STEADY_RATE)

    def traffic(self, rate: float, duration: float | None = None) -> None:
        status = self.emulator.call("GET", "/_emulator/traffic")
        self.changes += sum(status.get("done", {}).values())  # type: ignore[union-attr]
        self.emulator.call("POST", "/_emulator/traffic", {"rate": rate, "duration": duration,
                                                           "seed": self.args.seed + self.changes})

    def apply(self, event: Event) -> None:
        if event.kind == "kill":
            self.tree.kill_and_restart(event.what)
            self.killed.append(event.what.split("-")[0])
            return
        self.faults[event.kind] += 1
        if event.kind == "burst":
            self.traffic(BURST_RATE, BURST_SECONDS)
        elif event.kind in ("throttle", "outage"):
            rule = {**(THROTTLE if event.kind == "throttle" else OUTAGE), "route": "/v1.0/"}
            self.emulator.call("POST", "/_emulator/faults", {"requests": [rule], "notifications": NOTIFICATION_FAULTS})
            self.outage_until = self.warp.now() + self.stride
        elif event.kind == "lifecycle":
            subscription = self.emulator.subscriptions()[0]
            self.emulator.call("POST", "/_emulator/lifecycle", {"subscriptionId": subscription["id"],
                                                                 "lifecycleEvent": event.what})

    def step(self, engine) -> None:
        """Jump a step ahead, then give the step its real time: at least STEP_SECONDS, and up to
        SETTLE_SECONDS until the service is quiet (every watermark has reached the jump's instant,
        no inbox row is due, Graph has nothing left to deliver, no job is running). A job's run
        takes real seconds, each worth minutes here: a jump in the middle of one would charge the
        run hours of simulated time it did not take (an anonymisation run of 25 operations spanned
        six steps, 9 simulated hours, and the check found its operations late). The lag sampled is the jump's
        instant minus the furthest-behind watermark, so it counts what processing did not catch up
        with, not the real seconds the harness waited (each worth minutes here): the clock moves on
        only once the service has caught up, or could not within SETTLE_SECONDS, which is a finding."""
        from state.watermarks import watermark_lags

        self.warp.advance(self.stride)
        self.emulator.call("POST", "/_emulator/clock", {"advanceSeconds": self.stride.total_seconds()})
        instant, began = self.warp.now(), time.monotonic()
        time.sleep(self.args.step_seconds)
        while True:
            elapsed = (self.warp.now() - instant).total_seconds()
            lag = max(0.0, max(watermark_lags(engine, self.warp.now()).values(), default=0.0) - elapsed)
            quiet = (lag == 0.0 and not self.inbox_due(engine) and not self.jobs_running(engine)
                     and not self.emulator.call("GET", "/_emulator/notifications")["pending"])
            if quiet or time.monotonic() - began >= SETTLE_SECONDS:
                break
            time.sleep(0.2)
        self.samples.append((instant, lag))
        dead = {name: code for name, code in self.tree.alive().items() if code is not None}
        if dead:
            raise RuntimeError(f"a service process exited: {dead}; logs in {self.log_dir}")

    def inbox_due(self, engine) -> int:
        """Inbox rows pending and due now or within SHORT_DEFERRAL (a row deferred further is not)."""
        from sqlalchemy import func, select

        from database.times import format_time
        from state.inbox import InboxRow

        with engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(InboxRow).where(
                InboxRow.state == "pending", InboxRow.not_before <= format_time(self.warp.now() + SHORT_DEFERRAL))).scalar_one()

    def jobs_running(self, engine) -> int:
        """The scheduler's job runs started and not finished."""
        from sqlalchemy import func, select

        from state.leases import JobRun

        with engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(JobRun).where(JobRun.outcome == "running")).scalar_one()

    def drive(self) -> SoakRun:
        from database.engine import create_ledger_engine

        engine = create_ledger_engine(self.settings["DATABASE_URL"])
        personal = PersonalValues()
        stream = RequestStream(self.web_url, self.api_token, self.emulator.url, seed=self.args.seed,
                               regimes=("gdpr", "ccpa"))
        started = self.warp.now()
        end = started + timedelta(days=self.args.days)
        stop_filing = end - timedelta(days=min(1.5, self.args.days / 2))
        events = plan(self.args.seed, self.args.days)
        next_sample, filing, self.outage_until = started, True, None
        while self.warp.now() < end:
            while events and started + events[0].at <= self.warp.now():
                self.apply(events.pop(0))
            if self.outage_until is not None and self.warp.now() >= self.outage_until:
                self.emulator.call("POST", "/_emulator/faults", {"notifications": NOTIFICATION_FAULTS})
                self.outage_until = None
            self.step(engine)
            if filing and self.warp.now() >= stop_filing:
                stream.stop_filing()
                filing = False
            stream.step(self.warp.now())   # after stop_filing it still takes the filed ones through
            if self.warp.now() >= next_sample:
                personal.sample(self.emulator.url)
                next_sample = self.warp.now() + SAMPLE_EVERY
        self.drain(engine)
        personal.sample(self.emulator.url)
        engine.dispose()
        return SoakRun(settings=self.settings, emulator_url=self.emulator.url, web_url=self.web_url,
                       api_token=self.api_token, log_dir=self.log_dir, started=started, ended=self.warp.now(),
                       watermark_samples=self.samples, killed=self.killed, seed=self.args.seed,
                       faults=self.faults), personal, stream

    def drain(self, engine) -> None:
        """Traffic and faults stop; the inbox empties; a last reconcile."""
        from state import inbox

        self.traffic(STEADY_RATE, 0.001)
        self.emulator.call("DELETE", "/_emulator/faults")
        # Simulated time goes on while it drains: deferred rows and Retry-After waits come due.
        for _ in range(DRAIN_STEPS):
            self.step(engine)
            if inbox.depth(engine)[0] == 0:
                break
        else:
            raise RuntimeError(f"the inbox did not drain in {DRAIN_STEPS} steps")
        self.tree.run("sync", ["sync"], timeout=300)
        self.step(engine)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=float, default=7)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--port-base", type=int, default=18600)
    parser.add_argument("--step-minutes", type=float, default=STEP_MINUTES)
    parser.add_argument("--step-seconds", type=float, default=STEP_SECONDS)
    parser.add_argument("--work-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    # A SIGTERM (a CI step cancelled, `kill`) ends the run through the `finally` below, which stops
    # every service process and drops the databases, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ROOT_VAR.mkdir(exist_ok=True)
    args.seed = secrets.randbelow(10**6) if args.seed is None else args.seed
    # Under var/ (make clean removes it), not /tmp: the logs are the run's evidence and outlive it.
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="soak-", dir=ROOT_VAR))
    print(f"soak: seed {args.seed}, {args.days:g} simulated days, work dir {work}", flush=True)
    wall = time.monotonic()
    with soak_databases(work) as urls:
        soak = Soak(args, work, urls)
        try:
            soak.start()
            run, personal, stream = soak.drive()
            results = run_checks(run, personal)
            print(f"soak: evidence in {save_evidence(run, work)}", flush=True)
        finally:
            soak.tree.stop_all()
    print_report(results)
    lag = max((s for _, s in run.watermark_samples), default=0.0)
    print(f"soak: seed {args.seed}; booking changes {soak.changes}; requests {stream.summary()}; "
          f"faults {run.faults}; killed {run.killed}; max watermark lag {lag / 60:.1f} simulated min; "
          f"wall {time.monotonic() - wall:.0f} s", flush=True)
    return 0 if all(result.passed for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
