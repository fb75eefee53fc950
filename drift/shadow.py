"""Shadow agreement: how often a challenger agrees with the live model, in tumbling windows.

Every ``window_events`` scored events the tracker emits a :class:`~tracer.schemas.ShadowReport`; a window
whose agreement is below the SLO also yields a :class:`~tracer.schemas.DriftAlert` of kind ``agreement``.
Where labels arrive, both models' progressive metrics (since the tracker started, or since the live
version last changed) go into every report.

Agreement:

- classifiers (outputs are probabilities of the positive class): both sides of ``threshold`` the same
  way, and, with ``prob_tolerance``, probabilities no further apart than that;
- multi-class models (outputs are :class:`~tracer.schemas.scores.ClassProbabilities`): the same top
  class, and, with ``prob_tolerance``, top-class probabilities no further apart than that; their
  labelled metrics are accuracy and the log loss of the label's probability;
- regressors and forecasts: ``|live - shadow| <= max(rel_tolerance * max(|live|, |shadow|),
  abs_tolerance)``, so two zeros agree and values near zero are judged by ``abs_tolerance`` (in the
  target's units).

Events where either output is missing or not finite are not scored and are counted in ``skipped_events``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from tracer.schemas import DriftAlert, DriftPolicy, ShadowReport
from tracer.schemas.scores import ClassProbabilities, top_class

__all__ = ["AgreementTracker", "AgreementWindow", "ModelKind"]

ModelKind = Literal["classifier", "regressor", "multiclass"]

_DETECTOR = "shadow_agreement"
_EPSILON = 1e-15


@dataclass(frozen=True, slots=True)
class AgreementWindow:
    """What one closed window produced: the report, and an alert if it was below the SLO."""

    report: ShadowReport
    alert: DriftAlert | None


class _Metrics:
    """Progressive metrics of one model: accuracy and log loss, or MAE and RMSE."""

    __slots__ = ("absolute", "correct", "log_loss", "n", "squared")

    def __init__(self) -> None:
        self.n = 0
        self.correct = 0
        self.log_loss = 0.0
        self.absolute = 0.0
        self.squared = 0.0

    def as_dict(self, kind: ModelKind) -> dict[str, float]:
        if not self.n:
            return {}
        if kind != "regressor":
            return {"accuracy": self.correct / self.n, "log_loss": self.log_loss / self.n}
        return {"mae": self.absolute / self.n, "rmse": math.sqrt(self.squared / self.n)}


class AgreementTracker:
    """Agreement between the live model and one shadow, reported every ``window_events`` events.

    >>> tracker = AgreementTracker("lr_fast", deployment="churn", window_events=4, slo=0.9)
    >>> outputs = [(0.9, 0.8), (0.2, 0.3), (0.7, 0.4), (0.1, 0.05)]
    >>> windows = [tracker.observe(live, shadow, position=i, ts_ms=0) for i, (live, shadow) in enumerate(outputs)]
    >>> window = windows[-1]
    >>> window.report.agreement, window.report.below_slo, window.alert.statistic
    (0.75, True, 0.75)
    """

    def __init__(
        self,
        shadow_name: str,
        *,
        deployment: str,
        live_version: int = 1,
        kind: ModelKind = "classifier",
        threshold: float = 0.5,
        prob_tolerance: float | None = None,
        rel_tolerance: float = 0.05,
        abs_tolerance: float = 1e-9,
        window_events: int = 500,
        slo: float = 0.95,
        cooldown_events: int = 0,
    ) -> None:
        if not shadow_name or not deployment:
            raise ValueError("shadow_name and deployment must be non-empty names")
        if kind not in ("classifier", "regressor", "multiclass"):
            raise ValueError(f"kind must be 'classifier', 'regressor' or 'multiclass', got {kind!r}")
        if window_events < 1:
            raise ValueError(f"window_events must be >= 1, got {window_events}")
        if not 0.0 <= slo <= 1.0:
            raise ValueError(f"slo must be a fraction in [0, 1], got {slo}")
        if prob_tolerance is not None and not prob_tolerance >= 0.0:
            raise ValueError(f"prob_tolerance must be >= 0 or None, got {prob_tolerance}")
        if not rel_tolerance >= 0.0 or not abs_tolerance >= 0.0:
            raise ValueError(f"tolerances must be >= 0, got rel={rel_tolerance}, abs={abs_tolerance}")
        if live_version < 1:
            raise ValueError(f"live_version must be >= 1, got {live_version}")
        self.shadow_name = shadow_name
        self.deployment = deployment
        self.live_version = live_version
        self.kind: ModelKind = kind
        self.threshold = threshold
        self.prob_tolerance = prob_tolerance
        self.rel_tolerance = rel_tolerance
        self.abs_tolerance = abs_tolerance
        self.window_events = window_events
        self.slo = slo
        self.cooldown_events = cooldown_events
        self._window_count = 0
        self._window_agreed = 0
        self._last_alert_position: int | None = None
        self.skipped_events = 0
        """Events not scored because an output was missing or not finite."""
        self.suppressed_alerts = 0
        """Below-SLO windows whose alert the cooldown held back (their report was still emitted)."""
        self._live = _Metrics()
        self._shadow = _Metrics()

    @classmethod
    def from_policy(
        cls,
        shadow_name: str,
        *,
        deployment: str,
        policy: DriftPolicy,
        live_version: int = 1,
        kind: ModelKind = "classifier",
        threshold: float = 0.5,
        prob_tolerance: float | None = None,
        rel_tolerance: float = 0.05,
        abs_tolerance: float = 1e-9,
    ) -> AgreementTracker:
        """A tracker with the window, SLO and cooldown of a deployment's ``DriftPolicy``."""
        return cls(
            shadow_name,
            deployment=deployment,
            live_version=live_version,
            kind=kind,
            threshold=threshold,
            prob_tolerance=prob_tolerance,
            rel_tolerance=rel_tolerance,
            abs_tolerance=abs_tolerance,
            window_events=policy.agreement_window_events,
            slo=policy.agreement_slo,
            cooldown_events=policy.cooldown_events,
        )

    # -- agreement -------------------------------------------------------------------------------------

    def agrees(self, live_output: float, shadow_output: float) -> bool:
        """Whether two finite outputs agree under this tracker's rule.

        >>> AgreementTracker("s", deployment="d", kind="regressor").agrees(100.0, 104.0)
        True
        """
        if self.kind == "multiclass":  # a plain float has no top class: it agrees with nothing
            top = top_class(live_output)
            if top is None or top != top_class(shadow_output):
                return False
            tolerance = self.prob_tolerance
            return tolerance is None or abs(live_output - shadow_output) <= tolerance
        if self.kind == "classifier":
            threshold = self.threshold
            if (live_output >= threshold) != (shadow_output >= threshold):
                return False
            tolerance = self.prob_tolerance
            return tolerance is None or abs(live_output - shadow_output) <= tolerance
        gap = abs(live_output - shadow_output)
        return gap <= self.abs_tolerance or gap <= self.rel_tolerance * max(
            abs(live_output), abs(shadow_output)
        )

    @property
    def window_progress(self) -> tuple[int, int]:
        """(events, agreeing events) in the window still open."""
        return self._window_count, self._window_agreed

    def observe(
        self, live_output: float | None, shadow_output: float | None, *, position: int, ts_ms: int
    ) -> AgreementWindow | None:
        """Score one event's two outputs; when that closes a window, return its report (and alert)."""
        try:  # None and non-numbers raise TypeError
            if not (math.isfinite(live_output) and math.isfinite(shadow_output)):  # type: ignore[arg-type]
                self.skipped_events += 1
                return None
        except (TypeError, OverflowError):
            self.skipped_events += 1
            return None
        if self.agrees(live_output, shadow_output):  # type: ignore[arg-type]
            self._window_agreed += 1
        self._window_count += 1
        if self._window_count < self.window_events:
            return None
        return self._close_window(position, ts_ms)

    def observe_many(
        self,
        live_outputs: Sequence[float | None],
        shadow_outputs: Sequence[float | None],
        *,
        start_position: int,
        ts_ms: int,
    ) -> list[AgreementWindow]:
        """:meth:`observe` over a batch (row *i* at ``start_position + i``); return the windows it closed."""
        if len(live_outputs) != len(shadow_outputs):
            raise ValueError(
                f"live_outputs and shadow_outputs must have the same length, "
                f"got {len(live_outputs)} and {len(shadow_outputs)}"
            )
        closed: list[AgreementWindow] = []
        for offset, (live_output, shadow_output) in enumerate(zip(live_outputs, shadow_outputs, strict=True)):
            window = self.observe(live_output, shadow_output, position=start_position + offset, ts_ms=ts_ms)
            if window is not None:
                closed.append(window)
        return closed

    def _close_window(self, position: int, ts_ms: int) -> AgreementWindow:
        agreement = self._window_agreed / self._window_count
        below_slo = agreement < self.slo
        report = ShadowReport(
            deployment=self.deployment,
            live_version=self.live_version,
            shadow=self.shadow_name,
            window_events=self._window_count,
            agreement=agreement,
            agreement_slo=self.slo,
            below_slo=below_slo,
            labelled_events=self.labelled_events,
            live_metrics=self.live_metrics,
            shadow_metrics=self.shadow_metrics,
            position=position,
            ts=ts_ms,
        )
        alert = None
        if below_slo:
            last = self._last_alert_position
            if last is not None and position - last < self.cooldown_events:
                self.suppressed_alerts += 1
            else:
                self._last_alert_position = position
                alert = DriftAlert(
                    deployment=self.deployment,
                    model_version=self.live_version,
                    kind="agreement",
                    feature=self.shadow_name,
                    detector=_DETECTOR,
                    statistic=agreement,
                    threshold=self.slo,
                    reference_window_events=0,
                    current_window_events=self._window_count,
                    position=position,
                    detected_at=ts_ms,
                )
        self._window_count = 0
        self._window_agreed = 0
        return AgreementWindow(report, alert)

    # -- labelled metrics ------------------------------------------------------------------------------

    def observe_label(self, live_output: float, shadow_output: float, y: float | bool) -> None:
        """Update both models' progressive metrics with the outputs they gave for an event and its label.

        Classifiers: ``y`` is the outcome (truthy for the positive class), outputs are probabilities.
        Multi-class: ``y`` is the label's class index, outputs are ``ClassProbabilities``.
        Regressors: ``y`` is the observed value. Non-finite outputs or labels are ignored.
        """
        try:
            if not (math.isfinite(live_output) and math.isfinite(shadow_output) and math.isfinite(y)):
                return
        except (TypeError, OverflowError):
            return
        if self.kind == "multiclass":
            _learn_multiclass(self._live, live_output, y)
            _learn_multiclass(self._shadow, shadow_output, y)
        elif self.kind == "classifier":
            positive = bool(y)
            _learn_classifier(self._live, live_output, positive, self.threshold)
            _learn_classifier(self._shadow, shadow_output, positive, self.threshold)
        else:
            _learn_regressor(self._live, live_output, float(y))
            _learn_regressor(self._shadow, shadow_output, float(y))

    @property
    def labelled_events(self) -> int:
        """Labelled events in the progressive metrics."""
        return self._live.n

    @property
    def live_metrics(self) -> dict[str, float]:
        """The live model's progressive metrics (empty before the first label)."""
        return self._live.as_dict(self.kind)

    @property
    def shadow_metrics(self) -> dict[str, float]:
        """The shadow's progressive metrics (empty before the first label)."""
        return self._shadow.as_dict(self.kind)

    def set_live_version(self, live_version: int) -> None:
        """Record a new live model: its metrics start again, and so does the open window."""
        if live_version < 1:
            raise ValueError(f"live_version must be >= 1, got {live_version}")
        self.live_version = live_version
        self._live = _Metrics()
        self._shadow = _Metrics()
        self._window_count = 0
        self._window_agreed = 0


def _learn_classifier(metrics: _Metrics, probability: float, positive: bool, threshold: float) -> None:
    metrics.n += 1
    if (probability >= threshold) == positive:
        metrics.correct += 1
    p = min(max(probability, _EPSILON), 1.0 - _EPSILON)
    metrics.log_loss -= math.log(p if positive else 1.0 - p)


def _learn_regressor(metrics: _Metrics, prediction: float, y: float) -> None:
    metrics.n += 1
    error = prediction - y
    metrics.absolute += abs(error)
    metrics.squared += error * error


def _learn_multiclass(metrics: _Metrics, output: float, y: float) -> None:
    metrics.n += 1
    if isinstance(output, ClassProbabilities):
        metrics.correct += output.top == y
        metrics.log_loss += output.log_loss(y)
    else:
        metrics.log_loss -= math.log(_EPSILON)
