"""Objectives of composites (issue 21): what a composite of blueprints optimises, one small file each.

An objective is declarative data, read by the decision engine (:mod:`tracer.online_models.composite`):

* ``requires`` / ``uses``: the component blueprints it needs, and those it reads when present;
* ``horizon_months`` and the value of outcomes: each month a customer stays is worth their monthly value
  (``monthly_value``, a default when the entity gives none) times ``margin_rate``; an expansion adds
  ``expansion_weight`` x its value for half the horizon; a default loses ``loss_given_default`` of it;
  a liquidation loses ``liquidation_penalty`` of the entity's value (a lending position's debt);
* ``protocols``: the actions it may recommend (words of :data:`tracer.blueprints.actions.PROTOCOLS` only),
  each with its cost and its ASSUMED effect on the components' probabilities (:class:`Assumption`).
  The assumptions are documented starting points, overridable per composite, and corrected by the
  outcomes the composite learns from.

>>> get("minimize_churn_loss").horizon_months
12
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from tracer.blueprints.actions import protocol

__all__ = [
    "CHURN",
    "CREDIT",
    "EXPANSION",
    "LIQUIDATION",
    "OBJECTIVES",
    "PRICE_CURVE",
    "Assumption",
    "Objective",
    "get",
    "ids",
]

CHURN, EXPANSION, CREDIT, PRICE_CURVE, LIQUIDATION = (
    "customer_churn",
    "upsell_likelihood",
    "payment_default",
    "price_elasticity",
    "liquidation_risk",
)
"""The blueprints whose outputs a composite reads: the chance to leave, to expand, to default and to be
liquidated, and the demand curve (``online_models/composite.py`` reads their stable output fields)."""


@dataclass(frozen=True)
class Assumption:
    """One protocol under an objective: its cost and its assumed effect (multipliers on probabilities).

    ``churn``, ``expansion``, ``default`` and ``liquidation`` multiply the components' probabilities
    (0.7: 30% fewer churners); ``price_change`` is a relative change of the customer's price (-0.1: 10% off), whose
    effect on churn comes from ``price_elasticity`` when the composite has it; ``cost`` is money per
    customer and ``cost_months`` a share of one month's value (a free month is 1.0); ``uncertainty``
    is how far the true effect may be from the assumed one (a share of the effect, one standard deviation).
    """

    cost: float = 0.0
    cost_months: float = 0.0
    churn: float = 1.0
    expansion: float = 1.0
    default: float = 1.0
    liquidation: float = 1.0
    price_change: float = 0.0
    uncertainty: float = 0.5

    def __post_init__(self) -> None:
        for name in ("cost", "cost_months", "churn", "expansion", "default", "liquidation", "uncertainty"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not -0.9 <= self.price_change <= 1.0:
            raise ValueError(f"price_change must be in -0.9..1, got {self.price_change}")


NO_EFFECT = Assumption(uncertainty=0.0)


@dataclass(frozen=True)
class Objective:
    """A composite's objective: see the module docstring."""

    id: str
    description: str
    requires: tuple[str, ...]
    protocols: Mapping[str, Assumption]
    uses: tuple[str, ...] = ()
    horizon_months: int = 6
    monthly_value: float = 100.0
    margin_rate: float = 1.0
    expansion_weight: float = 1.0
    loss_given_default: float = 1.0
    liquidation_penalty: float = 0.0
    """The share of the entity's value a liquidation loses (the protocol's penalty and slippage)."""
    currency: str = "$"
    baseline: str = "no_action"
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in (*self.protocols, self.baseline):
            protocol(name)  # a word outside the archive's vocabulary fails at import

    @property
    def components(self) -> tuple[str, ...]:
        """Every component blueprint the objective reads: required first."""
        return (*self.requires, *(c for c in self.uses if c not in self.requires))

    def overridden(self, overrides: Mapping[str, Any]) -> Objective:
        """This objective with a composite's overrides: scalar fields by name, and ``protocols``:
        {name: {field: value}} changing (or, for a new vocabulary word, adding) an assumption."""
        changes = dict(overrides)
        protocols = dict(self.protocols)
        for name, fields in dict(changes.pop("protocols", {}) or {}).items():
            protocols[protocol(name)] = replace(protocols.get(name, NO_EFFECT), **dict(fields))
        unknown = sorted(set(changes) - {"horizon_months", "monthly_value", "margin_rate", "expansion_weight",
                                          "loss_given_default", "liquidation_penalty", "currency"})  # fmt: skip
        if unknown:
            raise ValueError(f"unknown objective overrides {unknown}")
        return replace(self, protocols=protocols, **changes)


_MODULES = (
    "maximize_revenue_6_months",
    "minimize_churn_loss",
    "maximize_margin",
    "minimize_liquidation_loss",
)


def _load() -> dict[str, Objective]:
    found: dict[str, Objective] = {}
    for name in _MODULES:
        objective = importlib.import_module(f"tracer.blueprints.objectives.{name}").OBJECTIVE
        assert isinstance(objective, Objective) and objective.id == name, name
        found[name] = objective
    return found


OBJECTIVES: Mapping[str, Objective] = _load()
"""Every objective, by id."""


def ids() -> list[str]:
    """The objective ids."""
    return list(OBJECTIVES)


def get(objective_id: str) -> Objective:
    """The objective ``objective_id``; KeyError naming the known ones if none."""
    try:
        return OBJECTIVES[objective_id]
    except KeyError:
        raise KeyError(f"unknown objective {objective_id!r}; known: {ids()}") from None
