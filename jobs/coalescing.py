"""Coalesced work for the worker: a burst of identical requests costs Graph one piece of work per turn.

One leaked clientState lets anyone post a thousand lifecycle items, or a thousand notifications
about events that do not exist, and each becomes an inbox row. Each kind of work those rows ask
for follows a `Rule`: one turn at a time per subscription or business (state/coalescing.py keeps
the turns in the database), then a quiet period. A row whose work a turn that started after the
row arrived has done is simply done; a row that finds someone else's turn or a quiet period is
`Deferred`: the worker puts it back without counting an attempt, and it looks again later.

    rule = Rule("reauthorize", hold=timedelta(minutes=5), quiet=timedelta(minutes=5), from_start=True)
    if not already_done(engine, rule, subscription_id, arrived):
        outcome = in_turn(engine, clock, rule, subscription_id, work)   # may raise Deferred
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from state.coalescing import Turn, end_turn, last_done, next_turn, take_turn, turn_key

T = TypeVar("T")
# A deferred row looks again after at most this long: a turn usually ends well before its hold,
# and a row that then finds its work done costs one query, never a Graph call.
RECHECK = timedelta(seconds=30)


class Deferred(Exception):
    """Not this row's turn: look again at `until` (no attempt is counted)."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"deferred until {until.isoformat()}")
        self.until = until


@dataclass(frozen=True)
class Rule:
    """How one kind of work is coalesced.

    `hold` is the longest a turn may take (a worker that dies mid-turn frees it after this);
    `quiet` is how long no new turn starts, counted from the turn's start (`from_start`: a
    window, whatever the turn took) or from its end (a cool-down).
    """

    purpose: str
    hold: timedelta
    quiet: timedelta
    from_start: bool = False

    def key(self, ident: str) -> str:
        """The turn's key for one subscription or business."""
        return turn_key(self.purpose, ident)

    def quiet_until(self, turn: Turn, now: datetime) -> datetime:
        """When the next turn may start after `turn` ends at `now`."""
        return (turn.started if self.from_start else now) + self.quiet


def already_done(engine: Engine, rule: Rule, ident: str, arrived: datetime) -> bool:
    """Did a turn that started at or after `arrived` complete? Then it did what this row asks."""
    return covers(last_completed(engine, rule, ident), arrived)


def last_completed(engine: Engine, rule: Rule, ident: str) -> datetime | None:
    """When the last completed turn at this work started (None: none to rely on)."""
    return last_done(engine, rule.key(ident))


def covers(completed: datetime | None, arrived: datetime) -> bool:
    """Whether a turn completed after starting at `completed` did the work of a row that arrived at `arrived`."""
    return completed is not None and completed >= arrived


def take(engine: Engine, clock: Callable[[], datetime], rule: Rule, ident: str) -> Turn:
    """This caller's turn, or Deferred until it may look again."""
    now = clock()
    turn = take_turn(engine, rule.key(ident), now, hold=rule.hold)
    if turn is None:
        raise Deferred(recheck_at(engine, rule, ident, now))
    return turn


def finish(bind: Engine | Session, clock: Callable[[], datetime], rule: Rule, turn: Turn, *, done: bool) -> None:
    """End the turn; a failed one is followed by the same quiet period, so failures cannot hammer Graph."""
    end_turn(bind, turn, quiet_until=rule.quiet_until(turn, clock()), done=done)


def in_turn(engine: Engine, clock: Callable[[], datetime], rule: Rule, ident: str, work: Callable[[], T]) -> T:
    """Run `work` in this caller's turn (raises Deferred when it is not), then end the turn."""
    turn = take(engine, clock, rule, ident)
    try:
        result = work()
    except BaseException:
        finish(engine, clock, rule, turn, done=False)
        raise
    finish(engine, clock, rule, turn, done=True)
    return result


def resting_until(engine: Engine, rule: Rule, ident: str, now: datetime) -> datetime | None:
    """While a turn runs or its quiet period lasts, when a deferred row should look again; else None."""
    free = next_turn(engine, rule.key(ident))
    return min(free, now + RECHECK) if free is not None and free > now else None


def recheck_at(engine: Engine, rule: Rule, ident: str, now: datetime) -> datetime:
    """When a deferred row should look again: when the next turn may start, or after RECHECK."""
    free = next_turn(engine, rule.key(ident))
    return min(free, now + RECHECK) if free is not None and free > now else now + RECHECK
