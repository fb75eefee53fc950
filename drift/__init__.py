"""Drift detection and shadow agreement: the pure, synchronous core the agents publish from.

Detectors follow River's verbs: ``update(x)``, then read ``drift_detected`` (and ``warning_detected``).

- :class:`DriftMonitor` owns one deployment's detectors (data drift per feature, prediction drift on
  scores, concept drift on errors) and turns detections into :class:`~tracer.schemas.DriftAlert`
  messages, with a cooldown per kind and feature.
- :class:`ReactionMachine` turns concept-drift flags into what the deployment should do with its models.
- :class:`AgreementTracker` compares a shadow with the live model and emits
  :class:`~tracer.schemas.ShadowReport` messages; :class:`PromotionJudge` decides whether a challenger
  has earned promotion.

Nothing here touches Kafka, asyncio, Prometheus or the clock: the caller passes positions and timestamps,
so the same stream always gives the same messages.
"""

from tracer.drift.concept import ErrorDriftConfig, ErrorDriftDetector, Outcome, adwin_bound
from tracer.drift.data import Detection, WindowedKS, WindowedKSConfig
from tracer.drift.monitor import DriftConfig, DriftMonitor
from tracer.drift.promotion import METRIC_HIGHER_IS_BETTER, PromotionDecision, PromotionJudge
from tracer.drift.reaction import Reaction, ReactionAction, ReactionMachine, ReactionState
from tracer.drift.shadow import AgreementTracker, AgreementWindow, ModelKind
from tracer.drift.stats import (
    as_float_array,
    ks_critical_value,
    ks_statistic,
    lag1_autocorrelation,
    max_autocorrelation,
)

__all__ = [
    "METRIC_HIGHER_IS_BETTER",
    "AgreementTracker",
    "AgreementWindow",
    "Detection",
    "DriftConfig",
    "DriftMonitor",
    "ErrorDriftConfig",
    "ErrorDriftDetector",
    "ModelKind",
    "Outcome",
    "PromotionDecision",
    "PromotionJudge",
    "Reaction",
    "ReactionAction",
    "ReactionMachine",
    "ReactionState",
    "WindowedKS",
    "WindowedKSConfig",
    "adwin_bound",
    "as_float_array",
    "ks_critical_value",
    "ks_statistic",
    "lag1_autocorrelation",
    "max_autocorrelation",
]
