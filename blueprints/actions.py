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
