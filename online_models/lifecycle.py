"""The live model's versions: drift swaps, promotions of shadows, auto-promotion and rollbacks.

:class:`ModelLifecycle` holds the methods only; the state they act on is
:class:`~tracer.online_models.live.LiveDeployment`'s (its history, live model, shadows, trackers and
drift monitor), so a checkpoint pickles exactly what it did.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from tracer.drift import AgreementTracker, DriftMonitor, PromotionJudge, ReactionAction
from tracer.online_models.batch import BatchResult
from tracer.online_models.deployment import Deployment
from tracer.online_models.shadows import pending_versions
from tracer.online_models.versions import VersionHistory
from tracer.schemas import DeploymentSpec, ModelVersion

__all__ = ["ModelLifecycle"]


class ModelLifecycle:
    """What changes which model is live, and each change recorded as a new version. A mixin of
    :class:`~tracer.online_models.live.LiveDeployment`: no state of its own, the attributes below are
    the deployment's (declared for type checking only)."""

    spec: DeploymentSpec
    live: Deployment[Any]
    history: VersionHistory
    shadows: dict[str, Deployment[Any]]
    trackers: dict[str, AgreementTracker]
    monitor: DriftMonitor
    judge: PromotionJudge | None
    background: Any
    source_positions: dict[str, int]
    attach_version_shadows: Callable[[], list[str]]

    @property
    def model_version(self) -> int:
        """The live model's version."""
        return self.history.live.version

    @property
    def pending_shadows(self) -> dict[str, int]:
        """Shadows pinned to a version not recorded yet: name -> the version they wait for."""
        return pending_versions(self.spec, self.shadows)

    def _react(self, action: ReactionAction, result: BatchResult, now_ms: int) -> None:
        if action is ReactionAction.START_BACKGROUND:
            self.background = self._fresh_model()
        elif action is ReactionAction.DROP_BACKGROUND:
            self.background = None
        elif action in (ReactionAction.SWAP_BACKGROUND, ReactionAction.RESET_LIVE):
            reason = (
                "background model trained since the warning" if self.background is not None else "fresh model"
            )
            concept = self.monitor.concept  # the detection that asked for the swap (reset by it)
            self._swap(
                self.background if self.background is not None else self._fresh_model(),
                "drift_swap",
                now_ms,
                result,
                {"action": action.value, "detail": reason},
                params=dict(self.live.params),
                pipeline=self.history.live.pipeline,
                metrics={
                    "error_rise": concept.statistic,
                    "threshold": concept.threshold,
                    "reference_window_events": float(concept.reference_events),
                    "current_window_events": float(concept.current_events),
                },
            )
            self.background = None

    def _fresh_model(self) -> Any:
        """An untrained model of the live version's pipeline (a promoted challenger's stays its own)."""
        blueprint, params, pipeline = self.live.blueprint, self.live.params, self.history.live.pipeline
        if pipeline is None:
            return blueprint.make_model(params, self.spec.seed)
        return blueprint.make_challenger_model(pipeline, params, self.spec.seed)

    def _swap(
        self,
        model: Any,
        reason: Any,
        now_ms: int,
        result: BatchResult | None,
        evidence: dict[str, Any],
        *,
        params: dict[str, Any] | None = None,
        pipeline: str | None = None,
        metrics: dict[str, float] | None = None,
    ) -> ModelVersion:
        self.history.remember(self.model_version, self.live.model)
        self.live.replace_model(model)
        version = self.history.record(
            reason,
            created_at=now_ms,
            model=self.live.model,
            learned_through=dict(self.source_positions),
            metrics=metrics or {},
            evidence=evidence,
            params=params,
            pipeline=pipeline,
        )
        self.monitor.set_model_version(version.version)
        for tracker in self.trackers.values():
            tracker.set_live_version(version.version)
        self.attach_version_shadows()
        if result is not None:
            result.versions.append(version)
        return version

    def promote(self, shadow: str, *, now_ms: int, evidence: dict[str, Any] | None = None) -> ModelVersion:
        """Make shadow ``shadow`` live: a copy of its model and its parameters become a new version,
        reason ``promotion``, with the evidence. The shadow keeps running as it was."""
        if shadow in self.pending_shadows:
            waits = self.pending_shadows[shadow]
            raise KeyError(f"{self.spec.id}: shadow {shadow!r} is pending, it waits for version {waits}")
        if shadow not in self.shadows:
            raise KeyError(
                f"{self.spec.id} has no shadow {shadow!r}; shadows: {', '.join(self.shadows) or 'none'}"
            )
        tracker = self.trackers[shadow]
        proof = {"shadow": shadow, "live_metrics": tracker.live_metrics, "shadow_metrics": tracker.shadow_metrics,
                 "labelled_events": tracker.labelled_events, **(evidence or {})}  # fmt: skip
        challenger = self.shadows[shadow]
        self.live.params = dict(challenger.params)  # resolved already
        return self._swap(copy.deepcopy(challenger.model), "promotion", now_ms, None, proof,
                          params=dict(challenger.params), pipeline=self._pipeline_of(shadow))  # fmt: skip

    def _pipeline_of(self, shadow: str) -> str | None:
        """The pipeline shadow ``shadow`` runs: its own, or that of the version it is pinned to."""
        spec = next(s for s in self.spec.shadows if s.name == shadow)
        if spec.version is not None:
            return self.history.records[spec.version - 1].pipeline
        return spec.model

    def _auto_promote(self, result: BatchResult, now_ms: int) -> None:
        """Promote a challenger that beats live by the policy's margin over enough labelled events."""
        if self.judge is None:
            return
        for name, tracker in list(self.trackers.items()):  # promoting may attach a shadow
            decision = self.judge.judge_tracker(tracker)
            if decision.promote:
                result.versions.append(
                    self.promote(name, now_ms=now_ms, evidence={"auto": True, **decision.evidence})
                )
                return

    def rollback(self, *, now_ms: int, to_version: int | None = None) -> ModelVersion:
        """Make an earlier version live again, its model and its parameters: a new version, reason ``rollback``."""
        target, model = self.history.rollback_target(to_version)
        restored = self.history.records[target - 1]
        params = dict(restored.params)
        self.live.params = type(self.live.blueprint).resolve_params(params)
        return self._swap(model, "rollback", now_ms, None, {"restored_version": target}, params=params,
                          pipeline=restored.pipeline)  # fmt: skip
