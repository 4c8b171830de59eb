"""`make bench`'s one table, from the Figure rows every benchmark reported: printed with rich, and
written as Markdown with the machine it ran on (docs/performance.md is refreshed from that file).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.table import Table

from bench.support.figures import Figure

COLUMNS = ("bench", "figure", "target", "measured", "ratio to baseline", "met")


@dataclass(frozen=True)
class BenchRun:
    """One benchmark script's run: its name, exit status and wall time."""

    bench: str
    returncode: int
    seconds: float
    figures: int      # rows it reported

    @property
    def crashed(self) -> bool:
        # A missed target is a reported row, not a crash: a bench exits non-zero only when it could
        # not measure, and one that reported nothing has skipped the table.
        return self.returncode != 0 or self.figures == 0


def cells(figure: Figure) -> tuple[str, ...]:
    """The row of a figure, as both renderings show it."""
    ratio = "" if figure.ratio is None else f"{figure.ratio:.2f}"
    verdict = {True: "met", False: "MISSED", None: ""}[figure.met]
    return figure.bench, figure.name, figure.target, figure.measured, ratio, verdict


def rich_table(figures: Sequence[Figure], title: str) -> Table:
    table = Table(title=title)
    for column in COLUMNS:
        table.add_column(column, justify="right" if column == "ratio to baseline" else "left")
    for figure in figures:
        row = cells(figure)
        style = "bold red" if figure.met is False else None
        table.add_row(*row, style=style)
    return table


def markdown(figures: Sequence[Figure], runs: Sequence[BenchRun], machine: str, command: str,
             pending: Sequence[str] = ()) -> str:
    """The table as Markdown, headed by the command and the machine, followed by each bench's wall
    time and the benches that have not run yet (while the run goes on)."""
    lines = [f"Command: `{command}`", "", f"Machine: {machine}", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_escape(cell) for cell in cells(figure)) + " |" for figure in figures]
    lines += ["", "Wall time per bench: " + ", ".join(f"{run.bench} {run.seconds:,.0f} s" for run in runs) + "."]
    if pending:
        lines += ["", f"Not run yet: {', '.join(pending)}."]
    crashed = [run for run in runs if run.crashed]
    if crashed:
        lines += ["", "Crashed: " + ", ".join(_crash(run) for run in crashed) + "."]
    missed = [figure for figure in figures if figure.met is False]
    lines += ["", f"{len(figures)} figures, {len(missed)} targets missed" + (
        ": " + "; ".join(f"{figure.bench} {figure.name}" for figure in missed) if missed else "") + "."]
    return "\n".join(lines) + "\n"


def _crash(run: BenchRun) -> str:
    return f"{run.bench} (exit {run.returncode})" if run.returncode else f"{run.bench} (reported no figures)"


def _escape(cell: str) -> str:
    # A "|" inside a cell would end it in Markdown.
    return cell.replace("|", "\\|")
