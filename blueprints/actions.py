"""The archive's vocabulary of recommended protocols: every action a blueprint may recommend, in one place.

A blueprint's output names what to do (``recommended_protocol``, ``intervention_protocols``) with words
from :data:`PROTOCOLS` only, so a user reads the same word for the same action across the archive, and
the composite engine can price an action by its :attr:`Protocol.lever`: an ``offer`` or a ``price``
change costs money and may win revenue, a ``contact`` costs someone's time, a ``restriction`` risks a
sale, the others change nothing a customer sees. ``tests/test_archive.py`` runs every blueprint's sample
and checks that each protocol it recommends is here.

>>> PROTOCOLS["retention_offer"].lever
'offer'
>>> by_risk(low="approve", medium="approve_with_monitoring", high="manual_review", critical="decline")["high"]
'manual_review'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

__all__ = ["PROTOCOLS", "Lever", "Protocol", "RiskLevel", "by_risk", "protocol"]

RiskLevel = Literal["low", "medium", "high", "critical"]

Lever = Literal[
    "none", "watch", "contact", "offer", "price", "restriction", "finance", "capacity", "position"
]


@dataclass(frozen=True)
class Protocol:
    """One action: what it means, and what it costs or changes (its lever)."""

    description: str
    lever: Lever


_P = Protocol
PROTOCOLS: Mapping[str, Protocol] = MappingProxyType({
    # no action, or watching
    "no_action": _P("Nothing to do: the risk is low.", "none"),
    "maintain": _P("Keep the current plan.", "none"),
    "hold": _P("Keep the current course: staffing or positions as they are.", "none"),
    "monitor": _P("Watch more closely; act if it rises.", "watch"),
    "review": _P("A person looks at the case before it goes on.", "contact"),
    "act_now": _P("Act on the case at once.", "contact"),
    # customers and prospects
    "engagement_campaign": _P("An automated campaign to bring the customer back to the product.", "contact"),
    "onboarding_assistance": _P("Help a new customer get started.", "contact"),
    "product_training": _P("Show the customer the features they are not using.", "contact"),
    "support_escalation": _P("Escalate the customer's open support issues.", "contact"),
    "immediate_outreach": _P("A person contacts the customer now.", "contact"),
    "retention_offer": _P("An incentive to stay (a discount, a raise, a better plan).", "offer"),
    "nurture": _P("Keep the prospect in automated nurturing.", "contact"),
    "marketing_follow_up": _P("Marketing follows up with relevant content.", "contact"),
    "sales_call": _P("A salesperson calls the prospect.", "contact"),
    "priority_sales_call": _P("A salesperson calls the prospect first, today.", "contact"),
    # employees
    "check_in": _P("The manager checks in with the employee.", "contact"),
    "stay_interview": _P("A stay interview: what would keep the employee.", "contact"),
    # credit, fraud and insurance
    "approve": _P("Approve as usual.", "none"),
    "approve_with_monitoring": _P("Approve, and watch the account.", "watch"),
    "manual_review": _P("An analyst reviews the application.", "contact"),
    "decline": _P("Decline.", "restriction"),
    "step_up_authentication": _P("Ask for a second factor before approving.", "restriction"),
    "hold_for_review": _P("Hold the transaction until an analyst reviews it.", "restriction"),
    "standard_renewal": _P("Renew on the usual terms.", "none"),
    "review_premium": _P("Review the premium at renewal.", "price"),
    "underwriter_review": _P("An underwriter reviews the policy.", "contact"),
    "decline_or_reprice": _P("Decline the policy or reprice it.", "price"),
    # liquidity, operations and positions
    "accelerate_receivables": _P("Collect receivables sooner (reminders, early-payment terms).", "finance"),
    "arrange_credit_line": _P("Arrange a credit line before the shortfall.", "finance"),
    "scale_up": _P("Add staff or capacity for the coming volume.", "capacity"),
    "scale_down": _P("Release staff or capacity.", "capacity"),
    "reduce_exposure": _P("Reduce the position.", "position"),
    "hedge": _P("Hedge the position.", "position"),
    # e-commerce, retail, gaming and entertainment (archive part 2): one line each, below this line
    "add_collateral": _P("Add collateral to the lending position: its health factor nears liquidation.", "position"),
    "repay_debt": _P("Repay part of the debt now: the position is close to being liquidated.", "position"),
    "raise_max_fee": _P("Raise the transaction's max fee above the forecast: gas is about to rise.", "price"),
    "submit_now": _P("Send the transaction now: gas will not get cheaper soon.", "none"),
    "wait_for_lower_fees": _P("Hold the transaction a few blocks: gas is forecast to fall.", "none"),
    "targeted_discount": _P("A discount for this one customer, sized by their price response.", "price"),
    "rotate_out": _P("Move the capital out to a better-paying pool: this one's yield is fading.", "position"),
    "allocate_more": _P("Move more capital into the pool: its yield should hold or rise.", "position"),
    "vip_treatment": _P("VIP perks and a personal contact for a top-value customer.", "offer"),
    "loyalty_reward": _P("A loyalty reward (points, a gift) to keep a valuable customer buying.", "offer"),
    "cross_sell": _P("Recommend products that go with what the customer buys.", "contact"),
    "push_notification": _P("A push notification or message inviting the player back.", "contact"),
    "comeback_reward": _P("A reward (currency, items) for the player's next session.", "offer"),
    "feature_close_match": _P("Feature a close match: a prime slot, a preview, a push to fans.", "contact"),
    "raise_price": _P("Raise the price: demand is inelastic, so revenue rises with it.", "price"),
    "lower_price": _P("Lower the price (or promote): demand is elastic, so revenue rises as it falls.", "price"),
    "hold_price": _P("Keep the price: near unit elasticity revenue barely moves with it.", "none"),
    "price_test": _P("Vary the price in a controlled test: too little price variation to know.", "price"),
    "reorder_now": _P("Place a replenishment order now: stock will not cover the lead time.", "capacity"),
    "hold_stock": _P("Keep stock and orders as planned.", "none"),
    "reduce_order": _P("Order less (or clear stock): more on hand than demand needs.", "capacity"),
    "size_guidance": _P("Send size and fit guidance before the item ships.", "contact"),
    "quality_check": _P("Inspect the item and its listing before it ships.", "watch"),
    "confirm_with_customer": _P("Confirm the size, variant or order with the customer before shipping.", "contact"),
    "tier_upgrade": _P("Offer the account the next plan or tier up.", "offer"),
    "seat_expansion_offer": _P("Offer more seats or licences to an account near its seat limit.", "offer"),
    "recommend": _P("Recommend the content to the user.", "contact"),
    "feature_prominently": _P("Put the content at the top of the user's recommendations.", "contact"),
    "do_not_recommend": _P("Leave the content out of the user's recommendations.", "none"),
    "rewarded_ads": _P("No purchase offer: keep the free player on rewarded ads.", "none"),
    "personalised_offer": _P("An offer fitted to the player's or customer's own use (items, a bundle).", "offer"),
    "starter_pack_offer": _P("A discounted starter pack for a likely first purchase.", "offer"),
    "premium_offer": _P("A full-price premium bundle: the player is about to pay anyway.", "offer"),
    "cart_reminder": _P("Remind the shopper of the open cart (an email, a push).", "contact"),
    "free_shipping_offer": _P("Offer free shipping on the open cart.", "offer"),
    "cart_discount": _P("A discount on the open cart.", "offer"),
    "promote_content": _P("Feature and boost the content while it spreads.", "offer"),
    "seed_distribution": _P("Seed the content to more audiences and creators.", "contact"),
})  # fmt: skip
"""Every protocol a blueprint may recommend, by name."""


def protocol(name: str) -> str:
    """``name``, checked against :data:`PROTOCOLS` (a typo fails when the recipe is imported)."""
    if name not in PROTOCOLS:
        raise ValueError(f"{name!r} is not in the archive's protocols (blueprints/actions.py): add it there")
    return name


def by_risk(*, low: str, medium: str, high: str, critical: str) -> Mapping[RiskLevel, str]:
    """A recipe's protocol per risk level, each checked against :data:`PROTOCOLS`."""
    levels: tuple[tuple[RiskLevel, str], ...] = (
        ("low", low),
        ("medium", medium),
        ("high", high),
        ("critical", critical),
    )
    return MappingProxyType({level: protocol(name) for level, name in levels})
