"""Team ratings under an ordered logit: a home win, a draw or an away win, learned online from results.

:class:`RatedOrderedLogit` scores a match from the home side's lead in strength,

    eta = rating[home] - rating[away] + sum_j w_j * z_j

(``z``: the match's other features, standard-scaled and one-hot encoded by
:class:`~tracer.blueprints.engines.scale_encode.ScaleAndEncode`; none with ``context=False``), and two
ordered cut points ``theta_away < theta_draw``:

    P(away win) = s(theta_away - eta),  P(draw) = s(theta_draw - eta) - P(away win),  P(home win) = 1 - ...

with ``s`` the logistic function. The cut points carry the home advantage (their midpoint is minus
it) and the draw margin (their gap). Each result is one stochastic gradient step on its log
likelihood: the two teams' ratings move in opposite directions by ``rating_lr`` times the gradient
at ``eta`` (Elo's update, ``K (S - E)``, with the ordered logit's expected score), the cut points and
the context weights by ``lr``. With ``context=False`` it is the Elo-style baseline: ratings, a home
advantage and a draw margin, nothing else.

Ratings are kept for at most ``max_teams`` teams (the least recently rated is dropped first, and
comes back at 0, the average). A team seen for the first time is rated 0. The score is a
:class:`~tracer.schemas.scores.ClassProbabilities` in the order ``CLASSES``; a label is the index of
its class in that order.

>>> model = RatedOrderedLogit(context=False)
>>> for _ in range(300):
...     model.learn_one({"home_team": "A", "away_team": "B"}, 0.0)
...     model.learn_one({"home_team": "B", "away_team": "A"}, 2.0)
>>> score = model.predict_one({"home_team": "A", "away_team": "B"})
>>> score.top, round(model.ratings["A"] - model.ratings["B"], 1) > 1.0
(0, True)
"""

from __future__ import annotations

import math
from typing import Any

from tracer.blueprints.base import Features
from tracer.blueprints.engines.scale_encode import RiverX, ScaleAndEncode
from tracer.schemas.scores import ClassProbabilities

__all__ = ["AWAY", "AWAY_WIN", "CLASSES", "DRAW", "HOME", "HOME_WIN", "RatedOrderedLogit"]

CLASSES: tuple[str, str, str] = ("home_win", "draw", "away_win")
"""The classes in the order of the probabilities (and of a label's index)."""
HOME_WIN, DRAW, AWAY_WIN = 0, 1, 2
HOME, AWAY = "home_team", "away_team"
"""The feature keys holding the teams; every other feature is context."""
_CLIP = 30.0


def _sigmoid(value: float) -> float:
    value = min(max(value, -_CLIP), _CLIP)
    return 1.0 / (1.0 + math.exp(-value))


class RatedOrderedLogit:
    """Per-team ratings and an ordered logit over home win / draw / away win (module docstring)."""

    def __init__(
        self,
        *,
        context: bool = True,
        rating_lr: float = 0.1,
        lr: float = 0.01,
        context_lr: float = 0.01,
        l2: float = 1e-4,
        max_teams: int = 50_000,
    ) -> None:
        self.context = context
        self.rating_lr = rating_lr
        self.lr = lr
        self.context_lr = context_lr
        self.l2 = l2
        self.max_teams = max_teams
        self.ratings: dict[str, float] = {}
        """Team -> strength in logits, 0 the average; least recently rated first."""
        self.theta_away = -0.8
        self.theta_draw = 0.4
        self.weights: dict[Any, float] = {}
        self.scaler = ScaleAndEncode()
        self.n_learned = 0

    # -- scoring ---------------------------------------------------------------------------------

    def _context(self, x: Features) -> RiverX:
        if not self.context:
            return {}
        raw: RiverX = {k: v for k, v in x.items() if k != HOME and k != AWAY and v is not None and v == v}
        return self.scaler.transform_one(raw) if raw else {}

    def _eta(self, x: Features, z: RiverX) -> float:
        ratings = self.ratings
        eta = ratings.get(str(x.get(HOME)), 0.0) - ratings.get(str(x.get(AWAY)), 0.0)
        weights = self.weights
        for key, value in z.items():
            eta += weights.get(key, 0.0) * value
        return eta

    def _cumulative(self, eta: float) -> tuple[float, float]:
        return _sigmoid(self.theta_away - eta), _sigmoid(self.theta_draw - eta)

    def predict_one(self, x: Features) -> ClassProbabilities:
        """P(home win), P(draw), P(away win) for the match ``x``."""
        away, up_to_draw = self._cumulative(self._eta(x, self._context(x)))
        return ClassProbabilities((1.0 - up_to_draw, up_to_draw - away, away))

    def contributions(self, x: Features) -> dict[str, float]:
        """What moves ``eta`` towards a home win (positive) or an away win (negative): the rating
        gap, the home advantage, and each context feature (one-hot columns summed back)."""
        z = self._context(x)
        ratings = self.ratings
        shares = {
            "rating_gap": ratings.get(str(x.get(HOME)), 0.0) - ratings.get(str(x.get(AWAY)), 0.0),
            "home_advantage": self.home_advantage,
        }
        one_hot = {f"{feature}_{value}": feature for feature, value in x.items() if isinstance(value, str)}
        for key, value in z.items():
            feature = one_hot.get(str(key), str(key))
            shares[feature] = shares.get(feature, 0.0) + self.weights.get(key, 0.0) * value
        return shares

    def is_high(self, feature: str, value: float) -> bool:
        """Whether a context feature's ``value`` is above its running mean."""
        return value > self.scaler.scaler.means.get(feature, 0.0)

    @property
    def home_advantage(self) -> float:
        """How much playing at home adds to ``eta`` (logits): minus the cut points' midpoint."""
        return -(self.theta_away + self.theta_draw) / 2.0

    # -- learning --------------------------------------------------------------------------------

    def learn_one(self, x: Features, y: float) -> None:
        """One gradient step on the result ``y`` (0 home win, 1 draw, 2 away win)."""
        result = int(y)
        if result != y or not 0 <= result <= 2:
            return
        z = self._context(x)
        eta = self._eta(x, z)
        away, up_to_draw = self._cumulative(eta)
        density_away = away * (1.0 - away)
        density_draw = up_to_draw * (1.0 - up_to_draw)
        if result == AWAY_WIN:  # P = F(theta_away)
            p = max(away, 1e-12)
            grad_eta, grad_away, grad_draw = -density_away / p, density_away / p, 0.0
        elif result == DRAW:  # P = F(theta_draw) - F(theta_away)
            p = max(up_to_draw - away, 1e-12)
            grad_eta = -(density_draw - density_away) / p
            grad_away, grad_draw = -density_away / p, density_draw / p
        else:  # P = 1 - F(theta_draw)
            p = max(1.0 - up_to_draw, 1e-12)
            grad_eta, grad_away, grad_draw = density_draw / p, 0.0, -density_draw / p
        self._rate(str(x.get(HOME)), self.rating_lr * grad_eta)
        self._rate(str(x.get(AWAY)), -self.rating_lr * grad_eta)
        lr = self.lr
        self.theta_away += lr * grad_away
        self.theta_draw = max(self.theta_draw + lr * grad_draw, self.theta_away + 1e-3)
        if z:
            weights, l2, context_lr = self.weights, self.l2, self.context_lr
            for key, value in z.items():
                weight = weights.get(key, 0.0)
                weights[key] = weight + context_lr * (grad_eta * value - l2 * weight)
        if self.context:
            raw: RiverX = {k: v for k, v in x.items() if k != HOME and k != AWAY and v is not None and v == v}
            if raw:
                self.scaler.learn_one(raw)
        self.n_learned += 1

    def _rate(self, team: str, step: float) -> None:
        ratings = self.ratings
        rating = ratings.pop(team, 0.0)
        ratings[team] = rating + step  # last: the most recently rated
        if len(ratings) > self.max_teams:
            del ratings[next(iter(ratings))]
