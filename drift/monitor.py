"""One deployment's drift detectors, turning detections into ``DriftAlert`` messages.

The monitor is synchronous and never reads the clock: the caller passes each event's position and the
batch's timestamp, so the same stream always gives the same alerts. It holds

- one :class:`~tracer.drift.data.WindowedKS` per numeric input feature (data drift),
- one :class:`~tracer.drift.data.WindowedKS` on the model's scores (prediction drift),
- one :class:`~tracer.drift.concept.ErrorDriftDetector` on the errors once labels arrive (concept drift),
- a :class:`~tracer.drift.reaction.ReactionMachine` driven by the concept detector.

A detection of kind *k* on feature *f* becomes an alert unless one was sent for the same ``(k, f)`` fewer
than ``policy.cooldown_events`` positions before; suppressed detections are counted in ``suppressed``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tracer.drift.concept import ErrorDriftConfig, ErrorDriftDetector, Outcome
from tracer.drift.data import WindowedKS, WindowedKSConfig
from tracer.drift.reaction import ReactionAction, ReactionMachine
from tracer.drift.stats import as_float_array, as_float_columns
from tracer.schemas import DriftAlert, DriftKind, DriftPolicy, SourceOffset

__all__ = ["DriftConfig", "DriftMonitor"]

_DATA_DETECTOR = "ks_window"
_CONCEPT_DETECTOR = "adwin"


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftConfig:
    """Detector settings of a :class:`DriftMonitor`; the reaction and cooldown come from ``DriftPolicy``."""

    data: WindowedKSConfig = field(default_factory=WindowedKSConfig)
    """Data drift, per input feature."""
    prediction: WindowedKSConfig = field(default_factory=lambda: WindowedKSConfig(skip_first_events=1000))
    """Prediction drift on scores; skips the first scores, while a new online model is still learning."""
    concept: ErrorDriftConfig = field(default_factory=ErrorDriftConfig)
    """Concept drift on errors."""
    max_features: int = 256
    """When features are discovered from the rows, track at most this many."""
    warning_clear_events: int = 1
    """Errors in a row without a warning before the ``retrain`` reaction drops its background model."""

    def __post_init__(self) -> None:
        if self.max_features < 1:
            raise ValueError(f"DriftConfig.max_features must be >= 1, got {self.max_features}")
        if self.warning_clear_events < 1:
            raise ValueError(
                f"DriftConfig.warning_clear_events must be >= 1, got {self.warning_clear_events}"
            )


def _is_number(value: object) -> bool:
    try:
        math.isfinite(value)  # type: ignore[arg-type]
    except TypeError:
        return False
    except OverflowError:  # an int too large for a float is still a number (its values are skipped)
        pass
    return True


class DriftMonitor:
    """Data, prediction and concept drift of one deployment.

    ``features`` names the numeric inputs to watch; with ``None`` every key whose first non-``None``
    value is a number is watched (up to ``config.max_features``). Values that are ``None``, NaN,
    infinite or not numbers are skipped. ``position`` is the deployment's event counter; in the
    ``*_many`` methods row *i* is at ``start_position + i``.

    >>> import random
    >>> rng = random.Random(3)
    >>> policy = DriftPolicy(cooldown_events=1000)
    >>> monitor = DriftMonitor("churn", features=["tenure", "spend"], policy=policy)
    >>> alerts = []
    >>> for position in range(6000):
    ...     spend = rng.gauss(50, 10) + (15 if position >= 3000 else 0)
    ...     row = {"tenure": rng.gauss(12, 3), "spend": spend}
    ...     alerts += monitor.observe_features(row, position=position, ts_ms=1_700_000_000_000)
    >>> [(a.kind, a.feature, a.position) for a in alerts]
    [('data', 'spend', 3199)]
    """

    def __init__(
        self,
        deployment: str,
        *,
        model_version: int = 1,
        outcome: Outcome = "binary",
        features: Sequence[str] | None = None,
        policy: DriftPolicy | None = None,
        config: DriftConfig | None = None,
        score_name: str = "score",
    ) -> None:
        if not deployment:
            raise ValueError("deployment must be a non-empty deployment id")
        if model_version < 1:
            raise ValueError(f"model_version must be >= 1, got {model_version}")
        self.deployment = deployment
        self.model_version = model_version
        self.outcome: Outcome = outcome
        self.score_name = score_name
        """What prediction-drift alerts name (the output's headline, e.g. ``churn_probability``);
        concept-drift alerts name its errors (``churn_probability errors``)."""
        self.policy = policy if policy is not None else DriftPolicy()
        self.config = config if config is not None else DriftConfig()
        self.concept = ErrorDriftDetector(outcome, self.config.concept)
        self.prediction = WindowedKS(self.config.prediction)
        self.reaction = ReactionMachine(
            self.policy.reaction, clear_after_events=self.config.warning_clear_events
        )
        self._discover_features = features is None
        self._feature_items: list[tuple[str, WindowedKS]] = []
        self._feature_detectors: dict[str, WindowedKS] = {}
        for name in dict.fromkeys(features or ()):
            self._add_feature(name)
        self._settled: set[str] = set(self._feature_detectors)
        """Keys discovery has decided on: watched, or first seen with a value that is not a number."""
        self._last_alert: dict[tuple[DriftKind, str | None], int] = {}
        self.detections: dict[DriftKind, int] = {"data": 0, "concept": 0, "prediction": 0}
        """Detections per kind, including suppressed ones."""
        self.suppressed: dict[DriftKind, int] = {"data": 0, "concept": 0, "prediction": 0}
        """Detections per kind that the cooldown kept from becoming alerts."""

    # -- state -----------------------------------------------------------------------------------------

    @property
    def features(self) -> tuple[str, ...]:
        """The features watched, in the order their detectors were created."""
        return tuple(name for name, _ in self._feature_items)

    def feature_detector(self, name: str) -> WindowedKS:
        """The data-drift detector of one feature (``KeyError`` if it is not watched)."""
        return self._feature_detectors[name]

    @property
    def concept_warning(self) -> bool:
        """Whether the concept detector is in its warning zone after the last error."""
        return self.concept.warning_detected

    @property
    def action(self) -> ReactionAction:
        """What the reaction policy asked for after the last :meth:`observe_error`."""
        return self.reaction.action

    def set_model_version(self, model_version: int) -> None:
        """Record a new live model: restart the concept and prediction detectors and the reaction.

        Data-drift detectors keep their windows, since the inputs do not depend on the model.
        """
        if model_version < 1:
            raise ValueError(f"model_version must be >= 1, got {model_version}")
        self.model_version = model_version
        self.concept.reset()
        self.prediction.reset()
        self.reaction.reset()
        self._last_alert.pop(("concept", None), None)
        self._last_alert.pop(("prediction", None), None)

    # -- data drift ------------------------------------------------------------------------------------

    def observe_features(
        self,
        features: Mapping[str, object],
        *,
        position: int,
        ts_ms: int,
        source: SourceOffset | None = None,
    ) -> list[DriftAlert]:
        """Update the data-drift detectors with one event's features; return the alerts it raised."""
        if self._discover_features:
            self._discover(features)
        alerts: list[DriftAlert] = []
        for name, detector in self._feature_items:
            value = features.get(name)
            if value is not None and detector.update(value):  # type: ignore[arg-type]
                alert = self._window_alert(
                    "data", name, detector, detector.statistic, detector.threshold, position, ts_ms, source
                )
                if alert is not None:
                    alerts.append(alert)
        return alerts

    def observe_features_many(
        self,
        rows: Sequence[Mapping[str, object]],
        *,
        start_position: int,
        ts_ms: int,
        sources: Sequence[SourceOffset | None] | None = None,
    ) -> list[DriftAlert]:
        """Like :meth:`observe_features` on each row in turn (same alerts, same order), a column at a time."""
        if self._discover_features:
            for row in rows:
                self._discover(row)
        found: list[tuple[int, int, DriftAlert]] = []
        items = self._feature_items
        columns = as_float_columns(rows, [name for name, _ in items])  # None: a column at a time
        for order, (name, detector) in enumerate(items):
            column = (
                columns[order] if columns is not None else as_float_array([row.get(name) for row in rows])
            )
            for index, statistic, threshold in detector.update_many(column):
                source = sources[index] if sources is not None else None
                alert = self._window_alert(
                    "data", name, detector, statistic, threshold, start_position + index, ts_ms, source
                )
                if alert is not None:
                    found.append((index, order, alert))
        found.sort(key=lambda item: (item[0], item[1]))
        return [alert for _, _, alert in found]

    def _add_feature(self, name: str) -> WindowedKS:
        detector = WindowedKS(self.config.data)
        self._feature_items.append((name, detector))
        self._feature_detectors[name] = detector
        return detector

    def _discover(self, features: Mapping[str, object]) -> None:
        """Watch the keys of ``features`` not decided on yet whose value is a number."""
        settled = self._settled
        if features.keys() <= settled:  # every row after the first few
            return
        known = self._feature_detectors
        for name, value in features.items():
            if len(known) >= self.config.max_features:
                return
            if value is None or name in settled:
                continue
            settled.add(name)
            if _is_number(value):
                self._add_feature(name)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle; a monitor pickled before discovery kept its settled keys starts from its watched ones."""
        state.setdefault("_settled", set(state["_feature_detectors"]))
        state.setdefault("score_name", "score")
        self.__dict__.update(state)

    # -- prediction drift ------------------------------------------------------------------------------

    def observe_prediction(
        self, score: float | None, *, position: int, ts_ms: int, source: SourceOffset | None = None
    ) -> list[DriftAlert]:
        """Update the prediction-drift detector with one score (a probability or a predicted value)."""
        detector = self.prediction
        if score is None or not detector.update(score):
            return []
        alert = self._window_alert(
            "prediction",
            self.score_name,
            detector,
            detector.statistic,
            detector.threshold,
            position,
            ts_ms,
            source,
        )
        return [alert] if alert is not None else []

    def observe_predictions_many(
        self,
        scores: Sequence[float | None],
        *,
        start_position: int,
        ts_ms: int,
        sources: Sequence[SourceOffset | None] | None = None,
    ) -> list[DriftAlert]:
        """Like :meth:`observe_prediction` on each score in turn, a batch at a time."""
        detector = self.prediction
        alerts: list[DriftAlert] = []
        for index, statistic, threshold in detector.update_many(as_float_array(scores)):
            source = sources[index] if sources is not None else None
            alert = self._window_alert(
                "prediction",
                self.score_name,
                detector,
                statistic,
                threshold,
                start_position + index,
                ts_ms,
                source,
            )
            if alert is not None:
                alerts.append(alert)
        return alerts

    # -- concept drift ---------------------------------------------------------------------------------

    def observe_error(
        self, error: float | bool | None, *, position: int, ts_ms: int, source: SourceOffset | None = None
    ) -> list[DriftAlert]:
        """Update the concept detector with one labelled event's error, then step the reaction policy.

        ``error`` is ``True``/1 for a wrong prediction (binary outcome) or ``prediction - label``
        (regression). Read :attr:`action` afterwards for what the reaction policy asks for, and
        :attr:`concept_warning` for the warning zone.
        """
        detector = self.concept
        drift = error is not None and detector.update(error)
        reaction = self.reaction
        if not drift and type(reaction) is ReactionMachine and reaction.reaction == "alert_only":
            return []  # alert_only's action is always NONE: no step to take
        reaction.update(warning=detector.warning_detected, drift=drift)
        if not drift:
            return []
        return self._concept_alert(position, ts_ms, source)

    def _concept_alert(self, position: int, ts_ms: int, source: SourceOffset | None) -> list[DriftAlert]:
        """The alert of the concept detection just made, unless the cooldown suppresses it."""
        detector = self.concept
        alert = self._alert(
            "concept",
            f"{self.score_name} errors",
            _CONCEPT_DETECTOR,
            detector.statistic,
            detector.threshold,
            detector.reference_events,
            detector.current_events,
            position,
            ts_ms,
            source,
        )
        return [alert] if alert is not None else []

    def observe_errors(
        self, errors: Sequence[float | bool | None], *, position: int, ts_ms: int
    ) -> list[DriftAlert]:
        """:meth:`observe_error` on each error in turn, all at ``position``, for a reaction policy that
        never asks for anything (:attr:`reacts`): the same alerts, without a step per error."""
        if self.reacts:
            raise ValueError("observe_errors is for a monitor whose reaction is alert_only: step one by one")
        update = self.concept.update
        alerts: list[DriftAlert] = []
        for error in errors:
            if error is not None and update(error):
                alerts += self._concept_alert(position, ts_ms, None)
        return alerts

    @property
    def reacts(self) -> bool:
        """Whether the reaction policy may ask for an action (not ``alert_only``'s own machine)."""
        reaction = self.reaction
        return not (type(reaction) is ReactionMachine and reaction.reaction == "alert_only")

    # -- alerts ----------------------------------------------------------------------------------------

    def _window_alert(
        self,
        kind: DriftKind,
        feature: str | None,
        detector: WindowedKS,
        statistic: float,
        threshold: float,
        position: int,
        ts_ms: int,
        source: SourceOffset | None,
    ) -> DriftAlert | None:
        config = detector.config
        return self._alert(
            kind,
            feature,
            _DATA_DETECTOR,
            statistic,
            threshold,
            config.reference_events,
            config.window_events,
            position,
            ts_ms,
            source,
        )

    def _alert(
        self,
        kind: DriftKind,
        feature: str | None,
        detector: str,
        statistic: float,
        threshold: float,
        reference_events: int,
        current_events: int,
        position: int,
        ts_ms: int,
        source: SourceOffset | None,
    ) -> DriftAlert | None:
        """Count a detection; return its alert unless the cooldown suppresses it."""
        self.detections[kind] += 1
        key = (kind, feature)
        last = self._last_alert.get(key)
        if last is not None and position - last < self.policy.cooldown_events:
            self.suppressed[kind] += 1
            return None
        self._last_alert[key] = position
        return DriftAlert(
            deployment=self.deployment,
            model_version=self.model_version,
            kind=kind,
            feature=feature,
            detector=detector,
            statistic=statistic,
            threshold=threshold,
            reference_window_events=reference_events,
            current_window_events=current_events,
            position=position,
            source=source,
            detected_at=ts_ms,
        )
