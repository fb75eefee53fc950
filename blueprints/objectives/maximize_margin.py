"""``maximize_margin``: the gross margin a customer brings over the next twelve months.

Components: ``price_elasticity`` (required: margin is mostly a price question), ``customer_churn``,
``upsell_likelihood`` and ``payment_default`` (read when present). Value: twelve months of the monthly
value times ``margin_rate`` (0.6: 40% of the price is cost), so a price change moves margin by more than
it moves revenue: a price rise of 5% adds 5/0.6 = 8.3% margin per customer kept.

Assumptions (cost; effect): ``raise_price`` (+5%; churn up through the price elasticity),
``lower_price`` (-5%), ``tier_upgrade`` ($40; expansion x 1.8), ``loyalty_reward`` ($20; churn x 0.85).
"""

from __future__ import annotations

from tracer.blueprints.objectives import Assumption, Objective

OBJECTIVE = Objective(
    id="maximize_margin",
    description="Maximise the gross margin each customer brings over the next twelve months.",
    requires=("price_elasticity",),
    uses=("customer_churn", "upsell_likelihood", "payment_default"),
    horizon_months=12,
    margin_rate=0.6,
    baseline="hold_price",
    protocols={
        "raise_price": Assumption(price_change=0.05),
        "lower_price": Assumption(price_change=-0.05),
        "tier_upgrade": Assumption(cost=40.0, expansion=1.8),
        "loyalty_reward": Assumption(cost=20.0, churn=0.85),
    },
)
