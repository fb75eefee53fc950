"""Composites (issue 21): the decision engine's captured value on a simulated customer base.

Run from the repository root (about a minute)::

    .venv/bin/python bench/composites.py [N_ENTITIES ...]   # default 10000 100000

The simulation (no public data set records which protocol was applied to whom and what followed):
customers with a monthly value (lognormal around $100), true churn, expansion and default
probabilities and a price elasticity; the components report the probabilities with noise (logit sd
0.3, confidence 0.6) and the elasticity with an interval. Each protocol's TRUE effect is planted and
differs from the objective's assumptions (``maximize_revenue_6_months``): the engagement campaign and
the retention offer work less than assumed, outreach works only for large accounts, a tier upgrade
works well only for accounts already likely to expand.

Policies, each on the same customers, valued by the planted truth (expected value after cost over
the horizon, minus the value with no action): the oracle (knows the true effects); the composite
(the objective's assumptions, corrected by :class:`OutcomeLearner` from each applied protocol's
outcome (churned, expanded, defaulted), exploring by Thompson sampling on a sharpened posterior); the
same with the plain posterior; the composite on assumptions only; a random
protocol; always the oracle's most common protocol. Captured value: a policy's gain / the oracle's.
Targets (printed, not asserted): composite >= 80%, random and most-common <= 50%.
"""

from __future__ import annotations

import math
import sys
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tracer.blueprints import registry
from tracer.blueprints.objectives import NO_EFFECT, Assumption
from tracer.online_models.composite import (
    Composite,
    Reading,
    decide,
    gains,
    read,
    validate,
    value,
)
from tracer.online_models.composite_learning import OutcomeLearner
from tracer.online_models.composite_table import CompositeTable
from tracer.schemas.composites import CompositeSpec

COMPONENTS = ("customer_churn", "upsell_likelihood", "payment_default", "price_elasticity")
NOISE_LOGIT_SD = 0.3


def composite() -> Composite:
    spec = CompositeSpec(designation="revenue_optimization", components=list(COMPONENTS),
                         objective="maximize_revenue_6_months")  # fmt: skip
    return validate(spec, registry.ids())


def true_effect(name: str, a: Assumption, truth: Reading) -> Assumption:
    """The planted effect of ``name`` on one customer (the objective only assumes ``a``)."""
    if name == "engagement_campaign":
        return Assumption(cost=a.cost, churn=0.97)
    if name == "retention_offer":
        return Assumption(cost_months=a.cost_months, churn=0.8)
    if name == "immediate_outreach":
        return Assumption(cost=a.cost, churn=0.45 if truth.monthly_value > 150 else 0.9)
    if name == "tier_upgrade":
        return Assumption(cost=a.cost, expansion=2.4 if truth.expansion > 0.3 else 1.1)
    return a  # seat_expansion_offer and targeted_discount (through the true elasticity) as assumed


def _logit(p: np.ndarray) -> np.ndarray:
    logit: np.ndarray = np.log(p / (1 - p))
    return logit


@dataclass
class Population:
    truth: list[Reading]
    outputs: list[dict[str, dict[str, Any]]]
    context: list[dict[str, float]]


def population(n: int, seed: int) -> Population:
    rng = np.random.default_rng(seed)
    monthly = np.exp(rng.normal(np.log(100), 0.6, n))
    churn, expansion, default = rng.beta(2, 5, n), rng.beta(2, 6, n), rng.beta(1, 25, n)
    elasticity = np.clip(rng.normal(-1.5, 0.5, n), -3.5, -0.2)

    def seen(p: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-(_logit(p) + rng.normal(0, NOISE_LOGIT_SD, n))))

    c_hat, e_hat, d_hat = seen(churn), seen(expansion), seen(default)
    e_seen = elasticity + rng.normal(0, 0.2, n)
    truth: list[Reading] = []
    outputs: list[dict[str, dict[str, Any]]] = []
    context: list[dict[str, float]] = []
    for i in range(n):
        truth.append(Reading(monthly_value=float(monthly[i]), churn=float(churn[i]), expansion=float(expansion[i]),
                             expansion_value=0.3 * float(monthly[i]), default=float(default[i]),
                             elasticity=float(elasticity[i]), reference_price=50.0))  # fmt: skip
        outputs.append({
            "customer_churn": {"churn_probability": float(c_hat[i]), "confidence": 0.6},
            "upsell_likelihood": {"expansion_probability": float(e_hat[i]), "confidence": 0.6},
            "payment_default": {"default_probability": float(d_hat[i]), "confidence": 0.6},
            "price_elasticity": {"elasticity": float(e_seen[i]), "confidence": 0.6, "reference_price": 50.0,
                                 "elasticity_interval": (float(e_seen[i]) - 0.4, float(e_seen[i]) + 0.4),
                                 "optimal_price_point": 47.99},
        })  # fmt: skip
        context.append({"mrr": float(monthly[i])})
    return Population(truth, outputs, context)


def true_gains(c: Composite, truth: Reading) -> dict[str, float]:
    objective = c.objective
    base = value(truth, NO_EFFECT, objective)
    found = {objective.baseline: 0.0}
    for name, a in objective.protocols.items():
        found[name] = value(truth, true_effect(name, a, truth), objective) - base
    return found


def outcome(c: Composite, truth: Reading, name: str, rng: np.random.Generator) -> dict[str, bool]:
    """What happens to one customer after ``name``: drawn from the planted effect."""
    a = true_effect(name, c.objective.protocols.get(name, NO_EFFECT), truth)
    churn = truth.churn * a.churn * math.pow(1 + a.price_change, -truth.elasticity)
    return {"churned": bool(rng.random() < churn), "expanded": bool(rng.random() < truth.expansion * a.expansion),
            "defaulted": bool(rng.random() < truth.default * a.default)}  # fmt: skip


def run(n: int, seed: int = 7) -> dict[str, float]:
    c = composite()
    objective = c.objective
    pop = population(n, seed)
    rng = np.random.default_rng(seed + 1)
    learner = OutcomeLearner(objective, seed=seed)
    plain, plain_rng = (
        OutcomeLearner(objective, prior_events=20.0, draw_variance=1.0, seed=seed),
        np.random.default_rng(seed + 2),
    )
    arms = [objective.baseline, *objective.protocols]
    truths = [true_gains(c, t) for t in pop.truth]
    oracle = [max(g, key=lambda k: g[k]) for g in truths]
    common = Counter(o for o in oracle if o != objective.baseline).most_common(1)[0][0]
    totals = dict.fromkeys(
        (
            "oracle",
            "composite (learning)",
            "composite (plain Thompson)",
            "composite (assumptions)",
            "random",
            "most common",
        ),
        0.0,
    )
    tail = dict.fromkeys(("oracle", "composite (learning)"), 0.0)
    for i, (truth, g_true) in enumerate(zip(pop.truth, truths, strict=True)):
        r = read(pop.outputs[i], objective, pop.context[i])
        assumed = gains(c, r)
        pick = learner.choose(r)
        learner.update(pick, r, outcome(c, truth, pick, rng))
        plain_pick = plain.choose(r)
        plain.update(plain_pick, r, outcome(c, truth, plain_pick, plain_rng))
        totals["composite (plain Thompson)"] += g_true[plain_pick]
        fixed = max(assumed, key=lambda k: assumed[k][0])
        totals["oracle"] += g_true[oracle[i]]
        totals["composite (learning)"] += g_true[pick]
        if i >= n * 9 // 10:
            tail["oracle"] += g_true[oracle[i]]
            tail["composite (learning)"] += g_true[pick]
        totals["composite (assumptions)"] += g_true[fixed] if assumed[fixed][0] > 0 else 0.0
        totals["random"] += g_true[arms[int(rng.integers(len(arms)))]]
        totals["most common"] += g_true[common]
    captured = {k: v / totals["oracle"] for k, v in totals.items()}
    print(f"\n{n:,} entities (most common protocol: {common}); captured value, share of the oracle's gain:")
    for name, share in captured.items():
        print(f"  {name:26s} {share:7.1%}   (gain {totals[name] / n:8.2f} per entity)")
    print(
        f"  composite (learning), last 10% of entities: {tail['composite (learning)'] / tail['oracle']:.1%}"
    )
    print("  measured uplift by protocol (outcomes, measured, assumed):")
    for name, u in sorted(learner.uplift().items()):
        print(f"    {name:22s} {u['outcomes']:7.0f} {u['measured_uplift']:9.2f} {u['assumed_uplift']:9.2f}")
    return captured


def decision_cost_us(n: int = 2_000) -> float:
    """µs per component prediction of one decision (decide() over 4 components, with a learner)."""
    c, pop = composite(), population(n, 3)
    learner, rng = OutcomeLearner(c.objective), np.random.default_rng(0)
    for i in range(n):
        r = read(pop.outputs[i], c.objective, pop.context[i])
        learner.update(learner.choose(r), r, outcome(c, pop.truth[i], "no_action", rng))
    start = time.process_time()
    for i in range(n):
        decide(c, str(i), pop.outputs[i], pop.context[i], learner=learner)
    return (time.process_time() - start) / n / len(COMPONENTS) * 1e6


def stage_cost_us(
    entities: int = 2_000, predictions: int = 40_000, step: float = 0.15
) -> tuple[float, float]:
    """The stream stage's cost per component prediction (``CompositeTable.apply``: state, change
    detection, and a full decision when the recommendation changes), and the share of predictions
    that change it. Each entity's probabilities walk on the logit scale by ``step`` per prediction
    (components that re-score an entity move it a little); the components take turns."""
    c, pop = composite(), population(entities, 5)
    table, rng = CompositeTable([c]), np.random.default_rng(1)
    outputs = [dict(o) for o in pop.outputs]
    fields = {"customer_churn": "churn_probability", "upsell_likelihood": "expansion_probability",
              "payment_default": "default_probability"}  # fmt: skip
    stream = []
    for i in range(predictions):
        e, blueprint = int(rng.integers(entities)), COMPONENTS[i % len(COMPONENTS)]
        output = dict(outputs[e][blueprint])
        if blueprint in fields:
            p = min(max(float(output[fields[blueprint]]), 1e-4), 1 - 1e-4)
            logit = math.log(p / (1 - p)) + float(rng.normal(0, step))
            output[fields[blueprint]] = 1 / (1 + math.exp(-logit))
        outputs[e][blueprint] = output
        stream.append({"deployment": blueprint, "key": f"C-{e}", "output": output})
    start, changed = time.process_time(), 0
    for offset, message in enumerate(stream):
        changed += sum(change.decision is not None for change in table.apply(message, 0, offset))
    return (time.process_time() - start) / predictions * 1e6, changed / predictions


SEEDS = (7, 1, 2)
"""The 10k run is repeated on these populations: the captured share moves by +-10 points between them."""


def main(sizes: Mapping[int, None] | None = None) -> None:
    for n in sizes or dict.fromkeys((10_000, 100_000)):
        shares = [run(n, seed)["composite (learning)"] for seed in (SEEDS if n <= 10_000 else SEEDS[:1])]
        if len(shares) > 1:
            print(f"\n{n:,} entities, composite (learning) over seeds {SEEDS}: "
                  + ", ".join(f"{s:.1%}" for s in shares) + f"; mean {sum(shares) / len(shares):.1%} (target >= 80%)")  # fmt: skip
    print(f"\ndecision: {decision_cost_us():.1f} µs per component prediction (process time, 4 components)")
    cost, changed = stage_cost_us()
    print(f"stream stage: {cost:.1f} µs per component prediction (target <= 25), {changed:.1%} of them "
          "changed a recommendation (process time, CompositeTable.apply, 2,000 entities)")  # fmt: skip


if __name__ == "__main__":
    main(dict.fromkeys(int(a) for a in sys.argv[1:]) or None)
