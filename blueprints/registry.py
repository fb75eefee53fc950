"""The blueprint registry: every blueprint Tracer ships, found by id, category or a search.

Adding a blueprint is its own file plus ONE line in ``REGISTERED`` below. The registry imports
each entry eagerly when it is first imported and checks that it is a Blueprint with a unique id,
so a typo fails at start-up with the entry named, never at the first lookup.

>>> from tracer.blueprints import registry
>>> registry.get("customer_churn").name
'Customer Churn Predictor'
>>> [bp.id for bp in registry.list(search="CHURN")]
['customer_churn', 'player_churn']
"""

from __future__ import annotations

import builtins
import importlib
from typing import Any

from tracer.blueprints.base import Blueprint
from tracer.blueprints.errors import BlueprintNotFound

__all__ = ["CATEGORIES", "REGISTERED", "categories", "get", "ids", "list"]

CATEGORIES: tuple[str, ...] = (
    "business_operations", "ecommerce_retail", "financial_risk", "crypto_defi", "gaming_entertainment",
)  # fmt: skip
"""The archive's five verticals, as the product documents name them; every blueprint is in one."""

REGISTERED: tuple[str, ...] = (
    # business_operations
    "tracer.blueprints.recipes.customer_churn:CustomerChurn",
    "tracer.blueprints.recipes.revenue_forecast:RevenueForecast",
    "tracer.blueprints.recipes.upsell_likelihood:UpsellLikelihood",
    "tracer.blueprints.recipes.support_volume:SupportVolume",
    "tracer.blueprints.recipes.employee_retention:EmployeeRetention",
    "tracer.blueprints.recipes.lead_scoring:LeadScoring",
    # ecommerce_retail
    "tracer.blueprints.recipes.price_optimization:PriceOptimization",
    "tracer.blueprints.recipes.customer_lifetime_value:CustomerLifetimeValue",
    "tracer.blueprints.recipes.product_demand:ProductDemand",
    "tracer.blueprints.recipes.cart_abandonment:CartAbandonment",
    "tracer.blueprints.recipes.return_likelihood:ReturnLikelihood",
    "tracer.blueprints.recipes.price_elasticity:PriceElasticity",
    # financial_risk
    "tracer.blueprints.recipes.payment_default:PaymentDefault",
    "tracer.blueprints.recipes.fraud_detection:FraudDetection",
    "tracer.blueprints.recipes.portfolio_risk:PortfolioRisk",
    "tracer.blueprints.recipes.insurance_claims:InsuranceClaims",
    "tracer.blueprints.recipes.cash_flow_forecast:CashFlowForecast",
    # crypto_defi
    "tracer.blueprints.recipes.price_movement:PriceMovement",
    "tracer.blueprints.recipes.liquidation_risk:LiquidationRisk",
    "tracer.blueprints.recipes.gas_price_forecast:GasPriceForecast",
    "tracer.blueprints.recipes.whale_behavior:WhaleBehavior",
    "tracer.blueprints.recipes.yield_optimization:YieldOptimization",
    # gaming_entertainment
    "tracer.blueprints.recipes.player_churn:PlayerChurn",
    "tracer.blueprints.recipes.monetization_likelihood:MonetizationLikelihood",
    "tracer.blueprints.recipes.viral_potential:ViralPotential",
    "tracer.blueprints.recipes.content_engagement:ContentEngagement",
    "tracer.blueprints.recipes.match_outcome:MatchOutcome",
)  # fmt: skip
"""``module:Class`` of every registered blueprint, one per line."""

AnyBlueprintType = type[Blueprint[Any, Any]]


def _load(entry: str) -> AnyBlueprintType:
    module_name, _, class_name = entry.partition(":")
    candidate = getattr(importlib.import_module(module_name), class_name, None)
    if not (isinstance(candidate, type) and issubclass(candidate, Blueprint)):
        raise TypeError(f"registry entry {entry!r} is not a Blueprint subclass")
    return candidate


def _load_all() -> dict[str, AnyBlueprintType]:
    loaded: dict[str, AnyBlueprintType] = {}
    for entry in REGISTERED:
        blueprint = _load(entry)
        if blueprint.id in loaded:
            raise ValueError(f"registry entry {entry!r} reuses the id {blueprint.id!r}")
        if blueprint.category not in CATEGORIES:
            raise ValueError(
                f"registry entry {entry!r}: category {blueprint.category!r} is not one of {CATEGORIES}"
            )
        loaded[blueprint.id] = blueprint
    return loaded


_BY_ID = _load_all()


def ids() -> builtins.list[str]:
    """The registered blueprint ids, in registry order."""
    return builtins.list(_BY_ID)


def categories() -> builtins.list[str]:
    """The archive's categories, in the product documents' order (some may have no blueprint yet)."""
    return builtins.list(CATEGORIES)


def get(blueprint_id: str) -> AnyBlueprintType:
    """The blueprint registered under ``blueprint_id``; BlueprintNotFound (naming the known ids) if none."""
    try:
        return _BY_ID[blueprint_id]
    except KeyError:
        raise BlueprintNotFound(blueprint_id, builtins.list(_BY_ID)) from None


def list(category: str | None = None, search: str | None = None) -> builtins.list[AnyBlueprintType]:
    """Blueprints in ``category`` (all if None) whose id, name or use case contains ``search`` (any case)."""
    needle = (search or "").casefold()
    return [
        blueprint
        for blueprint in _BY_ID.values()
        if (category is None or blueprint.category == category)
        and (
            not needle
            or any(needle in text.casefold() for text in (blueprint.id, blueprint.name, blueprint.use_case))
        )
    ]
