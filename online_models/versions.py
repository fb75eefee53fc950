"""A deployment's model versions: every swap, promotion and rollback, with its reason and evidence."""

from __future__ import annotations

import copy
from typing import Any

from tracer.schemas import DeploymentSpec, ModelVersion, VersionReason

__all__ = ["VersionHistory"]


class VersionHistory:
    """The ordered versions of one deployment's live model. The last one is live.

    Model *objects* of earlier versions are kept (bounded by ``keep_models``) so a rollback can
    restore them; the records themselves are kept whole and published to ``tracer.registry``.
    """

    def __init__(self, spec: DeploymentSpec, *, created_at: int, keep_models: int = 5) -> None:
        self.spec = spec
        self.keep_models = keep_models
        self.records: list[ModelVersion] = []
        self.models: dict[int, Any] = {}
        self.record("deploy", created_at=created_at, model=None, learned_through={}, metrics={})

    @property
    def live(self) -> ModelVersion:
        """The live version's record."""
        return self.records[-1]

    def record(
        self,
        reason: VersionReason,
        *,
        created_at: int,
        model: Any,
        learned_through: dict[str, int],
        metrics: dict[str, float],
        evidence: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        pipeline: str | None = None,
    ) -> ModelVersion:
        """Append a new version (parent: the current live one) and return its record."""
        parent = self.records[-1].version if self.records else None
        version = ModelVersion(
            deployment=self.spec.id,
            version=(parent or 0) + 1,
            parent_version=parent,
            blueprint=self.spec.blueprint,
            params=params if params is not None else dict(self.spec.params),
            pipeline=pipeline,
            reason=reason,
            created_at=created_at,
            learned_through=learned_through,
            metrics=metrics,
            evidence=evidence or {},
        )
        self.records.append(version)
        if model is not None:
            self.models[version.version] = model
        for old in sorted(self.models)[: -self.keep_models]:
            del self.models[old]
        return version

    def remember(self, version: int, model: Any) -> None:
        """Keep the model object that version ``version`` ran, for a later rollback."""
        self.models[version] = model

    def rollback_target(self, to_version: int | None) -> tuple[int, Any]:
        """The version to roll back to (default: the live version's parent) and its model object."""
        target = to_version if to_version is not None else self.live.parent_version
        if target is None:
            raise ValueError(f"{self.spec.id}: version {self.live.version} has no parent to roll back to")
        if target not in self.models:
            kept = ", ".join(map(str, sorted(self.models))) or "none"
            raise ValueError(f"{self.spec.id}: the model of version {target} is not kept (kept: {kept})")
        # a copy: live goes on learning, and the kept model must stay as it was for a later rollback
        return target, copy.deepcopy(self.models[target])
