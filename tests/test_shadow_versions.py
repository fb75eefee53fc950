"""Shadows pinned to a registered version of their deployment (``ShadowSpec.version``), through LiveDeployment."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import pytest

from tracer.blueprints.recipes.customer_churn import CustomerChurn
from tracer.online_models.batch import Source
from tracer.online_models.deployment import Deployment
from tracer.online_models.live import BatchResult, LiveDeployment, RoutedEvent
from tracer.schemas import DeploymentSpec

RULE = {"name": "rule", "params": {"churnDefinition": "no_login_30_days"}}
"""A shadow with other params: promoting it records version 2."""


def spec(*shadows: dict[str, Any], **overrides: object) -> DeploymentSpec:
    fields: dict[str, object] = {
        "id": "churn", "blueprint": "customer_churn", "input_topics": ["crm"], "key_field": "cust_id",
        "labels": {"mode": "inline", "field": "churned"}, "shadows": list(shadows),
        "drift": {"agreement_window_events": 50},
    }  # fmt: skip
    return DeploymentSpec.model_validate(fields | overrides)


def events(n: int, seed: int, *, flip: bool = False) -> list[RoutedEvent]:
    """``n`` generated rows (their outcome inverted if ``flip``: a concept drift)."""
    rows = json.loads(CustomerChurn().sample(n, seed=seed).to_json(orient="records", date_format="iso"))
    if flip:
        for row in rows:
            row["churned"] = not row["churned"]
    source = Source("crm", 0, 0)
    return [RoutedEvent(json.dumps(row).encode(), None, source, 0) for row in rows]


def run(live: LiveDeployment, seeds: range, *, rows: int = 100) -> list[BatchResult]:
    results = [live.process(events(rows, seed), now_ms=seed) for seed in seeds]
    for result in results:
        assert len(result.predictions) == result.rows == rows, "only live predictions are published"
    return results


def probe(deployment: Deployment[Any]) -> list[float]:
    """Scores of rows never seen, on a copy (scoring updates the feature state)."""
    deployment = copy.deepcopy(deployment)
    return [
        deployment.score(row).score for row in CustomerChurn().sample(20, seed=77).to_dict(orient="records")
    ]


def reports(results: list[BatchResult], shadow: str) -> list[float]:
    return [report.agreement for result in results for report in result.reports if report.shadow == shadow]


def test_version_1_attaches_at_once_and_agrees_with_live_until_live_changes() -> None:
    live = LiveDeployment(spec(RULE, {"name": "v1", "version": 1}), created_at=0)
    assert live.pending_shadows == {}
    assert live.info()["shadows"]["v1"] == {
        "live_metrics": {}, "shadow_metrics": {}, "labelled_events": 0, "version": 1, "pending": False,
    }  # fmt: skip
    assert live.shadows["v1"].model is not live.live.model
    assert live.shadows["v1"].params == live.live.params

    agreement = reports(run(live, range(4)), "v1")
    assert agreement == [1.0] * 8
    assert probe(live.shadows["v1"]) == probe(live.live), "the same model, learning the same outcomes"

    live.promote("rule", now_ms=10)
    run(live, range(4, 8))
    assert probe(live.shadows["v1"]) != probe(live.live)


def test_a_later_version_is_pending_until_a_promotion_records_it_then_keeps_its_lineage() -> None:
    live = LiveDeployment(spec(RULE, {"name": "v2", "version": 2}), created_at=0)
    assert live.pending_shadows == {"v2": 2}
    assert "v2" not in live.shadows and "v2" not in live.trackers
    assert live.info()["shadows"]["v2"] == {"version": 2, "pending": True}
    assert reports(run(live, range(4)), "v2") == [], "a pending shadow scores nothing"
    with pytest.raises(KeyError, match="pending, it waits for version 2"):
        live.promote("v2", now_ms=5)

    promoted = live.promote("rule", now_ms=10)
    assert promoted.version == 2 and live.pending_shadows == {}
    assert live.info()["shadows"]["v2"]["pending"] is False
    pinned = live.shadows["v2"]
    assert pinned.model is not live.live.model and pinned.state is not live.live.state
    assert probe(pinned) == probe(live.live), "version 2 is live: the shadow starts as a copy of it"
    assert reports(run(live, range(4, 8)), "v2") == [1.0] * 8

    live.rollback(now_ms=20)  # version 3: version 1's model again
    assert live.model_version == 3
    results = run(live, range(8, 12))
    assert len(reports(results, "v2")) == 8
    assert probe(live.shadows["v2"]) != probe(live.live)
    # "rule" was promoted into version 2, so it and the pinned shadow share one lineage since then.
    assert probe(live.shadows["v2"]) == probe(live.shadows["rule"])


def test_the_params_of_the_version_merged_with_the_shadows_own_are_used() -> None:
    pinned = {"name": "v2", "version": 2, "params": {"predictionWindow": "60_days"}}
    live = LiveDeployment(spec(RULE, pinned), created_at=0)
    run(live, range(2))
    live.promote("rule", now_ms=10)
    assert live.history.records[1].params["churnDefinition"] == "no_login_30_days"
    assert live.shadows["v2"].params == CustomerChurn.resolve_params(
        {"churnDefinition": "no_login_30_days", "predictionWindow": "60_days"}
    )
    assert live.live.params["predictionWindow"] == "30_days"


def test_a_rollback_that_records_the_version_attaches_it() -> None:
    # A rollback needs a parent, so the earliest version one can record is 3.
    live = LiveDeployment(spec(RULE, {"name": "v3", "version": 3}), created_at=0)
    run(live, range(4))
    first = probe(live.live)
    live.promote("rule", now_ms=10)
    run(live, range(4, 6))
    assert live.pending_shadows == {"v3": 3}

    live.rollback(now_ms=20)
    assert probe(live.shadows["v3"]) == probe(live.live) == first
    assert live.shadows["v3"].params == live.live.params == CustomerChurn.resolve_params({})
    assert reports(run(live, range(6, 8)), "v3") == [1.0] * 4


def test_a_drift_swap_that_records_the_version_attaches_it() -> None:
    live = LiveDeployment(
        spec({"name": "v2", "version": 2}, drift={"reaction": "retrain", "agreement_window_events": 50}),
        created_at=0,
    )
    results = run(live, range(8), rows=200)
    assert live.pending_shadows == {"v2": 2} and not any(result.versions for result in results)
    swapped = next(
        result
        for seed in range(8, 20)
        if (result := live.process(events(200, seed, flip=True), now_ms=seed)).versions
    )
    assert [version.reason for version in swapped.versions] == ["drift_swap"]
    assert "v2" in live.shadows and "v2" not in live.pending_shadows
    # The shadow starts from the model version 2 put live; live then also learns the rest of the
    # swap's block, so the two are close, not identical, and agree from then on.
    later = [live.process(events(200, seed, flip=True), now_ms=seed) for seed in range(20, 22)]
    assert len(reports(later, "v2")) == 8 and min(reports(later, "v2")) >= 0.95
    assert all(len(result.predictions) == 200 for result in later)


def test_a_pending_shadow_survives_a_pickle_round_trip_and_attaches_later() -> None:
    live = LiveDeployment(spec(RULE, {"name": "v2", "version": 2}), created_at=0)
    run(live, range(3))
    restored: LiveDeployment = pickle.loads(pickle.dumps(live))
    assert restored.pending_shadows == {"v2": 2}

    restored.promote("rule", now_ms=10)
    assert probe(restored.shadows["v2"]) == probe(restored.live)
    assert reports(run(restored, range(3, 5)), "v2") == [1.0] * 4

    again: LiveDeployment = pickle.loads(pickle.dumps(restored))
    assert probe(again.shadows["v2"]) == probe(restored.shadows["v2"])
