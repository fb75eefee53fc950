"""``minimize_churn_loss``: keep the value that leaving customers would take with them over a year.

Components: ``customer_churn`` (required), ``payment_default`` and ``price_elasticity`` (read when
present). Value: twelve months of the customer's monthly value while they stay; expansions do not count
(``expansion_weight`` 0): this objective is about losses only.

Assumptions (cost; effect): ``engagement_campaign`` ($5; churn x 0.9), ``product_training`` ($30; churn
x 0.85), ``support_escalation`` ($40; churn x 0.8), ``immediate_outreach`` ($60; churn x 0.75),
``retention_offer`` (one month's value; churn x 0.65), ``targeted_discount`` (15% off; churn through the
price elasticity).
"""

from __future__ import annotations

from tracer.blueprints.objectives import Assumption, Objective

OBJECTIVE = Objective(
    id="minimize_churn_loss",
    description="Minimise the value lost to customers leaving over the next twelve months.",
    requires=("customer_churn",),
    uses=("payment_default", "price_elasticity"),
    horizon_months=12,
    expansion_weight=0.0,
    protocols={
        "engagement_campaign": Assumption(cost=5.0, churn=0.9),
        "product_training": Assumption(cost=30.0, churn=0.85),
        "support_escalation": Assumption(cost=40.0, churn=0.8),
        "immediate_outreach": Assumption(cost=60.0, churn=0.75),
        "retention_offer": Assumption(cost_months=1.0, churn=0.65),
        "targeted_discount": Assumption(price_change=-0.15),
    },
)
