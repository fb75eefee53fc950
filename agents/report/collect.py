"""Building :class:`~tracer.agents.report.data.ReportData`: from a replay (``tracer eval``) or from a live
deployment's :class:`~tracer.online_models.report_history.ReportHistory` (the worker's HTTP API).

A replay keeps every scored row with the label learned for it (``ReplayReport.rows``), so its curve
has about :data:`CURVE_POINTS` windows of labelled rows, its calibration bins hold every labelled row,
and its drift marks come from a :class:`~tracer.drift.DriftMonitor` run over its scores (prediction
drift) and errors (concept drift), as the stream would raise them; data drift needs the features,
which a replay does not keep.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tracer.agents.report.data import Baseline, ReportData, curve_metrics
from tracer.online_models.report_history import (
    ReportHistory,
    WindowPoint,
    alert_mark,
    calibration_bins,
    gains_curve,
    window_values,
)

if TYPE_CHECKING:
    from tracer.online_models.baselines import BinaryComparison, ForecastComparison
    from tracer.online_models.live import LiveDeployment
    from tracer.online_models.replay import ReplayReport

__all__ = ["CURVE_POINTS", "MAX_PAIRS_SHOWN", "from_history", "from_replay", "learning_points"]

CURVE_POINTS = 40
"""About this many learning-curve points for a replay."""
MIN_WINDOW = 25
"""... but no fewer labelled rows than this in a window."""
MAX_PAIRS_SHOWN = 2000
"""Forecast-against-actual pairs drawn at most (evenly spaced over the run)."""


def learning_points(
    task: str, scores: Sequence[float], labels: Sequence[float | None], window: int
) -> list[WindowPoint]:
    """The metrics of each ``window`` labelled rows, in order; a point's ``event`` is the number of rows
    scored up to its last row. A last, partial window counts when it holds half a window or more."""
    points: list[WindowPoint] = []
    pending_y: list[float] = []
    pending_s: list[float] = []
    labelled = 0
    last = max((i for i, label in enumerate(labels) if label is not None), default=-1)
    for index, (score, label) in enumerate(zip(scores, labels, strict=True)):
        if label is None:
            continue
        labelled += 1
        pending_y.append(label)
        pending_s.append(score)
        if len(pending_y) >= window or (index == last and len(pending_y) >= max(1, window // 2)):
            points.append(WindowPoint(index + 1, labelled, window_values(task, pending_y, pending_s)))
            pending_y, pending_s = [], []
    return points


def _evenly(pairs: list[tuple[float, float]], limit: int) -> list[tuple[float, float]]:
    if len(pairs) <= limit:
        return pairs
    step = len(pairs) / limit
    return [pairs[int(i * step)] for i in range(limit)]


def _drift_marks(
    task: str, blueprint: str, scores: Sequence[float], labels: Sequence[float | None]
) -> list[Any]:
    from tracer.drift import DriftMonitor

    monitor = DriftMonitor(blueprint, outcome="binary" if task in ("binary", "multiclass") else "regression")
    alerts = list(monitor.observe_predictions_many(list(scores), start_position=0, ts_ms=0))
    for index, (score, label) in enumerate(zip(scores, labels, strict=True)):
        if label is None:
            continue
        error = (score >= 0.5) != (label >= 0.5) if task == "binary" else score - label
        alerts += monitor.observe_error(error, position=index, ts_ms=0)
    return sorted((alert_mark(a) for a in alerts), key=lambda mark: mark.event)


def _baselines(
    comparison: BinaryComparison | ForecastComparison | None, labels: Sequence[float | None]
) -> list[Baseline]:
    from tracer.online_models.baselines import BinaryComparison

    if comparison is None:
        return []
    if isinstance(comparison, BinaryComparison):
        labelled = [index for index, label in enumerate(labels) if label is not None]
        start = labelled[comparison.n_train] + 1 if comparison.n_train < len(labelled) else None
        out = [Baseline(name="chance (base rate)", metric="auc", value=0.5)]
        for figures, name in ((comparison.batch, "batch model"), (comparison.blueprint, "blueprint")):
            if figures.auc is not None:
                note = "fitted on the first 70%, measured on the last 30%" if name == "batch model" else ""
                out.append(
                    Baseline(
                        name=f"{name}, last 30%", metric="auc", value=figures.auc, from_event=start, note=note
                    )
                )
        return out
    out = []
    for errors in (comparison.naive, comparison.seasonal_naive):
        for metric, value in (("mae", errors.mae), ("mape", errors.mape)):
            if value is not None and math.isfinite(value):
                out.append(Baseline(name=errors.name, metric=metric, value=value, note=errors.note))
    return out


def from_replay(
    report: ReplayReport,
    task: str,
    comparison: BinaryComparison | ForecastComparison | None = None,
    *,
    subject: str,
    title: str | None = None,
) -> ReportData:
    """The report of a ``tracer eval`` replay, with the baselines it computed (if any)."""
    rows = report.rows
    scores, labels = list(rows.scores), list(rows.labels)
    n_labelled = sum(1 for label in labels if label is not None)
    window = max(MIN_WINDOW, math.ceil(n_labelled / CURVE_POINTS))
    pairs = [(s, y) for s, y in zip(scores, labels, strict=True) if y is not None]
    notes = ["Drift marks: prediction and concept drift as the stream would raise them "
             "(data drift needs the live stream's features)."]  # fmt: skip
    data = ReportData(
        title=title or f"{report.blueprint}: evaluation",
        subject=subject,
        blueprint=report.blueprint,
        task=task,
        source="eval",
        events=report.n_scored,
        labels=report.n_learned,
        window=window,
        metrics=curve_metrics(task),
        summary={k: v for k, v in report.metrics.items() if math.isfinite(v)},
        points=learning_points(task, scores, labels, window),
        baselines=_baselines(comparison, labels),
        alerts=_drift_marks(task, report.blueprint, scores, labels) if task != "multiclass" else [],
        notes=notes,
    )
    y, s = [p[1] for p in pairs], [p[0] for p in pairs]
    if task == "binary":
        data.calibration = calibration_bins(y, s)
        data.gains = gains_curve(y, s)
    elif task != "multiclass":
        shown = _evenly(pairs, MAX_PAIRS_SHOWN)
        data.predicted, data.actual = [p[0] for p in shown], [p[1] for p in shown]
    return data


def from_history(live: LiveDeployment, history: ReportHistory) -> ReportData:
    """The report of a live deployment, from the history it keeps as it runs."""
    task = history.task
    recent = list(history.recent)
    y, s = [pair[1] for pair in recent], [pair[0] for pair in recent]
    data = ReportData(
        title=f"{live.spec.id}: live deployment",
        subject=f"deployment {live.spec.id} (model version {live.model_version})",
        blueprint=live.spec.blueprint,
        task=task,
        source="live",
        events=live.rows_seen,
        labels=history.labels,
        window=history.window,
        metrics=curve_metrics(task),
        summary=window_values(task, y, s),
        points=list(history.points),
        baselines=[Baseline(name="chance (base rate)", metric="auc", value=0.5)] if task == "binary" else [],
        alerts=list(history.alerts),
        agreement=list(history.agreement),
        notes=[
            f"The summary, gains and forecast against actual cover the latest {len(recent)} labelled events."
        ],
    )
    if task == "binary":
        data.calibration = history.calibration()
        data.gains = gains_curve(y, s)
    elif task != "multiclass":
        shown = _evenly(recent, MAX_PAIRS_SHOWN)
        data.predicted, data.actual = [p[0] for p in shown], [p[1] for p in shown]
    return data
