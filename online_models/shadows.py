"""Shadows pinned to a registered version of their deployment (``ShadowSpec.version``).

The semantics are :class:`~tracer.online_models.live.LiveDeployment`'s (see its docstring); this
module holds the bookkeeping: which shadows run a version, which still wait for theirs, how one
attaches, and what ``info()`` shows of the shadows.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping
from typing import Any

from tracer.drift import AgreementTracker
from tracer.online_models.deployment import Deployment
from tracer.schemas import DeploymentSpec, ShadowSpec

__all__ = ["attach_copy", "pending_versions", "pinned_to", "shadow_info"]


def pinned_to(spec: DeploymentSpec, version: int) -> list[ShadowSpec]:
    """The shadows of ``spec`` that run registered version ``version``."""
    return [shadow for shadow in spec.shadows if shadow.version == version]


def pending_versions(spec: DeploymentSpec, attached: Collection[str]) -> dict[str, int]:
    """Shadows pinned to a version that hasn't attached yet: name -> the version they wait for."""
    return {
        shadow.name: shadow.version
        for shadow in spec.shadows
        if shadow.version is not None and shadow.name not in attached
    }


def attach_copy(live: Deployment[Any], shadow: ShadowSpec, params: Mapping[str, Any]) -> Deployment[Any]:
    """A challenger starting from deep copies of ``live``'s model, feature state and watermark, with
    ``params`` (its version's) merged with the shadow's own. It shares nothing with ``live``."""
    challenger: Deployment[Any] = Deployment(
        type(live.blueprint),
        {**params, **shadow.params},
        column_mapping=live.column_mapping,
        seed=live.seed,
        max_pending=live.max_pending,
        pending_ttl_s=live.pending_ttl_s,
        context=live.context,
    )
    challenger.model = copy.deepcopy(live.model)
    challenger.state = copy.deepcopy(live.state)
    challenger.watermark_s = live.watermark_s
    return challenger


def shadow_info(spec: DeploymentSpec, trackers: Mapping[str, AgreementTracker]) -> dict[str, dict[str, Any]]:
    """Each shadow's progressive metrics; one pinned to a version also shows ``version`` and
    ``pending`` (a pending one has no metrics yet)."""
    shown: dict[str, dict[str, Any]] = {}
    for shadow in spec.shadows:
        tracker = trackers.get(shadow.name)
        entry: dict[str, Any] = {}
        if tracker is not None:
            entry = {
                "live_metrics": tracker.live_metrics,
                "shadow_metrics": tracker.shadow_metrics,
                "labelled_events": tracker.labelled_events,
            }
        if shadow.version is not None:
            entry |= {"version": shadow.version, "pending": tracker is None}
        shown[shadow.name] = entry
    return shown
