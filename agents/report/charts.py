"""The charts of a report, drawn with matplotlib's Agg canvas into PNG bytes (no display, no pyplot state).

Each function takes :class:`~tracer.agents.report.data.ReportData` and returns the PNG, or None when
the data holds nothing for that chart (the page then says why).
"""

from __future__ import annotations

import io
from collections import defaultdict

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from tracer.agents.report.data import METRIC_LABELS, ReportData

__all__ = [
    "DRIFT_COLOURS",
    "agreement_chart",
    "calibration_chart",
    "drift_timeline_chart",
    "gains_chart",
    "learning_curve_chart",
]

DRIFT_COLOURS = {"data": "#e67e22", "prediction": "#8e44ad", "concept": "#c0392b"}
"""The colour of each kind of drift alert on the timelines."""
_BASELINE_COLOURS = ("#7f8c8d", "#16a085", "#d35400", "#2c3e50")
_DPI = 100


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)  # the Agg canvas: no display, no pyplot state
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _mark_alerts(axes: Axes, data: ReportData) -> None:
    """Vertical lines at the drift alerts, one legend entry per kind."""
    labelled: set[str] = set()
    for mark in data.alerts:
        label = None if mark.kind in labelled else f"{mark.kind} drift"
        labelled.add(mark.kind)
        axes.axvline(mark.event, color=DRIFT_COLOURS.get(mark.kind, "#555555"), alpha=0.55,
                     linewidth=1.2, linestyle=":", label=label)  # fmt: skip


def learning_curve_chart(data: ReportData) -> bytes | None:
    """The metric of each window over the events, the baselines as dashed lines, drift alerts marked."""
    metrics = [m for m in data.metrics if any(m in p.values for p in data.points)]
    if not metrics:
        return None
    figure = Figure(figsize=(11, 3.4 * len(metrics)), dpi=_DPI)
    last_event = max(p.event for p in data.points)
    for row, metric in enumerate(metrics, start=1):
        axes = figure.add_subplot(len(metrics), 1, row)
        shown = [(p.event, p.values[metric]) for p in data.points if metric in p.values]
        name = METRIC_LABELS.get(metric, metric)
        axes.plot([e for e, _ in shown], [v for _, v in shown], marker="o", markersize=3, linewidth=1.8,
                  color="#2471a3", label=f"{name} per {data.window} labelled events")  # fmt: skip
        baselines = [b for b in data.baselines if b.metric == metric]
        for index, baseline in enumerate(baselines):
            start = baseline.from_event if baseline.from_event is not None else 0
            axes.hlines(baseline.value, start, last_event, colors=_BASELINE_COLOURS[index % 4],
                        linestyles="--", linewidth=1.4, label=f"{baseline.name}: {baseline.value:.3g}")  # fmt: skip
        _mark_alerts(axes, data)
        axes.set_ylabel(name)
        axes.grid(alpha=0.3)
        axes.legend(loc="best", fontsize=8)
        if metric == "mape":
            axes.yaxis.set_major_formatter(PercentFormatter(1.0))
        if metric == "auc":
            axes.set_ylim(min(0.4, *(v for _, v in shown)) - 0.02, 1.01)
    axes.set_xlabel("events scored")
    return _png(figure)


def calibration_chart(data: ReportData) -> bytes | None:
    """A reliability diagram (mean predicted probability against the observed rate, per bin, with the
    bins' row counts), or forecast against actual for values."""
    if data.calibration:
        figure = Figure(figsize=(11, 4.2), dpi=_DPI)
        diagram, counts = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
        bins = data.calibration
        diagram.plot([0, 1], [0, 1], linestyle="--", color="#7f8c8d", label="perfectly calibrated")
        diagram.plot([b.mean_score for b in bins], [b.outcome_rate for b in bins], marker="o",
                     color="#2471a3", label="model")  # fmt: skip
        diagram.set_xlim(0, 1)
        diagram.set_ylim(0, 1)
        diagram.set_xlabel("mean predicted probability")
        diagram.set_ylabel("observed positive rate")
        diagram.legend(loc="upper left", fontsize=8)
        diagram.grid(alpha=0.3)
        counts.bar([b.lower for b in bins], [b.count for b in bins], width=[b.upper - b.lower for b in bins],
                   align="edge", color="#5dade2", edgecolor="#1b4f72")  # fmt: skip
        counts.set_xlim(0, 1)
        counts.set_xlabel("predicted probability")
        counts.set_ylabel("labelled events")
        return _png(figure)
    if data.predicted:
        figure = Figure(figsize=(11, 4.2), dpi=_DPI)
        scatter, over_time = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
        low = min(min(data.predicted), min(data.actual))
        high = max(max(data.predicted), max(data.actual))
        scatter.scatter(data.actual, data.predicted, s=8, alpha=0.5, color="#2471a3")
        scatter.plot([low, high], [low, high], linestyle="--", color="#7f8c8d", label="forecast = actual")
        scatter.set_xlabel("actual")
        scatter.set_ylabel("forecast")
        scatter.legend(loc="upper left", fontsize=8)
        scatter.grid(alpha=0.3)
        order = range(len(data.actual))
        over_time.plot(order, data.actual, color="#1e8449", linewidth=1, label="actual")
        over_time.plot(order, data.predicted, color="#c0392b", linewidth=1, alpha=0.8, label="forecast")
        over_time.set_xlabel("labelled events (in order)")
        over_time.legend(loc="best", fontsize=8)
        over_time.grid(alpha=0.3)
        return _png(figure)
    return None


def gains_chart(data: ReportData) -> bytes | None:
    """Cumulative gains (share of positives in the top share of scores) and the lift at each share."""
    if not data.gains:
        return None
    figure = Figure(figsize=(11, 4.2), dpi=_DPI)
    gains, lift = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    fractions = [0.0, *(g.fraction for g in data.gains)]
    gains.plot(fractions, [0.0, *(g.captured for g in data.gains)], marker="o", markersize=3,
               color="#2471a3", label="model")  # fmt: skip
    gains.plot([0, 1], [0, 1], linestyle="--", color="#7f8c8d", label="random")
    gains.set_xlabel("share of events, highest scores first")
    gains.set_ylabel("share of positives captured")
    gains.legend(loc="lower right", fontsize=8)
    gains.grid(alpha=0.3)
    lift.bar([g.fraction for g in data.gains], [g.lift for g in data.gains], width=0.8 / len(data.gains),
             color="#48c9b0", edgecolor="#0e6251")  # fmt: skip
    lift.axhline(1.0, linestyle="--", color="#7f8c8d")
    lift.set_xlabel("share of events, highest scores first")
    lift.set_ylabel("lift")
    return _png(figure)


def agreement_chart(data: ReportData) -> bytes | None:
    """Each shadow's agreement with live per window, drift alerts marked."""
    if not data.agreement:
        return None
    by_shadow: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for mark in data.agreement:
        by_shadow[mark.shadow].append((mark.event, mark.agreement))
    figure = Figure(figsize=(11, 3.6), dpi=_DPI)
    axes = figure.add_subplot(1, 1, 1)
    for name, points in sorted(by_shadow.items()):
        axes.plot([e for e, _ in points], [a for _, a in points], marker="o", markersize=3, label=name)
    _mark_alerts(axes, data)
    axes.set_ylim(-0.02, 1.02)
    axes.set_xlabel("events scored")
    axes.set_ylabel("agreement with live")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower left", fontsize=8)
    return _png(figure)


def drift_timeline_chart(data: ReportData) -> bytes | None:
    """The drift alerts on the events axis, one row per kind, each named by what drifted."""
    if not data.alerts:
        return None
    kinds = [k for k in DRIFT_COLOURS if any(m.kind == k for m in data.alerts)]
    kinds += sorted({m.kind for m in data.alerts} - set(kinds))
    figure = Figure(figsize=(11, 1.2 + 0.7 * len(kinds)), dpi=_DPI)
    axes = figure.add_subplot(1, 1, 1)
    for row, kind in enumerate(kinds):
        marks = [m for m in data.alerts if m.kind == kind]
        axes.scatter([m.event for m in marks], [row] * len(marks), marker="v", s=60,
                     color=DRIFT_COLOURS.get(kind, "#555555"), zorder=3)  # fmt: skip
        for mark in marks[:30]:
            axes.annotate(mark.name, (mark.event, row), textcoords="offset points", xytext=(3, 6), fontsize=7)
    axes.set_yticks(range(len(kinds)), [f"{kind} drift" for kind in kinds])
    axes.set_ylim(-0.6, len(kinds) - 0.2)
    axes.set_xlim(0, max(data.events, *(m.event for m in data.alerts)) * 1.02 + 1)
    axes.set_xlabel("events scored")
    axes.grid(axis="x", alpha=0.3)
    return _png(figure)
