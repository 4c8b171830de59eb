"""The overview's blocks about what feeds the ledger: each business's subscription and completeness,
and the scheduled jobs' runs (the working state, state/)."""
from __future__ import annotations

from datetime import datetime, timedelta

from dashboard.context import context
from dashboard.overview_blocks import VERIFY_JOB, Block, shown
from database.times import parse_time
from state.business_status import BusinessStatus, business_statuses
from state.job_summaries import JobSummary, job_summaries

RENEWAL_MARGIN = timedelta(hours=24)   # renewal runs hourly, far ahead: a day left means it is not running
WATERMARK_LAG = timedelta(hours=2)     # delta rounds keep it minutes behind; hours behind means a stalled sync


def feed_blocks(now: datetime) -> list[Block]:
    """Subscriptions, completeness, job runs."""
    businesses = business_statuses(context().engine, context().settings.booking_businesses)
    return [subscriptions_block(businesses, now), completeness_block(businesses, now),
            jobs_block(job_summaries(context().engine))]


def subscriptions_block(businesses: list[BusinessStatus], now: datetime) -> Block:
    failing = [b for b in businesses if b.subscription_state != "active" or b.subscription_expires_at is None
               or parse_time(b.subscription_expires_at) - now < RENEWAL_MARGIN]
    if not businesses:
        summary = "No booking business is configured (setting BOOKING_BUSINESSES)."
    elif failing:
        summary = (f"{len(failing)} of {len(businesses)} booking businesses have no subscription that stays live "
                   "for the next day: Graph may not tell the service about their bookings. Ask IT to check.")
    else:
        summary = f"All {len(businesses)} booking businesses have a live Graph subscription."
    return Block("Subscription health", bool(failing) or not businesses, summary,
                 ("Business", "Subscription", "Expires"),
                 [(b.business_id, b.subscription_state or "none", shown(b.subscription_expires_at)) for b in businesses])


def completeness_block(businesses: list[BusinessStatus], now: datetime) -> Block:
    behind = [b for b in businesses if b.open_gaps or b.complete_until is None
              or now - parse_time(b.complete_until) > WATERMARK_LAG]
    if not businesses:
        summary = "No booking business is configured, so nothing is being kept complete."
    elif behind:
        summary = (f"{len(behind)} booking businesses are not known complete up to the last 2 hours "
                   "(a sync is behind, or notifications may have been lost and are being filled in).")
    else:
        summary = "The ledger matches Bookings up to the last 2 hours for every business."
    return Block("Completeness", bool(behind) or not businesses, summary,
                 ("Business", "Complete up to", "Gaps being filled", "Last notification received"),
                 [(b.business_id, shown(b.complete_until), str(b.open_gaps), shown(b.last_notification_at))
                  for b in businesses])


def jobs_block(jobs: list[JobSummary]) -> Block:
    # A failed verify is the integrity block's to report, with what it means.
    failing = [job.job for job in jobs if job.failing and job.job != VERIFY_JOB]
    summary = (f"The last run of {', '.join(failing)} failed: ask IT to look at the scheduler's log."
               if failing else "Every scheduled job's last run succeeded." if jobs else "No job has run yet.")
    return Block("Job runs", bool(failing) or not jobs, summary,
                 ("Job", "Last run", "Last success", "Last failure", "Duration"),
                 [(job.job, job.last.outcome, shown(job.last_success and job.last_success.started_at),
                   shown(job.last_failure and job.last_failure.started_at), _duration(job)) for job in jobs])


def _duration(job: JobSummary) -> str:
    seconds = job.last.seconds
    return "running" if seconds is None else f"{seconds:.1f} s"
