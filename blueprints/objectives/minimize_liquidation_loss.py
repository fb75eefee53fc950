"""``minimize_liquidation_loss``: keep lending positions out of liquidation at the least cost (crypto, DeFi).

Components: ``liquidation_risk`` (required). The entity is a lending position (``protocol:account``);
its value is the debt's value in dollars (``debt_usd``, ``debt_value_usd`` or ``position_value`` in the
analyzed row; ``monthly_value``, $10,000, when none is given), and what is at stake over the one-month
horizon is the liquidation penalty: a liquidator repays part of the debt and takes the collateral at a
discount, 5-15% on the large lending protocols, plus slippage (``liquidation_penalty`` 0.1 of the debt).
Nothing else is valued (``margin_rate`` 0), so every protocol is worth its avoided liquidations less
its cost.

Assumptions (cost as a share of the debt's value; effect on the liquidation probability):
``monitor`` ($5 of someone's time; x 0.95: an alert a few owners act on), ``add_collateral`` (0.2%: the collateral's
forgone yield over the month; x 0.4), ``repay_debt`` (0.5%: closing part of the position and
reopening it later; x 0.25), ``hedge`` (1%: a short or an option's premium over the month; x 0.5).
"""

from __future__ import annotations

from tracer.blueprints.objectives import Assumption, Objective

OBJECTIVE = Objective(
    id="minimize_liquidation_loss",
    description="Minimise what lending positions lose to liquidations over the next month.",
    requires=("liquidation_risk",),
    horizon_months=1,
    monthly_value=10_000.0,
    margin_rate=0.0,
    expansion_weight=0.0,
    liquidation_penalty=0.1,
    protocols={
        "monitor": Assumption(cost=5.0, liquidation=0.95),
        "add_collateral": Assumption(cost_months=0.002, liquidation=0.4),
        "repay_debt": Assumption(cost_months=0.005, liquidation=0.25),
        "hedge": Assumption(cost_months=0.01, liquidation=0.5),
    },
)
