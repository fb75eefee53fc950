"""``FrequencySeverity``: the actuary's two-part model as one online model.

The expected cost of a risk (a policy-period, a member-year) is ``P(claim) x E[amount | claim]``.
:class:`FrequencySeverity` holds an online classifier for claim-or-not and an online regressor of
the log amount learned on claims only, behind the :class:`~tracer.blueprints.base.OnlineModel`
verbs. Its score (``predict_one``, ``predict_rows``) is ``P(claim)``; the severity is asked for apart
(:meth:`FrequencySeverity.expected_severity`).

One float carries both outcomes (the runtime learns one float per prediction):

======================  ==============================================================
label ``y``             learned as
======================  ==============================================================
``y < 0.5``             no claim (frequency only)
``0.5 <= y <= floor``   a claim whose amount says nothing (a flag alone: 1.0)
``y > floor``           a claim of amount ``y``: frequency, and severity on ``log y``
======================  ==============================================================

``floor`` (``min_amount``, 1.0 by default) keeps a claim flag given as ``1`` from being read as a
claim of one currency unit. The severity regressor learns ``log y`` less the running mean of the
log amounts learned so far, so it starts at the book's typical claim. ``E[amount | claim]`` is
``exp(mu) x smearing``: ``mu`` the predicted log amount, kept within the log amounts learned so far,
and ``smearing`` the ratio of the recent amounts' mean to the mean of ``exp(mu)`` predicted for each
just before it was learned (a ratio of means: Duan's smearing, the mean of ``exp(error)``, is
dominated by the few claims far above their prediction). The mean of a skewed amount, then,
calibrated in the large, without assuming a lognormal. Both parts keep running means
for the book: its claim rate and its mean amount, the reference a risk's expected cost is read
against (:meth:`FrequencySeverity.relativity`).

Explanations (:meth:`FrequencySeverity.contributions`) are shares of the log expected cost: a
feature's share of the claim logit times ``1 - p`` (the slope of ``log p`` in the logit), plus its
share of the log amount.

>>> from river import linear_model, optim
>>> from tracer.blueprints.engines.models import RiverBinaryClassifier, RiverRegressor, ScaleAndEncode
>>> model = FrequencySeverity(
...     RiverBinaryClassifier(ScaleAndEncode() | linear_model.LogisticRegression(optim.SGD(0.1))),
...     RiverRegressor(ScaleAndEncode() | linear_model.LinearRegression(optim.SGD(0.01))))
>>> for i in range(400):
...     value = float(i % 4)
...     model.learn_one({"value": value}, 0.0 if i % 5 else 100.0 * (1.0 + value))
>>> round(model.claim_rate, 2), model.n_amounts
(0.2, 80)
>>> model.expected_severity({"value": 3.0}) > model.expected_severity({"value": 0.0})
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from tracer.blueprints.base import Features
from tracer.blueprints.engines.models import RiverBinaryClassifier, RiverRegressor

__all__ = ["FrequencySeverity"]

_SMEARING_MEMORY = 2000
"""The smearing factor forgets over about this many amounts."""


class FrequencySeverity:
    """P(claim) from ``frequency``; E[amount | claim] from ``severity`` (log amounts, claims only)."""

    mini_batch_learning = False
    """Learn row by row, in order (``learn_sequence``): each part steps once per label."""

    def __init__(
        self, frequency: RiverBinaryClassifier, severity: RiverRegressor, *, min_amount: float = 1.0
    ) -> None:
        self.frequency = frequency
        self.severity = severity
        self.min_amount = min_amount
        self.n_learned = 0
        """Labels learned (claims or not)."""
        self.n_claims = 0
        """Labels that were claims (``y >= 0.5``)."""
        self.n_amounts = 0
        """Claims whose amount the severity part learned (``y > min_amount``)."""
        self.mean_log_amount = 0.0
        self.log_range = (math.inf, -math.inf)
        """The smallest and largest log amounts learned: a prediction is kept within them."""
        self.mean_amount = 0.0
        self.recent_amount = 0.0
        self.recent_median = 0.0
        """Recent means of the amounts learned and of ``exp(E[log amount])`` predicted for them
        just before: their ratio is the smearing factor."""

    def __repr__(self) -> str:
        return f"FrequencySeverity({self.frequency!r}, {self.severity!r})"

    # -- scores ---------------------------------------------------------------------------------------

    def predict_one(self, x: Features) -> float:
        """P(claim)."""
        return self.frequency.predict_one(x)

    def predict_rows(self, rows: Sequence[Features]) -> list[float]:
        """P(claim) of each row, all from the model as it is now."""
        return self.frequency.predict_rows(rows)

    @property
    def claim_rate(self) -> float:
        """The share of the labels learned that were claims (0 before any)."""
        return self.n_claims / self.n_learned if self.n_learned else 0.0

    def expected_log_amount(self, x: Features) -> float:
        """E[log amount | claim, x], within the log amounts learned (a linear model can stray far
        on a record unlike those it learned from, such as a rare flag's first appearance)."""
        low, high = self.log_range
        return min(max(self.mean_log_amount + self.severity.predict_one(x), low), high)

    def expected_severity(self, x: Features) -> float | None:
        """E[amount | claim, x] (lognormal mean); None until an amount has been learned."""
        if not self.n_amounts:
            return None
        return math.exp(self.expected_log_amount(x)) * self.smearing

    @property
    def smearing(self) -> float:
        """E[amount] / exp(E[log amount]): the recent amounts' mean over the mean of the ``exp`` of
        their log amounts as predicted before each was learned (1.0 before two amounts)."""
        return self.recent_amount / self.recent_median if self.recent_median > 0.0 else 1.0

    def relativity(self, probability: float, severity: float | None) -> float:
        """The expected cost ``probability x severity`` over the book's (claim rate x mean amount);
        the claim odds alone (``probability`` over the claim rate) while no amount is known. 1.0
        before anything is learned."""
        rate = self.claim_rate
        if rate <= 0.0:
            return 1.0
        ratio = probability / rate
        if severity is not None and self.mean_amount > 0.0:
            ratio *= severity / self.mean_amount
        return ratio

    # -- learning -------------------------------------------------------------------------------------

    def learn_one(self, x: Features, y: float) -> None:
        claim = y >= 0.5
        self.frequency.learn_one(x, 1.0 if claim else 0.0)
        self._count(x, y, claim)

    def learn_sequence(self, rows: Sequence[Features], ys: Sequence[float]) -> None:
        """``learn_one`` of each row in order, the frequency part in one pass."""
        self.frequency.learn_sequence(rows, [1.0 if y >= 0.5 else 0.0 for y in ys])
        for x, y in zip(rows, ys, strict=True):
            self._count(x, y, y >= 0.5)

    def _count(self, x: Features, y: float, claim: bool) -> None:
        self.n_learned += 1
        if not claim:
            return
        self.n_claims += 1
        if y <= self.min_amount or not math.isfinite(y):
            return
        log_y = math.log(y)
        if self.n_amounts:
            weight = max(1.0 / self.n_amounts, 1.0 / _SMEARING_MEMORY)
            self.recent_amount += weight * (y - self.recent_amount)
            self.recent_median += weight * (math.exp(self.expected_log_amount(x)) - self.recent_median)
        self.n_amounts += 1
        self.mean_log_amount += (log_y - self.mean_log_amount) / self.n_amounts
        self.log_range = (min(self.log_range[0], log_y), max(self.log_range[1], log_y))
        self.mean_amount += (y - self.mean_amount) / self.n_amounts
        self.severity.learn_one(x, log_y - self.mean_log_amount)

    # -- explanations ---------------------------------------------------------------------------------

    def contributions(self, x: Features) -> dict[str, float]:
        """Each feature's share of the log expected cost: ``(1 - p)`` x its share of the claim logit,
        plus its share of the log amount once amounts are learned."""
        slope = 1.0 - self.frequency.predict_one(x)
        shares = {feature: slope * share for feature, share in self.frequency.contributions(x).items()}
        if self.n_amounts:
            for feature, share in self.severity.contributions(x).items():
                shares[feature] = shares.get(feature, 0.0) + share
        return shares

    def scaled_values(self, x: Features) -> dict[str, float]:
        """The numeric features as the claim model sees them (z-scores)."""
        return self.frequency.scaled_values(x)
