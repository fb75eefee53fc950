"""Drift detection and shadow agreement: the pure, synchronous core the agents publish from.

Detectors follow River's verbs: ``update(x)``, then read ``drift_detected`` (and ``warning_detected``).
:class:`DriftMonitor` owns one deployment's detectors and turns detections into
:class:`~tracer.schemas.DriftAlert` messages; :class:`AgreementTracker` compares a shadow with the live
model and emits :class:`~tracer.schemas.ShadowReport` messages; :class:`PromotionJudge` decides whether a
challenger has earned promotion. Nothing here touches Kafka, asyncio, Prometheus or the clock.
"""

from tracer.drift.concept import ErrorDriftConfig, ErrorDriftDetector, Outcome, adwin_bound
from tracer.drift.data import WindowedKS, WindowedKSConfig, as_float_array, ks_critical_value, ks_statistic
from tracer.drift.monitor import DriftConfig, DriftMonitor
from tracer.drift.reaction import Reaction, ReactionAction, ReactionMachine, ReactionState

__all__ = [
    "DriftConfig",
    "DriftMonitor",
    "ErrorDriftConfig",
    "ErrorDriftDetector",
    "Outcome",
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
]
