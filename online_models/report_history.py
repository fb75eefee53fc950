"""What a report draws, from (score, outcome) pairs, and the bounded history a live deployment keeps.

The pure functions measure a run the way a report shows it: the metric of each window of labelled
events (:func:`window_values`: AUC, accuracy and positive rate for a classifier; MAE, RMSE and MAPE for
a value; accuracy for a multi-class task), the reliability diagram (:func:`calibration_bins`) and the
cumulative gains with their lift (:func:`gains_curve`). ``tracer eval`` applies them to a replay's rows
(:mod:`tracer.agents.report.collect`); :class:`ReportHistory` applies them to a live deployment as it
learns, keeping bounded memory on an endless stream: a ring of per-window points, running calibration
counts, the most recent pairs, drift alerts and shadow agreement windows. It pickles with the
deployment (the checkpoint), so the history survives a restart.

>>> history = ReportHistory("binary", window=4)
>>> history.learned([(0.9, 1.0), (0.2, 0.0), (0.7, 1.0), (0.4, 0.0)], position=4)
>>> [(p.event, p.labels, p.values["auc"]) for p in history.points]
[(4, 4, 1.0)]
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tracer.online_models.metrics import exact_auc
from tracer.schemas import DriftAlert, ShadowReport

__all__ = [
    "AgreementMark",
    "AlertMark",
    "CalibrationBin",
    "GainsPoint",
    "ReportHistory",
    "WindowPoint",
    "alert_mark",
    "calibration_bins",
    "gains_curve",
    "history_of",
    "window_values",
]

CALIBRATION_BINS = 10


@dataclass(frozen=True)
class WindowPoint:
    """The metrics of one window of labelled events, ending when the deployment had seen ``event`` events
    (``labels`` labelled in all, this window included)."""

    event: int
    labels: int
    values: dict[str, float]


@dataclass(frozen=True)
class CalibrationBin:
    """Scores in ``[lower, upper)`` (the last bin includes 1): how many, their mean, the outcomes' mean."""

    lower: float
    upper: float
    count: int
    mean_score: float
    outcome_rate: float


@dataclass(frozen=True)
class GainsPoint:
    """The top ``fraction`` of scores holds ``captured`` of all positives: ``lift`` = captured / fraction."""

    fraction: float
    captured: float
    lift: float


@dataclass(frozen=True)
class AlertMark:
    """A drift alert at the event it was raised at, named by what drifted."""

    event: int
    kind: str
    name: str
    detector: str
    statistic: float
    threshold: float


@dataclass(frozen=True)
class AgreementMark:
    """A shadow's agreement with live over the window that ended at ``event``."""

    event: int
    shadow: str
    agreement: float
    window_events: int
    below_slo: bool


def _finite(values: dict[str, float | None]) -> dict[str, float]:
    return {k: float(v) for k, v in values.items() if v is not None and math.isfinite(v)}


def window_values(task: str, labels: Sequence[float], scores: Sequence[float]) -> dict[str, float]:
    """The metrics of one window of (label, score) pairs; undefined ones (AUC of one class) left out.

    >>> window_values("regression", [10.0, 20.0], [11.0, 18.0])
    {'mae': 1.5, 'rmse': 1.5811388300841898, 'mape': 0.1}
    """
    if not labels:
        return {}
    if task == "multiclass":
        hits = [getattr(s, "top", None) == y for y, s in zip(labels, scores, strict=True)]
        return {"accuracy": sum(hits) / len(hits)}
    y, p = np.asarray(labels, dtype=np.float64), np.asarray(scores, dtype=np.float64)
    if task == "binary":
        positive = y >= 0.5
        return _finite({
            "auc": exact_auc(positive.astype(np.float64), p),
            "accuracy": float(np.mean(positive == (p >= 0.5))),
            "positive_rate": float(np.mean(positive)),
        })  # fmt: skip
    errors = p - y
    nonzero = y != 0
    mape = float(np.mean(np.abs(errors[nonzero] / y[nonzero]))) if nonzero.any() else None
    return _finite({
        "mae": float(np.mean(np.abs(errors))),
        "rmse": float(np.sqrt(np.mean(errors**2))),
        "mape": mape,
    })  # fmt: skip


def _bin_index(scores: np.ndarray, n_bins: int) -> np.ndarray:
    index: np.ndarray = np.clip((np.clip(scores, 0.0, 1.0) * n_bins).astype(int), 0, n_bins - 1)
    return index


def calibration_bins(
    labels: Sequence[float], scores: Sequence[float], n_bins: int = CALIBRATION_BINS
) -> list[CalibrationBin]:
    """The reliability diagram of probabilities: equal-width bins over [0, 1], empty ones left out, so
    the counts add up to the pairs given.

    >>> [(b.lower, b.count, b.outcome_rate) for b in calibration_bins([0, 1, 1], [0.05, 0.92, 0.97])]
    [(0.0, 1, 0.0), (0.9, 2, 1.0)]
    """
    y = np.asarray(labels, dtype=np.float64) >= 0.5
    p = np.asarray(scores, dtype=np.float64)
    index = _bin_index(p, n_bins)
    counts = np.bincount(index, minlength=n_bins)
    score_sums = np.bincount(index, weights=p, minlength=n_bins)
    outcome_sums = np.bincount(index, weights=y.astype(np.float64), minlength=n_bins)
    return _bins(counts, score_sums, outcome_sums)


def _bins(counts: np.ndarray, score_sums: np.ndarray, outcome_sums: np.ndarray) -> list[CalibrationBin]:
    n_bins = len(counts)
    return [
        CalibrationBin(
            lower=round(i / n_bins, 6),
            upper=round((i + 1) / n_bins, 6),
            count=int(counts[i]),
            mean_score=float(score_sums[i] / counts[i]),
            outcome_rate=float(outcome_sums[i] / counts[i]),
        )
        for i in range(n_bins)
        if counts[i]
    ]


def gains_curve(labels: Sequence[float], scores: Sequence[float], points: int = 20) -> list[GainsPoint]:
    """Cumulative gains at ``points`` equal steps of the rows ranked by score (none without positives).

    >>> [(g.fraction, g.captured) for g in gains_curve([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1], points=2)]
    [(0.5, 0.5), (1.0, 1.0)]
    """
    y = np.asarray(labels, dtype=np.float64) >= 0.5
    positives = int(y.sum())
    if not len(y) or not positives:
        return []
    ranked = y[np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")]
    hits = np.cumsum(ranked)
    out = []
    for step in range(1, points + 1):
        fraction = step / points
        k = max(1, math.ceil(fraction * len(y)))
        captured = float(hits[k - 1]) / positives
        out.append(GainsPoint(round(fraction, 6), captured, captured / (k / len(y))))
    return out


def alert_mark(alert: DriftAlert) -> AlertMark:
    """What the timeline shows of an alert: its kind and the feature (data drift) or the kind's subject."""
    subject = {"prediction": "model scores", "concept": "model errors"}.get(alert.kind, "a feature")
    return AlertMark(
        event=alert.position,
        kind=alert.kind,
        name=alert.feature or subject,
        detector=alert.detector,
        statistic=alert.statistic,
        threshold=alert.threshold,
    )


@dataclass
class ReportHistory:
    """A live deployment's report series, in bounded memory (module docstring).

    ``learned`` takes (score, outcome) pairs as labels are learned; every ``window`` of them becomes a
    :class:`WindowPoint` (the last ``max_points`` are kept). ``marks`` takes the drift alerts and shadow
    reports a batch produced (the last ``max_marks`` of each are kept).
    """

    task: str
    window: int = 200
    max_points: int = 300
    max_marks: int = 300
    max_recent: int = 1000
    points: deque[WindowPoint] = field(init=False)
    alerts: deque[AlertMark] = field(init=False)
    agreement: deque[AgreementMark] = field(init=False)
    recent: deque[tuple[float, float]] = field(init=False)
    """The latest (score, outcome) pairs: gains, and forecast against actual."""
    labels: int = 0
    _pending: list[tuple[float, float]] = field(default_factory=list)
    _counts: list[int] = field(default_factory=lambda: [0] * CALIBRATION_BINS)
    _score_sums: list[float] = field(default_factory=lambda: [0.0] * CALIBRATION_BINS)
    _outcome_sums: list[float] = field(default_factory=lambda: [0.0] * CALIBRATION_BINS)

    def __post_init__(self) -> None:
        self.points = deque(maxlen=self.max_points)
        self.alerts = deque(maxlen=self.max_marks)
        self.agreement = deque(maxlen=self.max_marks)
        self.recent = deque(maxlen=self.max_recent)

    def learned(self, pairs: Iterable[tuple[float, float]], *, position: int) -> None:
        """Record learned (score, outcome) pairs; the deployment had seen ``position`` events.

        A block at a time: the calibration counts and sums are updated with numpy in the pairs'
        order (``np.add.at`` adds one value after another, as a loop would, to the same floats)."""
        pairs = pairs if isinstance(pairs, list) else list(pairs)
        if not pairs:
            return
        if self.task != "multiclass":
            scores = np.fromiter((score for score, _ in pairs), dtype=np.float64, count=len(pairs))
            outcomes = np.fromiter((y for _, y in pairs), dtype=np.float64, count=len(pairs))
            self.recent.extend(zip(scores.tolist(), outcomes.tolist(), strict=True))
            if self.task == "binary":
                self._calibrate(scores, outcomes)
        pending, window, first = self._pending, self.window, self.labels
        done = 0
        while done < len(pairs):  # a window closes at its last pair, counting the labels up to it
            take = max(1, window - len(pending))
            pending.extend(pairs[done : done + take])
            done = min(done + take, len(pairs))
            self.labels = first + done
            if len(pending) >= window:
                self._close(position)
                pending = self._pending

    def _calibrate(self, scores: np.ndarray, outcomes: np.ndarray) -> None:
        """Add the pairs to the running calibration counts and sums, each in its bin."""
        index = _bin_index(scores, CALIBRATION_BINS)
        counts = np.array(self._counts, dtype=np.int64)
        score_sums = np.array(self._score_sums, dtype=np.float64)
        outcome_sums = np.array(self._outcome_sums, dtype=np.float64)
        np.add.at(counts, index, 1)
        np.add.at(score_sums, index, scores)
        np.add.at(outcome_sums, index, (outcomes >= 0.5).astype(np.float64))
        self._counts, self._score_sums = counts.tolist(), score_sums.tolist()
        self._outcome_sums = outcome_sums.tolist()

    def _close(self, position: int) -> None:
        scores, labels = [s for s, _ in self._pending], [y for _, y in self._pending]
        self.points.append(WindowPoint(position, self.labels, window_values(self.task, labels, scores)))
        self._pending = []

    def marks(self, alerts: Sequence[DriftAlert], reports: Sequence[ShadowReport]) -> None:
        """Record a batch's drift alerts and shadow agreement windows."""
        if not alerts and not reports:  # nearly every batch
            return
        self.alerts.extend(alert_mark(alert) for alert in alerts)
        self.agreement.extend(
            AgreementMark(r.position, r.shadow, r.agreement, r.window_events, r.below_slo) for r in reports
        )

    def record(
        self,
        alerts: Sequence[DriftAlert],
        reports: Sequence[ShadowReport],
        outcomes: Iterable[tuple[Any, float]] = (),
        *,
        position: int,
    ) -> None:
        """:meth:`learned` on ``outcomes`` (captured predictions with a ``score``, and their outcome),
        then :meth:`marks`: the one call a live deployment makes per step."""
        self.learned([(captured.score, y) for captured, y in outcomes], position=position)
        self.marks(alerts, reports)

    def calibration(self) -> list[CalibrationBin]:
        """The reliability diagram over every labelled event so far (a classifier's only)."""
        return _bins(np.array(self._counts), np.array(self._score_sums), np.array(self._outcome_sums))


def history_of(owner: Any, task: str) -> ReportHistory:
    """``owner.report_history``, made on first use (a deployment checkpointed before it had one)."""
    history = getattr(owner, "report_history", None)
    if not isinstance(history, ReportHistory):
        history = ReportHistory(task)
        owner.report_history = history
    return history
