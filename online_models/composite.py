"""Composite decisions (issue 21): combine the latest outputs of several blueprints toward an objective.

A composite joins deployments that share an entity (a customer, an account) under an objective
(:mod:`tracer.blueprints.objectives`). For one entity, :func:`decide` reads each component's latest
output through its stable fields (``churn_probability``; ``expansion_probability`` and
``potential_expansion_value``; ``default_probability``; ``elasticity``, ``elasticity_interval``,
``reference_price`` and ``optimal_price_point``; each with its ``confidence``), values the entity over
the objective's horizon with no action and under each protocol the objective may recommend, and ranks
the protocols by expected value after cost, as next-best-action engines arbitrate propensity x value.

Value over the horizon H (months), for monthly value m, churn c, expansion e, default d, liquidation l:
``margin(m) x H x (1 - c/2) + w x e x (1 - c) x x_value x margin_rate x H/2``, times ``1 - d x lgd``,
less ``l x liquidation_penalty x m`` and the protocol's cost; churners leave on average half-way, an
expansion lands half-way. A price
change p scales the monthly price and multiplies churn by ``(1 + p)^-elasticity`` (unit elasticity
without ``price_elasticity``).

Confidence is not a constant: it is P(the protocol's value after cost > 0) under a normal approximation
whose spread propagates each component's uncertainty (a probability p with confidence k has standard
deviation (1 - k) x sqrt(p(1 - p)); the elasticity its interval's half-width / 1.96), the objective's
uncertainty on the assumed effect or, once outcomes arrive, the learned effect's posterior spread.

Learning from outcomes (:class:`~tracer.online_models.composite_learning.OutcomeLearner`): a contextual bandit (Thompson sampling) that learns
each protocol's true multipliers on the components' probabilities from what happened to the entities it
was applied to, starting from the objective's assumptions; the decision then uses the learned effects.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracer.blueprints import objectives
from tracer.blueprints.objectives import (
    CHURN,
    CREDIT,
    EXPANSION,
    LIQUIDATION,
    NO_EFFECT,
    PRICE_CURVE,
    Assumption,
    Objective,
)
from tracer.schemas.composites import (
    CompositeComponent,
    CompositeDecision,
    CompositeSpec,
    RecommendedProtocol,
    RiskAssessment,
)
from tracer.schemas.deployment import DeploymentSpec

if TYPE_CHECKING:  # the learner reads values through this module
    from tracer.online_models.composite_learning import OutcomeLearner

__all__ = [
    "Composite",
    "CompositeError",
    "Reading",
    "decide",
    "gains",
    "read",
    "read_component",
    "reading_fields",
    "recommendation",
    "resolve",
    "validate",
    "value",
]

MONTHLY_VALUE_KEYS = (
    "monthly_value",
    "mrr",
    "monthly_revenue",
    "monthly_spend",
    "monthly_charges",
    "debt_usd",
    "debt_value_usd",
    "position_value",
)
"""Where an analyzed row gives the entity's value (a customer's monthly value, a position's debt)."""
DEFAULT_EXPANSION_SHARE = 0.3
"""An expansion's monthly value as a share of the monthly value when ``upsell_likelihood`` gives none."""


class CompositeError(ValueError):
    """An invalid composite, with the field at fault (``components[2].entity``, ``objective``...)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class Composite:
    """A validated composite: its spec, objective (with overrides), entity key and component deployments."""

    spec: CompositeSpec
    objective: Objective
    entity: str | None
    deployments: Mapping[str, str]
    """blueprint id -> the deployment serving it."""

    @property
    def id(self) -> str:
        return self.spec.designation


def validate(
    spec: CompositeSpec,
    known_blueprints: Collection[str],
    deployments: Mapping[str, str] | None = None,
) -> Composite:
    """``spec`` checked: every component a known blueprint (and, given ``deployments``: deployment id ->
    blueprint id, a live deployment of it), one entity key for all, the objective known and all its
    required components present, the overrides valid. Raises :class:`CompositeError` naming the field."""
    try:
        objective = objectives.get(spec.objective)
    except KeyError as error:
        raise CompositeError("objective", str(error.args[0])) from None
    served: dict[str, str] = {}
    entities: dict[str, str] = {}
    for i, component in enumerate(spec.components):
        where = f"components[{i}]"
        if component.blueprint not in known_blueprints:
            raise CompositeError(f"{where}.blueprint", f"unknown blueprint {component.blueprint!r}")
        if component.blueprint in served:
            raise CompositeError(f"{where}.blueprint", f"{component.blueprint!r} appears twice")
        deployment = component.deployment or component.blueprint
        if deployments is not None:
            if deployment not in deployments:
                raise CompositeError(f"{where}.deployment", f"no deployment {deployment!r}")
            if deployments[deployment] != component.blueprint:
                raise CompositeError(
                    f"{where}.deployment",
                    f"{deployment!r} runs {deployments[deployment]!r}, not {component.blueprint!r}",
                )
        served[component.blueprint] = deployment
        if component.entity is not None:
            entities[where + ".entity"] = component.entity
    if spec.entity is not None:
        entities = {"entity": spec.entity, **entities}
    if len(set(entities.values())) > 1:
        first_field, first = next(iter(entities.items()))
        other_field, other = next((f, e) for f, e in entities.items() if e != first)
        raise CompositeError(other_field, f"entity {other!r} does not match {first!r} ({first_field})")
    missing = [b for b in objective.requires if b not in served]
    if missing:
        raise CompositeError(
            "components", f"objective {objective.id!r} needs {missing}, which the composite lacks"
        )
    try:
        objective = objective.overridden(spec.overrides)
    except (TypeError, ValueError) as error:
        raise CompositeError("overrides", str(error)) from None
    entity = next(iter(entities.values()), None)
    return Composite(spec, objective, entity, served)


def resolve(
    spec: CompositeSpec, deployments: Mapping[str, DeploymentSpec], known_blueprints: Collection[str]
) -> Composite:
    """``spec`` checked against running ``deployments`` (by id): a component named by a deployment's id
    is that deployment; one named by a blueprint id is the one deployment running it (refused if none or
    several: name the deployment then); a component's entity defaults to its deployment's key field.
    Then :func:`validate`. Raises :class:`CompositeError` naming the field."""
    components = []
    for i, component in enumerate(spec.components):
        deployment_id = component.deployment
        blueprint = component.blueprint
        if deployment_id is None and blueprint in deployments and blueprint not in known_blueprints:
            deployment_id, blueprint = blueprint, deployments[blueprint].blueprint
        if deployment_id is None:
            running = sorted(d for d, s in deployments.items() if s.blueprint == blueprint)
            if blueprint in known_blueprints and len(running) != 1:
                problem = "no deployment runs it" if not running else f"several deployments run it: {running}"
                raise CompositeError(
                    f"components[{i}]", f"{blueprint!r}: {problem}; name one with {{blueprint, deployment}}"
                )
            deployment_id = running[0] if running else blueprint
        running_spec = deployments.get(deployment_id)
        entity = component.entity or (running_spec.key_field if running_spec is not None else None)
        components.append(CompositeComponent(blueprint=blueprint, deployment=deployment_id, entity=entity))
    resolved = spec.model_copy(update={"components": components})
    return validate(resolved, known_blueprints, {d: s.blueprint for d, s in deployments.items()})


@dataclass(frozen=True)
class Reading:
    """What the components say about one entity: probabilities with their standard deviations."""

    monthly_value: float
    churn: float = 0.0
    churn_sd: float = 0.0
    expansion: float = 0.0
    expansion_sd: float = 0.0
    expansion_value: float = 0.0
    default: float = 0.0
    default_sd: float = 0.0
    liquidation: float = 0.0
    liquidation_sd: float = 0.0
    elasticity: float = -1.0
    elasticity_sd: float = 0.0
    reference_price: float | None = None
    optimal_price_point: float | None = None


def _probability(output: Mapping[str, Any], name: str) -> tuple[float, float]:
    p = min(max(float(output[name]), 0.0), 1.0)
    confidence = min(max(float(output.get("confidence", 0.0)), 0.0), 1.0)
    return p, (1.0 - confidence) * math.sqrt(p * (1.0 - p))


def reading_fields(objective: Objective, context: Mapping[str, Any]) -> dict[str, Any]:
    """A :class:`Reading`'s fields before any component is read: the entity's value."""
    given = next((context[k] for k in MONTHLY_VALUE_KEYS if context.get(k) is not None), None)
    monthly = float(given) if given is not None else objective.monthly_value
    return {"monthly_value": monthly, "expansion_value": DEFAULT_EXPANSION_SHARE * monthly}


def read_component(fields: dict[str, Any], blueprint: str, output: Mapping[str, Any]) -> None:
    """Set the fields ``blueprint``'s latest ``output`` gives (another component's are left as they are,
    so a table can update a reading one prediction at a time); a blueprint the decision does not read
    changes nothing."""
    if blueprint == CHURN:
        fields["churn"], fields["churn_sd"] = _probability(output, "churn_probability")
    elif blueprint == EXPANSION:
        fields["expansion"], fields["expansion_sd"] = _probability(output, "expansion_probability")
        given = output.get("potential_expansion_value")
        fields["expansion_value"] = (
            float(given) if given is not None else DEFAULT_EXPANSION_SHARE * fields["monthly_value"]
        )
    elif blueprint == CREDIT:
        fields["default"], fields["default_sd"] = _probability(output, "default_probability")
    elif blueprint == LIQUIDATION:
        fields["liquidation"], fields["liquidation_sd"] = _probability(output, "liquidation_probability")
    elif blueprint == PRICE_CURVE:
        fields["elasticity"] = elasticity = float(output["elasticity"])
        low, high = (float(v) for v in output.get("elasticity_interval") or (elasticity, elasticity))
        fields["elasticity_sd"] = (high - low) / (2 * 1.96)
        fields["reference_price"] = output.get("reference_price")
        fields["optimal_price_point"] = output.get("optimal_price_point")


def read(
    outputs: Mapping[str, Mapping[str, Any]], objective: Objective, context: Mapping[str, Any]
) -> Reading:
    """The components' latest outputs (blueprint id -> output fields) for one entity, as a :class:`Reading`."""
    fields = reading_fields(objective, context)
    for blueprint, output in outputs.items():
        read_component(fields, blueprint, output)
    return Reading(**fields)


def value(r: Reading, a: Assumption, objective: Objective) -> float:
    """Expected value over the horizon of one entity under assumption ``a``, after its cost (module doc).
    (Written for speed: the stream stage calls it for every protocol on every component prediction.)"""
    price_change = a.price_change
    factor = 1.0 + price_change
    churn = r.churn * a.churn * (math.pow(factor, -r.elasticity) if price_change else 1.0)
    churn = churn if churn < 1.0 else 1.0
    expansion = r.expansion * a.expansion
    expansion = expansion if expansion < 1.0 else 1.0
    default = r.default * a.default
    default = default if default < 1.0 else 1.0
    m, horizon = r.monthly_value, objective.horizon_months
    margin_rate = objective.margin_rate
    kept = (m * factor - m * (1.0 - margin_rate)) * horizon * (1.0 - churn / 2.0)
    expanded = expansion * (1.0 - churn) * r.expansion_value * margin_rate * horizon / 2.0
    gross = (kept + objective.expansion_weight * expanded) * (1.0 - default * objective.loss_given_default)
    if r.liquidation:
        liquidation = r.liquidation * a.liquidation
        gross -= (liquidation if liquidation < 1.0 else 1.0) * objective.liquidation_penalty * m
    return gross - a.cost - a.cost_months * m


Nudged = list[tuple[Reading, float, float]]
"""The reading nudged along each uncertain input: (nudged reading, its baseline value, that input's sd)."""
STEP = 1e-3


def _spreads(r: Reading, base: Assumption, objective: Objective) -> Nudged:
    found = []
    for name in ("churn", "expansion", "default", "liquidation", "elasticity"):
        sd = float(getattr(r, name + "_sd"))
        if sd > 0:
            shifted = Reading(**{**r.__dict__, name: float(getattr(r, name)) + STEP})
            found.append((shifted, value(shifted, base, objective), sd))
    return found


def _gain_and_spread(
    r: Reading, a: Assumption, base_value: float, objective: Objective, nudged: Nudged
) -> tuple[float, float]:
    """A protocol's gain over the baseline (worth ``base_value``) and its standard deviation: the
    components' uncertainty (finite differences along ``nudged``) and the assumption's own (a share
    of the gross uplift)."""
    g = value(r, a, objective) - base_value
    var = 0.0
    for shifted, shifted_base, sd in nudged:
        var += ((value(shifted, a, objective) - shifted_base - g) / STEP * sd) ** 2
    uplift = g + a.cost + a.cost_months * r.monthly_value
    var += (a.uncertainty * uplift) ** 2
    return g, math.sqrt(var)


def _normal_cdf(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def _impact(amount: float, currency: str) -> str:
    return f"{'+' if amount >= 0 else '-'}{currency}{abs(amount):,.0f}"


def _risk(r: Reading) -> RiskAssessment:
    loss = 1.0 - (1.0 - r.churn) * (1.0 - r.default) * (1.0 - r.liquidation)
    return "critical" if loss >= 0.75 else "high" if loss >= 0.5 else "medium" if loss >= 0.25 else "low"


def gains(
    composite: Composite, r: Reading, learner: OutcomeLearner | None = None
) -> dict[str, tuple[float, float]]:
    """Each protocol's expected gain over no action (after cost) and its standard deviation; with a
    ``learner``, under the effects it has learned (posterior means, their spread as the uncertainty)."""
    objective = composite.objective
    base = objective.protocols.get(objective.baseline, NO_EFFECT)
    if learner is not None:
        base = learner.effect(objective.baseline, r)
    nudged, base_value = _spreads(r, base, objective), value(r, base, objective)
    found: dict[str, tuple[float, float]] = {}
    for name, a in objective.protocols.items():
        if name == objective.baseline:
            continue
        effect = a if learner is None else learner.effect(name, r)
        found[name] = _gain_and_spread(r, effect, base_value, objective, nudged)
    return found


def recommendation(composite: Composite, r: Reading, max_protocols: int = 3) -> list[str]:
    """What :func:`decide` would recommend for ``r`` (protocol names, in order) and the risk, without the
    confidences: a quarter of its work. The stream stage asks this first and decides only on a change."""
    objective = composite.objective
    base_value = value(r, objective.protocols.get(objective.baseline, NO_EFFECT), objective)
    ranked = sorted(
        ((value(r, a, objective) - base_value, name) for name, a in objective.protocols.items()
         if name != objective.baseline),
        key=lambda item: -item[0],
    )  # fmt: skip
    names = [name for g, name in ranked[:max_protocols] if g > 0] or [objective.baseline]
    return [*names, _risk(r)]


def decide(
    composite: Composite,
    entity: str,
    outputs: Mapping[str, Mapping[str, Any]],
    context: Mapping[str, Any] | None = None,
    *,
    learner: OutcomeLearner | None = None,
    max_protocols: int = 3,
    reading: Reading | None = None,
) -> CompositeDecision:
    """The composite's decision for ``entity`` from its components' latest ``outputs`` (blueprint id ->
    output fields). ``context`` may give the entity's monthly value (``mrr``, ``monthly_value``...);
    ``reading``, the outputs already read (the stream stage keeps one per entity)."""
    objective = composite.objective
    r = reading if reading is not None else read(outputs, objective, context or {})
    ranked = sorted(gains(composite, r, learner).items(), key=lambda kv: -kv[1][0])
    recommended = [
        RecommendedProtocol(protocol=name, impact=_impact(g, objective.currency), expected_value=round(g, 2),
                            confidence=round(_normal_cdf(g / sd) if sd > 0 else 1.0, 3))
        for name, (g, sd) in ranked[:max_protocols] if g > 0
    ]  # fmt: skip
    if not recommended:
        best = max((_normal_cdf(g / sd) if sd > 0 else float(g > 0) for _, (g, sd) in ranked), default=0.0)
        recommended = [RecommendedProtocol(protocol=objective.baseline, impact=_impact(0.0, objective.currency),
                                           expected_value=0.0, confidence=round(1.0 - best, 3))]  # fmt: skip
    top = objective.protocols.get(recommended[0].protocol, NO_EFFECT)
    price = r.optimal_price_point
    if top.price_change and r.reference_price is not None:
        price = float(r.reference_price) * (1.0 + top.price_change)
    return CompositeDecision(
        composite=composite.id,
        entity=entity,
        objective=objective.id,
        recommended_protocols=recommended,
        risk_assessment=_risk(r),
        optimal_price_point=None if price is None else round(float(price), 2),
        baseline_value=round(value(r, objective.protocols.get(objective.baseline, NO_EFFECT), objective), 2),
        horizon_months=objective.horizon_months,
        components=sorted(b for b in outputs if b in composite.deployments),
    )
