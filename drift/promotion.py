"""Auto-promotion: whether a challenger has beaten the live model on enough labelled events.

The judge compares one progressive metric of both models over the same labelled events and asks for a
margin, in the metric's own units (``0.01`` on accuracy is one point; on MAE it is 0.01 of the target).
It returns the evidence either way, ready for ``ModelVersion.evidence``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tracer.drift.shadow import AgreementTracker, ModelKind
from tracer.schemas import DriftPolicy

__all__ = ["METRIC_HIGHER_IS_BETTER", "PromotionDecision", "PromotionJudge"]

METRIC_HIGHER_IS_BETTER: Mapping[str, bool] = {
    "accuracy": True,
    "log_loss": False,
    "mae": False,
    "rmse": False,
}
"""The metrics an :class:`~tracer.drift.shadow.AgreementTracker` reports, and which way is better."""

_DEFAULT_METRIC: Mapping[ModelKind, str] = {
    "classifier": "accuracy",
    "regressor": "mae",
    "multiclass": "accuracy",
}


@dataclass(frozen=True, slots=True)
class PromotionDecision:
    """A judge's answer: promote or not, why, and the figures it looked at."""

    promote: bool
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class PromotionJudge:
    """Promote a challenger that beats live by ``margin`` on ``metric`` over ``min_labelled_events`` labels.

    >>> judge = PromotionJudge(metric="accuracy", margin=0.02, min_labelled_events=1000)
    >>> decision = judge.judge({"accuracy": 0.81}, {"accuracy": 0.84}, labelled_events=1500)
    >>> decision.promote, decision.reason
    (True, 'challenger accuracy 0.8400 beats live 0.8100 by 0.0300 >= margin 0.0200 over 1500 labels')
    >>> judge.judge({"accuracy": 0.81}, {"accuracy": 0.84}, labelled_events=200).promote
    False
    """

    metric: str = "accuracy"
    margin: float = 0.0
    min_labelled_events: int = 1000

    def __post_init__(self) -> None:
        if self.metric not in METRIC_HIGHER_IS_BETTER:
            raise ValueError(
                f"PromotionJudge.metric must be one of {sorted(METRIC_HIGHER_IS_BETTER)}, got {self.metric!r}"
            )
        if not self.margin >= 0.0:
            raise ValueError(f"PromotionJudge.margin must be >= 0, got {self.margin}")
        if self.min_labelled_events < 1:
            raise ValueError(
                f"PromotionJudge.min_labelled_events must be >= 1, got {self.min_labelled_events}"
            )

    @classmethod
    def from_policy(cls, policy: DriftPolicy, kind: ModelKind = "classifier") -> PromotionJudge | None:
        """The judge a ``DriftPolicy`` asks for, or ``None`` when auto-promotion is off (no margin set)."""
        if policy.auto_promote_margin is None:
            return None
        return cls(
            metric=_DEFAULT_METRIC[kind],
            margin=policy.auto_promote_margin,
            min_labelled_events=policy.auto_promote_min_labels,
        )

    @property
    def higher_is_better(self) -> bool:
        """Whether a larger value of :attr:`metric` is better."""
        return METRIC_HIGHER_IS_BETTER[self.metric]

    def judge(
        self,
        live_metrics: Mapping[str, float],
        challenger_metrics: Mapping[str, float],
        *,
        labelled_events: int,
    ) -> PromotionDecision:
        """Decide on two models' metrics, measured over the same ``labelled_events`` labels."""
        evidence: dict[str, Any] = {
            "metric": self.metric,
            "higher_is_better": self.higher_is_better,
            "margin": self.margin,
            "labelled_events": labelled_events,
            "min_labelled_events": self.min_labelled_events,
        }
        if labelled_events < self.min_labelled_events:
            reason = f"only {labelled_events} labelled events, {self.min_labelled_events} needed"
            return PromotionDecision(False, reason, evidence | {"promote": False, "reason": reason})
        live = live_metrics.get(self.metric)
        challenger = challenger_metrics.get(self.metric)
        if live is None or challenger is None:
            reason = (
                f"metric {self.metric!r} missing from the {'live' if live is None else 'challenger'} metrics"
            )
            return PromotionDecision(False, reason, evidence | {"promote": False, "reason": reason})
        improvement = challenger - live if self.higher_is_better else live - challenger
        promote = improvement >= self.margin and improvement > 0.0
        if promote:
            reason = (
                f"challenger {self.metric} {challenger:.4f} beats live {live:.4f} by {improvement:.4f} "
                f">= margin {self.margin:.4f} over {labelled_events} labels"
            )
        else:
            reason = (
                f"challenger {self.metric} {challenger:.4f} vs live {live:.4f}: improvement {improvement:.4f} "
                f"is not above margin {self.margin:.4f}"
            )
        evidence |= {
            "live": live,
            "challenger": challenger,
            "improvement": improvement,
            "promote": promote,
            "reason": reason,
        }
        return PromotionDecision(promote, reason, evidence)

    def judge_tracker(self, tracker: AgreementTracker) -> PromotionDecision:
        """Decide on an :class:`~tracer.drift.shadow.AgreementTracker`'s progressive metrics."""
        decision = self.judge(
            tracker.live_metrics, tracker.shadow_metrics, labelled_events=tracker.labelled_events
        )
        evidence = decision.evidence | {"shadow": tracker.shadow_name, "live_version": tracker.live_version}
        return PromotionDecision(decision.promote, decision.reason, evidence)
