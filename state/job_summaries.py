"""Each scheduled job's last success and last failure, from `job_runs` (state/leases.py).

Two grouped reads, whatever the number of runs kept: the newest run id per job and outcome, then
those runs. The dashboard's overview and administration pages show them.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func, select

from database.times import parse_time
from state.leases import JobRun


@dataclass(frozen=True)
class RunView:
    """One run: when it started and finished, how it ended, how long it took (None while running)."""

    started_at: str
    finished_at: str | None
    outcome: str

    @property
    def seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (parse_time(self.finished_at) - parse_time(self.started_at)).total_seconds()


@dataclass(frozen=True)
class JobSummary:
    """A job's newest run of each outcome; `last` is whichever of them is newest."""

    job: str
    last: RunView
    last_success: RunView | None
    last_failure: RunView | None

    @property
    def failing(self) -> bool:
        """Its newest finished run failed."""
        finished = [run for run in (self.last_success, self.last_failure) if run is not None]
        return bool(finished) and max(finished, key=lambda run: run.started_at).outcome == "failed"


def job_summaries(engine: Engine) -> list[JobSummary]:
    """Every job that has run, by name, with its newest run and its newest success and failure."""
    newest = select(JobRun.job, JobRun.outcome, func.max(JobRun.id)).group_by(JobRun.job, JobRun.outcome)
    with engine.connect() as connection:
        ids = {(job, outcome): run_id for job, outcome, run_id in connection.execute(newest)}
        rows = connection.execute(select(JobRun.id, JobRun.started_at, JobRun.finished_at, JobRun.outcome)
                                  .where(JobRun.id.in_(list(ids.values())))).all() if ids else []
    runs = {row.id: RunView(row.started_at, row.finished_at, row.outcome) for row in rows}
    summaries = []
    for job in sorted({job for job, _outcome in ids}):
        mine = {outcome: (run_id, runs[run_id]) for (name, outcome), run_id in ids.items() if name == job}
        _newest_id, last = max(mine.values(), key=lambda pair: pair[0])
        summaries.append(JobSummary(job, last, mine.get("ok", (0, None))[1], mine.get("failed", (0, None))[1]))
    return summaries
