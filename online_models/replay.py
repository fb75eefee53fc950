"""Progressive validation of a deployment over a dataset: every row is scored before it is learned.

:func:`replay` canonicalises the whole frame at once (numpy where the dtypes allow), sorts the rows
stably by the blueprint's time input when the frame has that column, then scores and learns them in
batches of ``batch_size`` (1: row by row; always 1 for a ``sequential`` blueprint), exactly as a stream would: the scores of a batch come
from the model as of the batch start, and each label is learned from the features captured when
its row was scored. Classifiers are measured with :class:`~tracer.online_models.metrics.BinaryMetrics`,
regressors and forecasters with :class:`~tracer.online_models.metrics.RegressionMetrics`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from tracer.blueprints.errors import InputError
from tracer.blueprints.inputs import canonical_frame, resolve_columns
from tracer.online_models.metrics import BinaryMetrics, RegressionMetrics
from tracer.online_models.scored import RowId, Scored

if TYPE_CHECKING:
    from tracer.online_models.deployment import Deployment

__all__ = ["ReplayReport", "replay"]

EXAMPLE_ERRORS = 5
"""How many errors a report quotes in full."""


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
    resolution = resolve_columns(blueprint, frame.columns, deployment.column_mapping)
    records = canonical_frame(resolution, frame, on_error="keep")
    items: list[tuple[RowId, dict[str, Any] | InputError]] = []
    for position, item in enumerate(records):
        label = frame.index[position]
        items.append((label if isinstance(label, (int, str)) else str(label), item))
    time_input = blueprint.time_input
    if time_input is not None and time_input not in resolution.missing_optional:
        items.sort(key=lambda entry: _time_order(entry[1], time_input))
    metrics = BinaryMetrics() if blueprint.task == "binary" else RegressionMetrics()
    errors: list[InputError] = []
    n_scored = n_learned = 0
    step = 1 if blueprint.sequential else max(1, batch_size)  # sequential: learn each row before the next
    for start in range(0, len(items), step):
        results = deployment.score_records(items[start : start + step])
        scored = [result for result in results if isinstance(result, Scored)]
        errors.extend(result for result in results if isinstance(result, InputError))
        n_scored += len(scored)
        for captured, y in deployment.learn_from(scored):
            metrics.update(y, captured.score)
            n_learned += 1
        if deployment.watermark_s is not None:
            deployment.expire(deployment.watermark_s)
        if progress is not None:
            progress(len(errors) + n_scored, len(items))
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
    )


def _time_order(item: dict[str, Any] | InputError, time_input: str) -> tuple[int, float]:
    """Rows by time; rows without one (and bad rows) keep their order at the end."""
    if isinstance(item, InputError):
        return (1, 0.0)
    value = item.get(time_input)
    return (1, 0.0) if value is None else (0, float(value))
