"""Tracer's Prometheus metrics: the seed-002 ``ml_*`` names plus per-deployment ``tracer_*`` ones.

Each :class:`TracerMetrics` owns its own :class:`~prometheus_client.CollectorRegistry`, so tests
and several workers in one process never collide. The hot path calls :meth:`TracerMetrics.record_batch`
once per batch; label children are cached, and the two histograms bucket a whole batch with
:func:`bisect.bisect_left` and take their lock once, instead of once per observation.

Every consumed message is one prediction request, and its ``status`` label is one of:

- ``ok``: a prediction was published;
- ``rejected``: the input was dead-lettered (bad JSON, missing field, non-finite value, ...);
- ``error``: the input was valid but scoring failed (dead letter reason ``scoring_error``).

>>> metrics = TracerMetrics()
>>> metrics.register_deployment("churn", model_version=3)
>>> metrics.record_batch(
...     "churn", "crm.customers", consumed=3, predicted=2,
...     dead_lettered_by_reason={"not_json": 1}, latencies_ms=[4.0, 90.0], scores=[0.2, 0.9],
... )
>>> text = metrics.render().decode()
>>> 'ml_predict_requests_total{deployment="churn",model_version="3",status="ok"} 2.0' in text
True
>>> print(next(line for line in text.splitlines() if line.startswith("tracer_events_dead_lettered_total")))
tracer_events_dead_lettered_total{deployment="churn",reason="not_json",topic="crm.customers"} 1.0
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Gauge,
    Info,
    generate_latest,
)

from tracer.agents.metric_collectors import BatchHistogram, CheckpointAgeCollector, HistogramChild

__all__ = [
    "LATENCY_BUCKETS_MS",
    "METRICS_CONTENT_TYPE",
    "SCORE_BUCKETS",
    "STATUS_ERROR",
    "STATUS_OK",
    "STATUS_REJECTED",
    "UNROUTED_DEPLOYMENT",
    "RequestStatus",
    "TracerMetrics",
]

RequestStatus = Literal["ok", "rejected", "error"]
STATUS_OK: Final = "ok"
STATUS_REJECTED: Final = "rejected"
STATUS_ERROR: Final = "error"

UNROUTED_DEPLOYMENT: Final = "unrouted"
"""The ``deployment`` label for messages dead-lettered before they could be routed to one."""

LATENCY_BUCKETS_MS: Final[tuple[float, ...]] = (1, 2, 5, 10, 20, 40, 80, 120, 200, 400, 1000, 2000)
SCORE_BUCKETS: Final[tuple[float, ...]] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
METRICS_CONTENT_TYPE: Final = CONTENT_TYPE_PLAIN_0_0_4
"""The ``Content-Type`` of :meth:`TracerMetrics.render`: text format 0.0.4, which every Prometheus reads."""

_SCORING_ERROR: Final = "scoring_error"  # tracer.schemas.ReasonCode.SCORING_ERROR
_UNKNOWN_VERSION: Final = "unknown"


@dataclass(slots=True)
class _StreamChildren:
    """Cached counter children for one (deployment, topic)."""

    consumed: Counter
    predicted: Counter
    dead_lettered: dict[str, Counter] = field(default_factory=dict)


@dataclass(slots=True)
class _ModelChildren:
    """Cached children for one (deployment, model version)."""

    requests_ok: Counter
    requests_rejected: Counter
    requests_error: Counter
    feature_extractions: Counter
    latency_ms: HistogramChild
    scores: HistogramChild


class TracerMetrics:
    """All of Tracer's Prometheus metrics, in one registry of their own.

    Args:
        registry: where to register the metrics; a fresh :class:`CollectorRegistry` by default.
        clock: seconds from a monotonic clock, for ``tracer_checkpoint_age_seconds`` (tests pass a fake).
    """

    def __init__(
        self, registry: CollectorRegistry | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.registry = CollectorRegistry() if registry is None else registry
        r = self.registry

        def counter(name: str, documentation: str, *labelnames: str) -> Counter:
            return Counter(name, documentation, labelnames, registry=r)  # exposed as `name` + "_total"

        def gauge(name: str, documentation: str, *labelnames: str) -> Gauge:
            return Gauge(name, documentation, labelnames, registry=r)

        dv = ("deployment", "model_version")
        # Seed 002 names, with a `deployment` label: every deployment's versions start at 1.
        self.predict_requests = counter(
            "ml_predict_requests",
            "Messages offered for prediction, by status (ok, rejected, error).",
            *dv,
            "status",
        )
        self.predict_latency_ms = BatchHistogram(
            "ml_predict_latency_ms",
            "Source timestamp to published prediction, in ms (stream predictions only).",
            dv,
            LATENCY_BUCKETS_MS,
            r,
        )
        self.http_predict_latency_ms = BatchHistogram(
            "ml_http_predict_latency_ms",
            "Request received to answer, in ms, of HTTP predictions: another clock than the stream's, "
            "so kept apart from ml_predict_latency_ms and its SLO.",
            dv,
            LATENCY_BUCKETS_MS,
            r,
        )
        self.model_version_info = Info(
            "ml_model_version", "The live model version.", ["deployment"], registry=r
        )
        self.feature_extractions = counter(
            "ml_feature_extractions", "Records turned into features.", "deployment"
        )
        self.prediction_score = BatchHistogram(
            "ml_prediction_score",
            "Predicted probabilities of the live model (0-1; multi-class: the top class's).",
            dv,
            SCORE_BUCKETS,
            r,
        )
        self.model_errors = counter(
            "ml_model_errors", "Scoring or learning failures, by error type.", "deployment", "error_type"
        )
        # Tracer's own names.
        self.events_consumed = counter(
            "tracer_events_consumed", "Messages read from an input topic.", "deployment", "topic"
        )
        self.events_predicted = counter(
            "tracer_events_predicted", "Messages that became a published prediction.", "deployment", "topic"
        )
        self.events_dead_lettered = counter(
            "tracer_events_dead_lettered",
            "Messages whose fate is a dead letter, counted when it is handed to the producer "
            "(tracer_dead_letters_acknowledged_total counts those the broker acknowledged).",
            "deployment",
            "topic",
            "reason",
        )
        self.dead_letters_acknowledged = counter(
            "tracer_dead_letters_acknowledged",
            "Dead letters the broker acknowledged on the dead-letter topic.",
            "deployment",
            "reason",
        )
        self.publish_failures = counter(
            "tracer_publish_failures",
            "Records the broker refused for a reason of their own (too large, corrupt...), by error.",
            "topic",
            "reason",
        )
        self.events_lost = counter(
            "tracer_events_lost",
            "Messages left without a fate: their dead letter was refused too (see the log).",
            "deployment",
            "topic",
            "reason",
        )
        self.consumer_lag = gauge(
            "tracer_consumer_lag_messages",
            "Messages from committed offset to partition end.",
            "topic",
            "partition",
        )
        self.labels_joined = counter(
            "tracer_labels_joined", "Delayed labels joined and learned.", "deployment"
        )
        self.labels_expired = counter(
            "tracer_labels_expired", "Predictions whose label expired.", "deployment"
        )
        self.drift_alerts = counter(
            "tracer_drift_alerts", "Drift detections by kind and detector.", "deployment", "kind", "detector"
        )
        self.shadow_agreement = gauge(
            "tracer_shadow_agreement_ratio",
            "Shadow-live agreement over the last window.",
            "deployment",
            "shadow",
        )
        self.checkpoints_written = counter("tracer_checkpoints_written", "Checkpoints written.", "deployment")
        # Recovery, steps 1 and 3: a refused checkpoint (signature, malformed) and the silent rebuild after it.
        self.checkpoints_refused = counter(
            "tracer_checkpoints_refused", "Checkpoints refused at restore, by reason.", "deployment", "reason"
        )
        self.silent_rebuild_events = counter(
            "tracer_silent_rebuild_events", "Routed records learned without publishing.", "deployment"
        )
        self.silent_rebuild_remaining = gauge(
            "tracer_silent_rebuild_remaining_messages", "Routed records left to learn silently.", "deployment"
        )
        self.model_version = gauge("tracer_model_version", "The live model version number.", "deployment")
        self._checkpoint_age = CheckpointAgeCollector(clock, r)

        self._versions: dict[str, str] = {}
        self._streams: dict[tuple[str, str], _StreamChildren] = {}
        self._models: dict[tuple[str, str], _ModelChildren] = {}
        self._shadows: dict[str, set[str]] = {}

    # -- exposition ---------------------------------------------------------------------------

    def render(self) -> bytes:
        """Render every metric in Prometheus text format, for the ``/ml/metrics`` endpoint."""
        return generate_latest(self.registry)

    # -- deployments --------------------------------------------------------------------------

    def register_deployment(self, deployment: str, model_version: int) -> None:
        """Announce a deployment: set its version, start its checkpoint clock, create its zero series."""
        self.set_model_version(deployment, model_version)
        self._checkpoint_age.start(deployment)
        self.labels_joined.labels(deployment)
        self.labels_expired.labels(deployment)
        self.checkpoints_written.labels(deployment)
        self.feature_extractions.labels(deployment)

    def set_model_version(self, deployment: str, model_version: int) -> None:
        """Record the live model version (at start, on promotion, drift swap or rollback)."""
        version = str(model_version)
        self._versions[deployment] = version
        self.model_version.labels(deployment).set(model_version)
        self.model_version_info.labels(deployment).info({"version": version})

    def forget_deployment(self, deployment: str) -> None:
        """Stop exporting the gauges of a deployment this worker no longer owns."""
        self._versions.pop(deployment, None)
        self._checkpoint_age.forget(deployment)
        for gauge in (self.model_version, self.model_version_info):
            with contextlib.suppress(KeyError):
                gauge.remove(deployment)
        for shadow in self._shadows.pop(deployment, set()):
            self.shadow_agreement.remove(deployment, shadow)

    # -- the hot path: once per batch ---------------------------------------------------------

    def record_batch(
        self,
        deployment: str,
        topic: str,
        *,
        consumed: int,
        predicted: int,
        dead_lettered_by_reason: Mapping[str, int] | None = None,
        latencies_ms: Sequence[float] = (),
        scores: Sequence[float] = (),
        featurized: int | None = None,
        model_errors_by_type: Mapping[str, int] | None = None,
    ) -> None:
        """Count one batch of one deployment from one topic.

        Args:
            consumed: messages read; must equal ``predicted`` plus all dead letters (conservation).
            predicted: predictions published.
            dead_lettered_by_reason: dead letters per reason code (``ReasonCode`` values).
            latencies_ms: latency of each published prediction, in milliseconds.
            scores: the live model's probability for each prediction, if the blueprint gives one (a
                multi-class model's top class's: its ``ClassProbabilities`` is that float).
            featurized: records turned into features; ``predicted`` if not given.
            model_errors_by_type: scoring failures per exception type name.

        Raises:
            ValueError: if the counts do not add up, before anything is counted.
        """
        dead = dead_lettered_by_reason or {}
        dead_total = sum(dead.values())
        if consumed != predicted + dead_total or predicted < 0 or min(dead.values(), default=0) < 0:
            raise ValueError(
                f"metrics for deployment {deployment!r}, topic {topic!r}: consumed={consumed} must equal "
                f"predicted={predicted} + dead-lettered={dead_total} {dict(dead)}, none of them negative"
            )
        if predicted and deployment == UNROUTED_DEPLOYMENT:
            raise ValueError(f"metrics for topic {topic!r}: {predicted} predictions without a deployment")
        stream = self._streams.get((deployment, topic))
        if stream is None:
            stream = self._streams[(deployment, topic)] = _StreamChildren(
                self.events_consumed.labels(deployment, topic),
                self.events_predicted.labels(deployment, topic),
            )
        stream.consumed.inc(consumed)
        stream.predicted.inc(predicted)
        errors = 0
        for reason, count in dead.items():
            child = stream.dead_lettered.get(reason)
            if child is None:
                child = stream.dead_lettered[reason] = self.events_dead_lettered.labels(
                    deployment, topic, reason
                )
            child.inc(count)
            if reason == _SCORING_ERROR:
                errors += count
        if deployment == UNROUTED_DEPLOYMENT:
            return  # never offered to a model: no ml_* series, so no 0%-success deployment to alert on
        model = self._model_children(deployment)
        model.requests_ok.inc(predicted)
        model.requests_error.inc(errors)
        model.requests_rejected.inc(dead_total - errors)
        model.feature_extractions.inc(predicted if featurized is None else featurized)
        model.latency_ms.observe_many(latencies_ms)
        model.scores.observe_many(scores)
        if model_errors_by_type:
            for error_type, count in model_errors_by_type.items():
                self.model_errors.labels(deployment, error_type).inc(count)

    def _model_children(self, deployment: str) -> _ModelChildren:
        version = self._versions.get(deployment, _UNKNOWN_VERSION)
        model = self._models.get((deployment, version))
        if model is None:
            requests = self.predict_requests
            model = self._models[(deployment, version)] = _ModelChildren(
                requests_ok=requests.labels(deployment, version, STATUS_OK),
                requests_rejected=requests.labels(deployment, version, STATUS_REJECTED),
                requests_error=requests.labels(deployment, version, STATUS_ERROR),
                feature_extractions=self.feature_extractions.labels(deployment),
                latency_ms=self.predict_latency_ms.labels(deployment, version),
                scores=self.prediction_score.labels(deployment, version),
            )
        return model

    def set_consumer_lags(self, lags_by_partition: Mapping[tuple[str, int], int]) -> None:
        """Set the lag of each ``(topic, partition)``, typically once per batch from the consumer."""
        gauge = self.consumer_lag
        for (topic, partition), lag in lags_by_partition.items():
            gauge.labels(topic, str(partition)).set(lag)

    def forget_partitions(self, partitions: Iterable[tuple[str, int]]) -> None:
        """Stop exporting the lag of partitions revoked from this worker in a rebalance."""
        for topic, partition in partitions:
            with contextlib.suppress(KeyError):
                self.consumer_lag.remove(topic, str(partition))

    # -- slower events ------------------------------------------------------------------------

    def record_model_error(self, deployment: str, error_type: str, count: int = 1) -> None:
        """Count model failures outside a scored batch (for example while learning from labels)."""
        self.model_errors.labels(deployment, error_type).inc(count)

    def record_labels(self, deployment: str, *, joined: int = 0, expired: int = 0) -> None:
        """Count delayed labels joined to their prediction, and predictions whose label expired."""
        self.labels_joined.labels(deployment).inc(joined)
        self.labels_expired.labels(deployment).inc(expired)

    def record_dead_letters_acknowledged(self, deployment: str, reason: str, count: int = 1) -> None:
        """Count dead letters the broker acknowledged (``deployment`` may be ``UNROUTED_DEPLOYMENT``)."""
        self.dead_letters_acknowledged.labels(deployment, reason).inc(count)

    def record_publish_failure(self, topic: str, reason: str, count: int = 1) -> None:
        """Count records the broker refused for ``topic``; ``reason`` is the error's name."""
        self.publish_failures.labels(topic, reason).inc(count)

    def record_lost(self, deployment: str, topic: str, reason: str, count: int = 1) -> None:
        """Count input messages of ``topic`` whose dead letter was refused too: they have no fate."""
        self.events_lost.labels(deployment, topic, reason).inc(count)

    def record_drift_alert(self, deployment: str, kind: str, detector: str, count: int = 1) -> None:
        """Count drift alerts of one kind (data, concept, prediction, agreement) from one detector."""
        if count < 1:
            raise ValueError(f"drift alert count for {deployment!r} must be at least 1, got {count}")
        self.drift_alerts.labels(deployment, kind, detector).inc(count)

    def set_shadow_agreement(self, deployment: str, shadow: str, agreement: float) -> None:
        """Set the share (0 to 1) of the last window where ``shadow`` agreed with the live model."""
        if not 0.0 <= agreement <= 1.0:
            raise ValueError(
                f"shadow {shadow!r} of {deployment!r}: agreement must be in [0, 1], got {agreement}"
            )
        self.shadow_agreement.labels(deployment, shadow).set(agreement)
        self._shadows.setdefault(deployment, set()).add(shadow)

    def record_checkpoint_refused(self, deployment: str, reason: str) -> None:
        """Count a checkpoint refused at restore (recovery, step 1)."""
        self.checkpoints_refused.labels(deployment, reason).inc()

    def record_silent_rebuild(self, deployment: str, *, rebuilt: int, remaining: int) -> None:
        """Count routed records learned silently and set how many are left (recovery, step 3)."""
        self.silent_rebuild_events.labels(deployment).inc(rebuilt)
        self.silent_rebuild_remaining.labels(deployment).set(remaining)

    def record_checkpoint(self, deployment: str) -> None:
        """Count a checkpoint that was just written and reset the deployment's checkpoint age."""
        self.checkpoints_written.labels(deployment).inc()
        self._checkpoint_age.written(deployment)
