"""Progressive validation of a deployment over a dataset: every row is scored before it is learned.

:func:`replay` canonicalises the whole frame at once (numpy where the dtypes allow), sorts the rows
stably by the blueprint's time input when the frame has that column, then scores and learns them in
batches of ``batch_size`` (1: row by row; always 1 for a ``sequential`` blueprint), exactly as a stream would: the scores of a batch come
from the model as of the batch start, and each label is learned from the features captured when
its row was scored. Classifiers are measured with :class:`~tracer.online_models.metrics.BinaryMetrics`,
multi-class ones with :class:`~tracer.online_models.metrics.MultiClassMetrics`, regressors and
forecasters with :class:`~tracer.online_models.metrics.RegressionMetrics`.

The report also keeps every scored row in replay order (:class:`ReplayRows`: its position in the
frame, score, learned label, series and time), so ``tracer eval`` can score baselines on exactly the
rows the deployment was scored on (:mod:`tracer.online_models.baselines`). Replay is offline only;
the stream never builds these.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from tracer.blueprints.errors import InputError
from tracer.online_models.metrics import metrics_for
from tracer.online_models.scored import RowId, Scored

if TYPE_CHECKING:
    from tracer.online_models.deployment import Deployment

__all__ = ["ReplayReport", "ReplayRows", "replay"]

EXAMPLE_ERRORS = 5
"""How many errors a report quotes in full."""


@dataclass(frozen=True)
class ReplayRows:
    """Every scored row of a replay, in the order it was scored (time order when the blueprint has a time).

    ``positions`` are positions in the replayed frame (for ``frame.iloc``); ``labels`` hold the label
    the deployment learned for the row's prediction, or None when none arrived (no outcome, or a
    self-labelled prediction never settled); ``series`` is the row's entity (``Blueprint.entity_input``),
    None when the row names none; ``times_s`` its time in epoch seconds, if it has one.
    """

    positions: tuple[int, ...] = ()
    scores: tuple[float, ...] = ()
    labels: tuple[float | None, ...] = ()
    series: tuple[str | None, ...] = ()
    times_s: tuple[float | None, ...] = ()

    def __len__(self) -> int:
        return len(self.positions)


@dataclass(frozen=True)
class ReplayReport:
    """What a progressive-validation replay measured: every row is scored before it is learned."""

    blueprint: str
    n_rows: int
    n_scored: int
    n_learned: int
    n_errors: int
    metrics: dict[str, float]
    errors_by_reason: dict[str, int] = field(default_factory=dict)
    example_errors: tuple[str, ...] = ()
    seconds: float = 0.0
    first_error_by_reason: dict[str, str] = field(default_factory=dict)
    """The first error of each reason code, in full (it names the column and row)."""
    rows: ReplayRows = field(default_factory=ReplayRows)
    """Every scored row with its score and learned label, in replay order."""

    def __str__(self) -> str:
        shown = ", ".join(f"{name}={value:.4g}" for name, value in self.metrics.items())
        errors = f", {self.n_errors} errors {self.errors_by_reason}" if self.n_errors else ""
        return (
            f"{self.blueprint}: {self.n_rows} rows, {self.n_scored} scored, {self.n_learned} learned"
            f"{errors} in {self.seconds:.2f}s; {shown}"
        )


def replay(
    deployment: Deployment[Any],
    frame: pd.DataFrame,
    *,
    batch_size: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> ReplayReport:
    """Replay ``frame`` through ``deployment`` (which learns as it goes) and measure it.

    ``progress`` is called as ``progress(rows_done, rows_total)`` after each batch.
    """
    started = time.perf_counter()
    blueprint = deployment.blueprint
    resolution = deployment.resolve_frame(frame)
    records = deployment.canonical_frame(frame)  # with context features, from the deployment's profile
    items: list[tuple[RowId, dict[str, Any] | InputError]] = []
    for position, item in enumerate(records):
        label = frame.index[position]
        items.append((label if isinstance(label, (int, str)) else str(label), item))
    order = list(range(len(items)))
    time_input = blueprint.time_input
    if time_input is not None and time_input not in resolution.missing_optional:
        order.sort(key=lambda position: _time_order(items[position][1], time_input))
        items = [items[position] for position in order]
    metrics = metrics_for(blueprint.task)
    errors: list[InputError] = []
    kept = _Kept(blueprint.entity_input)
    n_scored = n_learned = 0
    step = 1 if blueprint.sequential else max(1, batch_size)  # sequential: learn each row before the next
    for start in range(0, len(items), step):
        batch = items[start : start + step]
        results = deployment.score_records(batch)
        scored: list[Scored[Any]] = []
        for offset, ((_, record), result) in enumerate(zip(batch, results, strict=True)):
            if isinstance(result, Scored):
                scored.append(result)
                kept.add(order[start + offset], result, record)
            else:
                errors.append(result)
        n_scored += len(scored)
        for captured, y in deployment.learn_from(scored):
            metrics.update(y, captured.score)
            kept.label(captured.key, y)
            n_learned += 1
        if deployment.watermark_s is not None:
            deployment.expire(deployment.watermark_s)
        if progress is not None:
            progress(len(errors) + n_scored, len(items))
    first_error_by_reason: dict[str, str] = {}
    for error in errors:
        first_error_by_reason.setdefault(str(error.reason), str(error))
    return ReplayReport(
        blueprint=blueprint.id,
        n_rows=len(items),
        n_scored=n_scored,
        n_learned=n_learned,
        n_errors=len(errors),
        metrics=metrics.get(),
        errors_by_reason=dict(Counter(str(error.reason) for error in errors)),
        example_errors=tuple(str(error) for error in errors[:EXAMPLE_ERRORS]),
        seconds=time.perf_counter() - started,
        first_error_by_reason=first_error_by_reason,
        rows=kept.rows(),
    )


class _Kept:
    """The scored rows a replay keeps for its report, and the label each one's prediction learned."""

    def __init__(self, entity_input: str) -> None:
        self.entity_input = entity_input
        self.positions: list[int] = []
        self.scores: list[float] = []
        self.labels: list[float | None] = []
        self.series: list[str | None] = []
        self.times_s: list[float | None] = []
        self._by_key: dict[str, int] = {}  # prediction key -> the latest row scored under it

    def add(self, position: int, scored: Scored[Any], record: dict[str, Any] | InputError) -> None:
        entity = None if isinstance(record, InputError) else record.get(self.entity_input)
        self._by_key[scored.key] = len(self.positions)
        self.positions.append(position)
        self.scores.append(scored.score)
        self.labels.append(None)
        self.series.append(None if entity is None else str(entity))
        self.times_s.append(scored.time_s)

    def label(self, key: str, y: float) -> None:
        index = self._by_key.get(key)
        if index is not None:
            self.labels[index] = y

    def rows(self) -> ReplayRows:
        return ReplayRows(
            tuple(self.positions),
            tuple(self.scores),
            tuple(self.labels),
            tuple(self.series),
            tuple(self.times_s),
        )


def _time_order(item: dict[str, Any] | InputError, time_input: str) -> tuple[int, float]:
    """Rows by time; rows without one (and bad rows) keep their order at the end."""
    if isinstance(item, InputError):
        return (1, 0.0)
    value = item.get(time_input)
    return (1, 0.0) if value is None else (0, float(value))
