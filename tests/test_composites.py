"""Composites (issue 21): objectives, validation, the decision on hand-made outputs, outcome learning."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tracer.blueprints import objectives, registry
from tracer.blueprints.actions import PROTOCOLS
from tracer.blueprints.objectives import NO_EFFECT, Assumption
from tracer.online_models.composite import (
    CompositeError,
    decide,
    gains,
    read,
    validate,
    value,
)
from tracer.online_models.composite_learning import OutcomeLearner
from tracer.schemas.composites import CompositeDecision, CompositeSpec

SEED = ["customer_churn", "price_elasticity", "upsell_likelihood", "payment_default"]


def spec(**changes: Any) -> CompositeSpec:
    body: dict[str, Any] = {"designation": "revenue_optimization", "components": SEED,
                            "objective": "maximize_revenue_6_months"}  # fmt: skip
    return CompositeSpec.model_validate({**body, **changes})


def outputs(churn: float = 0.3, expansion: float = 0.2, default: float = 0.05, confidence: float = 0.8,
            elasticity: float = -1.5) -> dict[str, dict[str, Any]]:  # fmt: skip
    return {
        "customer_churn": {"churn_probability": churn, "confidence": confidence},
        "upsell_likelihood": {"expansion_probability": expansion, "confidence": confidence,
                              "potential_expansion_value": 300.0},
        "payment_default": {"default_probability": default, "confidence": confidence},
        "price_elasticity": {"elasticity": elasticity, "elasticity_interval": (elasticity - 0.3, elasticity + 0.3),
                             "reference_price": 53.32, "optimal_price_point": 47.99, "confidence": confidence},
    }  # fmt: skip


# objectives


@pytest.mark.parametrize("objective_id", objectives.ids())
def test_objectives_speak_the_archive_vocabulary_about_registered_blueprints(objective_id: str) -> None:
    objective = objectives.get(objective_id)
    assert set(objective.protocols) | {objective.baseline} <= set(PROTOCOLS)
    assert set(objective.components) <= set(registry.ids())
    assert objective.requires


def test_overrides_change_assumptions_and_unknown_ones_are_refused() -> None:
    base = objectives.get("maximize_revenue_6_months")
    changed = base.overridden({"monthly_value": 250.0, "protocols": {"tier_upgrade": {"cost": 400.0}}})
    assert changed.monthly_value == 250.0 and changed.protocols["tier_upgrade"].cost == 400.0
    assert changed.protocols["tier_upgrade"].expansion == base.protocols["tier_upgrade"].expansion
    with pytest.raises(ValueError, match="not in the archive"):
        base.overridden({"protocols": {"free_lunch": {"cost": 1.0}}})
    with pytest.raises(ValueError, match="unknown objective overrides"):
        base.overridden({"horizon": 3})


def test_an_objective_naming_a_protocol_outside_the_vocabulary_fails() -> None:
    with pytest.raises(ValueError, match="not in the archive"):
        objectives.Objective("x", "x", ("customer_churn",), {"free_lunch": Assumption()})


# validation


def test_the_seed_composite_validates() -> None:
    composite = validate(spec(), registry.ids())
    assert composite.objective.id == "maximize_revenue_6_months"
    assert dict(composite.deployments) == {b: b for b in SEED}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"components": ["customer_churn", "no_such_blueprint"]}, "components[1].blueprint"),
        ({"components": ["customer_churn", "customer_churn", "upsell_likelihood"]}, "components[1].blueprint"),
        ({"components": [{"blueprint": "customer_churn", "entity": "customer_id"},
                         {"blueprint": "upsell_likelihood", "entity": "product_id"}]}, "components[1].entity"),
        ({"entity": "account_id", "components": [{"blueprint": "customer_churn", "entity": "customer_id"},
                                                 "upsell_likelihood"]}, "components[0].entity"),
        ({"components": ["customer_churn", "payment_default"]}, "components"),
        ({"objective": "maximize_happiness"}, "objective"),
        ({"overrides": {"protocols": {"tier_upgrade": {"churn": -1.0}}}}, "overrides"),
    ],
)  # fmt: skip
def test_invalid_composites_are_refused_with_the_field_named(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(CompositeError) as caught:
        validate(spec(**changes), registry.ids())
    assert caught.value.field == field
    assert str(caught.value).startswith(field + ":")


def test_components_must_be_live_deployments_of_their_blueprint() -> None:
    body = spec(components=[{"blueprint": "customer_churn", "deployment": "churn-prod"}, "upsell_likelihood"])
    live = {"churn-prod": "customer_churn", "upsell_likelihood": "upsell_likelihood"}
    assert validate(body, registry.ids(), live).deployments["customer_churn"] == "churn-prod"
    with pytest.raises(CompositeError) as caught:
        validate(body, registry.ids(), {**live, "churn-prod": "player_churn"})
    assert caught.value.field == "components[0].deployment"


# the decision


def test_the_decision_has_the_seed_fields_computed_from_the_components() -> None:
    seen = {**outputs(churn=0.45, expansion=0.4), "player_churn": {"churn_probability": 1.0}}
    decision = decide(validate(spec(), registry.ids()), "c-1", seen, {"mrr": 800.0})  # player_churn: ignored
    assert isinstance(decision, CompositeDecision)
    assert decision.components == sorted(SEED) and decision.risk_assessment == "medium"
    assert decision.recommended_protocols, decision
    for item in decision.recommended_protocols:
        assert item.protocol in PROTOCOLS and 0 < item.confidence < 1
        assert item.impact == f"+${item.expected_value:,.0f}"
    values = [p.expected_value for p in decision.recommended_protocols]
    assert values == sorted(values, reverse=True)
    assert decision.optimal_price_point is not None


def test_ranking_follows_the_components() -> None:
    composite = validate(spec(), registry.ids())
    ctx = {"mrr": 800.0}
    leaving = engine_decision(composite, outputs(churn=0.8, expansion=0.05), ctx)
    expanding = engine_decision(composite, outputs(churn=0.02, expansion=0.9), ctx)
    assert leaving.recommended_protocols[0].protocol in {
        "immediate_outreach",
        "retention_offer",
        "engagement_campaign",
    }
    assert leaving.risk_assessment == "critical"
    assert expanding.recommended_protocols[0].protocol in {"tier_upgrade", "seat_expansion_offer"}
    assert expanding.risk_assessment == "low"
    quiet = engine_decision(composite, outputs(churn=0.01, expansion=0.01), {"mrr": 20.0})
    assert [p.protocol for p in quiet.recommended_protocols] == ["no_action"]


def test_a_discount_pays_only_where_demand_is_elastic() -> None:
    composite = validate(spec(), registry.ids())
    elastic = read(outputs(churn=0.6, elasticity=-4.0), composite.objective, {"mrr": 100.0})
    inelastic = read(outputs(churn=0.6, elasticity=-0.3), composite.objective, {"mrr": 100.0})
    assert (
        gains(composite, elastic)["targeted_discount"][0]
        > 0
        > gains(composite, inelastic)["targeted_discount"][0]
    )


def test_confidence_falls_with_the_components_confidence() -> None:
    composite = validate(spec(), registry.ids())
    sure = engine_decision(composite, outputs(churn=0.6, confidence=0.95), {"mrr": 800.0})
    unsure = engine_decision(composite, outputs(churn=0.6, confidence=0.05), {"mrr": 800.0})
    top = sure.recommended_protocols[0]
    same = next(p for p in unsure.recommended_protocols if p.protocol == top.protocol)
    assert same.expected_value == top.expected_value and same.confidence < top.confidence


def test_margin_objective_values_a_price_rise_on_inelastic_demand() -> None:
    composite = validate(spec(objective="maximize_margin"), registry.ids())
    decision = engine_decision(composite, outputs(churn=0.1, expansion=0.01, elasticity=-0.4), {"mrr": 100.0})
    assert decision.recommended_protocols[0].protocol == "raise_price"
    assert decision.optimal_price_point == pytest.approx(53.32 * 1.05, abs=0.01)


def engine_decision(
    composite: Any, outs: dict[str, dict[str, Any]], ctx: dict[str, Any]
) -> CompositeDecision:
    return decide(composite, "e", outs, ctx)


# learning from outcomes


def test_the_learner_measures_a_planted_uplift_and_changes_the_decision() -> None:
    """Planted: tier_upgrade triples expansion (assumed x1.8), retention_offer does nothing (assumed x0.65)."""
    composite = validate(spec(), registry.ids())
    objective = composite.objective
    truth = {
        "tier_upgrade": Assumption(cost=40.0, expansion=3.0),
        "retention_offer": Assumption(cost_months=1.0),
    }
    rng = np.random.default_rng(0)
    learner = OutcomeLearner(objective, seed=1)

    def entity() -> Any:
        churn, expansion = float(rng.uniform(0.15, 0.3)), float(rng.uniform(0.15, 0.3))
        return read(outputs(churn=churn, expansion=expansion, confidence=0.9), objective, {"mrr": 100.0})

    probe = entity()
    before = {k: v[0] for k, v in gains(composite, probe, learner).items()}
    for _ in range(1500):
        r = entity()
        for name in ("tier_upgrade", "retention_offer", "no_action"):
            a = truth.get(name, NO_EFFECT)
            happened = {"churned": rng.random() < r.churn * a.churn, "expanded": rng.random() < r.expansion * a.expansion,
                        "defaulted": rng.random() < r.default * a.default}  # fmt: skip
            learner.update(name, r, happened)
    after = {k: v for k, v in gains(composite, probe, learner).items()}
    true_gain = {k: value(probe, a, objective) - value(probe, NO_EFFECT, objective) for k, a in truth.items()}
    for name in truth:
        assert abs(after[name][0] - true_gain[name]) < abs(before[name] - true_gain[name]) / 2, name
        prior_gain, prior_sd = gains(composite, probe)[name]
        assert after[name][1] / abs(after[name][0]) < prior_sd / abs(prior_gain), name  # outcomes narrowed it
    uplift = learner.uplift()
    assert uplift["tier_upgrade"]["measured_uplift"] > 1.5 * uplift["tier_upgrade"]["assumed_uplift"] > 0
    assert uplift["retention_offer"]["measured_uplift"] < uplift["retention_offer"]["assumed_uplift"]
    assert uplift["retention_offer"]["outcomes"] == 1500
    assert max(after, key=lambda k: after[k][0]) == "tier_upgrade"
    assert [learner.choose(probe) for _ in range(20)].count("tier_upgrade") >= 15


def test_doctests() -> None:
    import doctest

    from tracer.online_models import composite

    for module in (objectives, composite):
        assert doctest.testmod(module).failed == 0
