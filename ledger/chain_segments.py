"""Walking the hash chain in segments: one in-process walk, or consecutive segments in parallel.

Row i verifies against the stored hash of row i-1 and its own body alone, so the rows after the
start split into contiguous segments (after, upto] that worker processes walk at once, each on
its own read-only connection (on PostgreSQL inside the main connection's exported snapshot, so
all see one state). Segment k starts from the stored hash of row `after`, which segment k-1
verified as its last row; the main process checks that hand-over.

Each walk also grows the Merkle compact range of its rows up to the last checkpoint to check.
Segment boundaries past the first are multiples of a power-of-two segment size, so a segment's
range, counted from its own first leaf, is made of whole subtrees of the ledger's tree and joins
onto the ranges before it (`CompactRange.extend`).

The parallel walk only ever confirms. A segment that does not verify cleanly (a broken chain, a
missing row, a hand-over that differs) returns None, and verify falls back to the in-process walk
from the start, which names the first bad seq and reason exactly as it always has: a failing
verify of a large ledger takes about one parallel walk longer.
"""
from __future__ import annotations

import multiprocessing
import os
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field, replace

from sqlalchemy import Connection
from sqlalchemy.pool import NullPool

from ledger.core import merkle
from ledger.core.chain import GAP, ChainReport, verify_chain
from database.engine import create_ledger_engine, read_only
from ledger.entries import LAST_POSSIBLE_SEQ, last_seq, stored_hash, stream_row_batches

Progress = Callable[[int], None]
Row = tuple[int, bytes, bytes]
SEGMENTS_PER_WORKER = 4  # several per worker, so a worker that finishes early picks up another
SNAPSHOT_ID = re.compile(r"[0-9A-Fa-f-]+")  # what pg_export_snapshot() returns, e.g. 00000003-0000001B-1


def available_cpus() -> int:
    """The CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@dataclass(frozen=True)
class Parallelism:
    """When verify splits the chain across worker processes, and into what."""

    workers: int = field(default_factory=available_cpus)
    min_entries: int = 100_000  # below this, starting processes costs more than they save
    segment_size: int | None = None  # a power of two; None: sized from the range and the workers

    def __post_init__(self) -> None:
        if self.segment_size is not None and (self.segment_size < 1 or self.segment_size & (self.segment_size - 1)):
            raise ValueError(f"the segment size must be a power of two, not {self.segment_size}")

    def bounds(self, after: int, last: int) -> list[tuple[int, int]] | None:
        """The (after, upto] of each segment of the rows after..last, or None: walk them in one process."""
        count = last - after
        if self.workers < 2 or count <= self.min_entries:
            return None
        size = self.segment_size or 1 << (max(count // (self.workers * SEGMENTS_PER_WORKER), 1).bit_length() - 1)
        edges = [after, *range((after // size + 1) * size, last, size), last]
        return list(zip(edges, edges[1:]))


@dataclass(frozen=True)
class Segment:
    """Rows after..upto to verify, from `previous_hash` (None: the stored hash of row `after`)."""

    after: int
    previous_hash: bytes | None
    tree: merkle.CompactRange  # the range at `after` (the first segment) or an empty one
    limit: int  # grow the tree up to this seq: the last checkpoint to check
    sizes: frozenset[int]  # the checkpoint sizes, at which the tree is kept
    upto: int = LAST_POSSIBLE_SEQ


@dataclass(frozen=True)
class SegmentResult:
    """A segment's chain report and Merkle ranges: (range, entry hash) at each checkpoint size, and at its end."""

    previous_hash: bytes | None
    report: ChainReport
    checkpoint_trees: list[tuple[merkle.CompactRange, bytes]]
    tree: merkle.CompactRange


def walk_segment(connection: Connection, segment: Segment, progress: Progress | None = None) -> SegmentResult:
    """Verify the segment's rows on `connection`, growing its Merkle range up to the limit."""
    previous = segment.previous_hash if segment.previous_hash is not None else stored_hash(connection, segment.after)
    if previous is None:
        missing = ChainReport(0, segment.after, bytes(32), segment.after, GAP, f"seq {segment.after} is missing")
        return SegmentResult(None, missing, [], segment.tree)
    grower = _Grower(segment, progress)
    # closing(): a walk that stops at the first bad row must release its server-side cursor now.
    with closing(stream_row_batches(connection, segment.after, segment.upto)) as batches:
        report = verify_chain(grower.rows(batches), previous_hash=previous, first_seq=segment.after + 1)
    return SegmentResult(previous, report, grower.checkpoint_trees, grower.tree)


def walk(connection: Connection, segment: Segment, parallelism: Parallelism, progress: Progress | None = None) -> SegmentResult:
    """The segment walked in parallel when it is long enough, else (or unless clean) in one process."""
    bounds = parallelism.bounds(segment.after, min(segment.upto, last_seq(connection)))
    result = walk_in_parallel(connection, segment, bounds, parallelism.workers, progress) if bounds else None
    # Only a clean parallel walk counts; anything else is named by the walk in one process.
    return result or walk_segment(connection, segment, progress)


def walk_in_parallel(
    connection: Connection, segment: Segment, bounds: Sequence[tuple[int, int]], workers: int, progress: Progress | None
) -> SegmentResult | None:
    """The segment walked as consecutive segments by `workers` processes; None unless all verified cleanly."""
    url = connection.engine.url.render_as_string(hide_password=False)
    snapshot = _export_snapshot(connection)
    tasks = [
        (url, snapshot, replace(
            segment, after=after, upto=upto, previous_hash=segment.previous_hash if after == segment.after else None,
            tree=segment.tree if after == segment.after else merkle.CompactRange(),
        ))
        for after, upto in bounds
    ]
    results: list[SegmentResult] = []
    # fork: the workers start at once, without re-importing anything; they never touch the parent's
    # connections (each opens its own). After a bad segment, closing the map cancels the segments
    # not yet started and the pool waits for the running ones (killing them could leave the
    # pool's queue locked).
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        with closing(pool.map(_walk_task, tasks)) as walked:
            for result, (_after, upto) in zip(walked, bounds):
                handed_over = results[-1].report.last_hash if results else segment.previous_hash
                if not result.report.ok or result.report.last_seq != upto or result.previous_hash != handed_over:
                    return None
                results.append(result)
                if progress is not None:
                    progress(result.report.count)
    return _join(results)


def _walk_task(task: tuple[str, str | None, Segment]) -> SegmentResult:
    """A worker's walk of one segment, on its own connection."""
    url, snapshot, segment = task
    engine = create_ledger_engine(url, poolclass=NullPool)
    try:
        with read_only(engine) as connection:
            if snapshot is not None:
                connection.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            return walk_segment(connection, segment)
    finally:
        engine.dispose()


def _export_snapshot(connection: Connection) -> str | None:
    """The PostgreSQL snapshot the workers share; None on SQLite."""
    # SQLite cannot share a snapshot across processes; it needs none: rows are append-only and
    # every segment ends at or before the last seq the main connection saw.
    if connection.dialect.name == "sqlite":
        return None
    snapshot = connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
    if not SNAPSHOT_ID.fullmatch(snapshot):  # it goes into SQL as a literal (SET takes no parameters)
        raise ValueError(f"unexpected snapshot id {snapshot!r}")
    return snapshot


def _join(results: Sequence[SegmentResult]) -> SegmentResult:
    """One result for consecutive, clean segments: ranges of the whole tree, one chain report."""
    tree, checkpoint_trees = merkle.CompactRange(), []
    for result in results:
        checkpoint_trees += [(tree.extend(local), entry_hash) for local, entry_hash in result.checkpoint_trees]
        tree = tree.extend(result.tree)
    last = results[-1].report
    report = ChainReport(sum(result.report.count for result in results), last.last_seq, last.last_hash)
    return SegmentResult(results[0].previous_hash, report, checkpoint_trees, tree)


class _Grower:
    """Feeds rows to the chain check while growing the segment's Merkle range up to the limit."""

    def __init__(self, segment: Segment, progress: Progress | None) -> None:
        self.tree = merkle.CompactRange(segment.tree.size, segment.tree.peaks)
        self.offset = segment.after - segment.tree.size  # seq of the leaf before the range's first
        self.limit, self.sizes, self.progress = segment.limit, segment.sizes, progress
        self.checkpoint_trees: list[tuple[merkle.CompactRange, bytes]] = []

    def rows(self, batches: Iterator[Sequence[Row]]) -> Iterator[Row]:
        """The rows of every batch, after their leaves went into the tree (up to the limit)."""
        for batch in batches:
            if self.offset + self.tree.size < self.limit:
                self._grow(batch)
            if self.progress is not None:
                self.progress(len(batch))
            yield from batch

    def _grow(self, batch: Sequence[Row]) -> None:
        for seq, _body, entry_hash in batch:
            if seq > self.limit or seq != self.offset + self.tree.size + 1:
                return  # beyond the checkpoints, or a gap the chain check will name
            self.tree.append(merkle.leaf_hash(entry_hash))
            if seq in self.sizes:
                self.checkpoint_trees.append((merkle.CompactRange(self.tree.size, self.tree.peaks), entry_hash))
