"""``maximize_revenue_6_months``: the revenue a customer brings over the next six months (the seed's objective).

Components: ``customer_churn`` and ``upsell_likelihood`` (required), ``price_elasticity`` and
``payment_default`` (read when present). Value: six months of the customer's monthly revenue while they
stay, plus half the horizon of an expansion's value, less what a default does not collect.

Assumptions (documented starting points; a composite overrides them, outcomes correct them):

=========================  ======================  ==============================================
protocol                   cost                    assumed effect
=========================  ======================  ==============================================
``targeted_discount``      the discount itself     10% off; churn falls with the price elasticity
``retention_offer``        one month's value       churn x 0.65
``engagement_campaign``    $5                      churn x 0.9
``immediate_outreach``     $60 (a person's time)   churn x 0.75
``tier_upgrade``           $40 (sales time)        expansion x 1.8
``seat_expansion_offer``   $25                     expansion x 1.4
=========================  ======================  ==============================================
"""

from __future__ import annotations

from tracer.blueprints.objectives import Assumption, Objective

OBJECTIVE = Objective(
    id="maximize_revenue_6_months",
    description="Maximise the revenue each customer brings over the next six months.",
    requires=("customer_churn", "upsell_likelihood"),
    uses=("price_elasticity", "payment_default"),
    horizon_months=6,
    protocols={
        "targeted_discount": Assumption(price_change=-0.10),
        "retention_offer": Assumption(cost_months=1.0, churn=0.65),
        "engagement_campaign": Assumption(cost=5.0, churn=0.9),
        "immediate_outreach": Assumption(cost=60.0, churn=0.75),
        "tier_upgrade": Assumption(cost=40.0, expansion=1.8),
        "seat_expansion_offer": Assumption(cost=25.0, expansion=1.4),
    },
)
