"""Helpers the benchmark scripts share: timing, tables, verdicts, ports, process memory, and the
figures of one contender.

The scripts import it as ``common`` (``python bench/quality.py`` puts ``bench/`` on the path).
Benchmarks print measured figures next to their targets; they never assert.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracer.blueprints.performance import Measured

__all__ = [
    "MEASURED",
    "Figures",
    "best_of",
    "keep_figure",
    "percentile",
    "print_table",
    "process_memory_mb",
    "verdict",
]

MEASURED: list[Measured] = []
"""The blueprint figures of this run, which ``bench/quality.py`` ships as the package's ``measured.json``."""


def keep_figure(figure: Measured) -> Measured:
    """Keep one blueprint figure for ``measured.json`` (and return it, to print)."""
    MEASURED.append(figure)
    return figure


@dataclass
class Figures:
    """One contender's measured figures (NaN where not measured)."""

    contender: str
    events: int = 0
    events_per_s: float = math.nan
    p50_ms: float = math.nan
    p99_ms: float = math.nan
    rss_mb: float = math.nan
    note: str = ""
    extra: dict[str, float] = field(default_factory=dict)

    def row(self) -> list[Any]:
        """The printed cells."""
        return [
            self.contender,
            self.events,
            self.events_per_s,
            self.p50_ms,
            self.p99_ms,
            self.rss_mb,
            self.note,
        ]


def best_of(runs: int, work: Callable[[], object], clock: Callable[[], float] = time.perf_counter) -> float:
    """The shortest time of ``runs`` calls of ``work``, in seconds (the least disturbed run).

    ``clock`` is wall time by default; ``time.process_time`` (this process's CPU time) is steadier on
    a machine other jobs share, since time spent waiting for a CPU doesn't count.
    """
    best = math.inf
    for _ in range(runs):
        started = clock()
        work()
        best = min(best, clock() - started)
    return best


def verdict(met: bool | None) -> str:
    """PASS / FAIL for a target, blank for a figure shown for context only."""
    return "" if met is None else ("PASS" if met else "FAIL")


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]], note: str = "") -> None:
    """A fixed-width table with a title line; numbers are right-aligned, text left-aligned."""
    cells = [[str(cell) for cell in header]] + [[_cell(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    numeric = [all(_looks_numeric(row[i]) for row in cells[1:] if row[i]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        parts = [
            cell.rjust(w) if num else cell.ljust(w) for cell, w, num in zip(row, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    rendered = [line(row) for row in cells]
    width = max(len(text) for text in rendered)
    print(f"\n{title}\n{'=' * max(width, len(title))}")
    print(rendered[0])
    print("-" * width)
    for text in rendered[1:]:
        print(text)
    if note:
        print(note)


def _looks_numeric(text: str) -> bool:
    """A number, possibly with thousands separators, a sign, a % or an x: right-aligned."""
    try:
        float(text.replace(",", "").rstrip("%x"))
    except ValueError:
        return text == "n/a"
    return True


def _cell(value: object) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a"
        magnitude = abs(value)
        if magnitude >= 1000:
            return f"{value:,.0f}"
        if magnitude >= 100:
            return f"{value:.1f}"
        return f"{value:.4f}" if magnitude < 10 else f"{value:.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "" if value is None else str(value)


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile (0..100) by linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def process_memory_mb(pid: int, field: str = "VmHWM", *, children: bool = False) -> float:
    """A memory figure of process ``pid`` from /proc (``VmHWM``: peak resident set; ``VmRSS``: now), in MB;
    with ``children``, the sum over it and its child processes (a worker and its router process)."""
    pids = [pid]
    if children:
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids += [int(child) for child in (task / "children").read_text().split()]
    total = 0.0
    for one in pids:
        for line in Path(f"/proc/{one}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                total += int(line.split()[1]) / 1024.0
                break
        else:
            return math.nan
    return total
