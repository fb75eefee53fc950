"""``match_outcome``: will this sports or esports match end in a home win, a draw or an away win?

A multi-class blueprint (``task = "multiclass"``): one row per match, scored before kick-off; its
result arrives when the match ends (delayed labels on ``tracer.labels``, or inline in a file of past
matches). Inputs, with the column names people use for them:

===============  ==================================================================================
``home_team``    the home (or first-listed) side: ``HomeTeam``, ``home``, ``team1``, ``blue_team``...
``away_team``    the away side: ``AwayTeam``, ``visitor``, ``away``, ``team2``, ``red_team``...
``result``       the label: ``FTR``, ``match_result``, ``winner``... as H/D/A, home/draw/away,
                 home_win/draw/away_win, W/D/L from the home side's view, or a class index 0/1/2
``home_goals``,  the final score (``FTHG``/``FTAG``, ``home_score``/``away_score``, ``pts_home``...):
``away_goals``   the label by rule when there is no result column; never a feature (a leak)
``match_date``   kick-off (``Date``, ``kickoff``, ``game_date``...): orders a file of past matches
``match_id``     the match (``game_id``, ``fixture_id``...): keys its prediction and label
===============  ==================================================================================

Features: the two teams (their ratings live in the model) and every other usable column of the
user's data (context: injuries, rest, odds, a referee...). The model is
:class:`~tracer.blueprints.engines.match_ratings.RatedOrderedLogit`: per-team ratings learned online
from each result (an Elo update with the ordered logit's expected score), a home advantage and a
draw margin (its two cut points), and the context features on the same latent scale. Ratings are
model state, not feature state, because only the model sees results: they arrive as labels, after
the match was scored. Chosen over River's ``SoftmaxRegression`` on rating features because the
result is ordered (a draw lies between the wins): one latent scale needs a third of the weights, and
the ratings' update stays Elo's (the softmax was not measured). Its ``context=False`` twin is the Elo
baseline ``bench/quality_matches.py`` reports; context weights learn slowly (``context_lr``), so
columns that carry nothing (a round number) cost next to nothing against it.

Output (stable names): ``predicted_result`` and its probability ``result_probability`` (the
headline, also the runtime's one-float score), ``home_win_probability``, ``draw_probability``,
``away_win_probability``; ``risk_classification``, the band of the upset risk (1 - the predicted
result's probability); ``risk_vectors``, what favours the predicted result (``home_advantage``,
``home_team_rated_higher``, ``evenly_matched``, a context column); ``recommended_protocol``, what a
match platform does with it (feature a close match); and ``confidence``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from tracer.blueprints.actions import RiskLevel, by_risk
from tracer.blueprints.base import (
    Blueprint,
    Features,
    InputSpec,
    LabelSpec,
    OnlineModel,
    OutputSpec,
    Params,
    Record,
)
from tracer.blueprints.engines.match_ratings import AWAY, CLASSES, HOME, RatedOrderedLogit
from tracer.blueprints.tasks import RISK_THRESHOLDS, driver_name
from tracer.schemas.base import OutboundModel
from tracer.schemas.scores import ClassProbabilities

__all__ = ["MatchOutcome", "MatchOutcomeOutput"]

HOME_TEAM = InputSpec("home_team", "categorical", "The home side (or the first-listed one).",
                      ("home", "home_side", "home_club", "team_home", "home_team_name", "team1", "team_1",
                       "team_a", "blue_team", "radiant_team"))  # fmt: skip
AWAY_TEAM = InputSpec("away_team", "categorical", "The away side (or the second-listed one).",
                      ("away", "visitor", "visitor_team", "visiting_team", "away_side", "away_club", "team_away",
                       "away_team_name", "team2", "team_2", "team_b", "red_team", "dire_team"))  # fmt: skip
HOME_GOALS = InputSpec("home_goals", "numeric", "The home side's final score (labels only).",
                       ("fthg", "hg", "home_score", "home_points", "pts_home", "home_pts", "score_home",
                        "goals_home", "team1_score"))  # fmt: skip
AWAY_GOALS = InputSpec("away_goals", "numeric", "The away side's final score (labels only).",
                       ("ftag", "ag", "away_score", "away_points", "pts_away", "away_pts", "visitor_pts",
                        "score_away", "goals_away", "team2_score"))  # fmt: skip
MATCH_DATE = InputSpec("match_date", "timestamp", "Kick-off: orders past matches.",
                       ("date", "kickoff", "kick_off", "game_date", "match_time", "start_time", "fixture_date"))  # fmt: skip
MATCH_ID = InputSpec(
    "match_id", "id", "The match.", ("game_id", "fixture_id", "matchid", "gameid", "event_id")
)
RESULT = InputSpec(
    "result", "categorical", "The result: H/D/A, home/draw/away, W/D/L for the home side, or 0/1/2.",
    ("match_result", "ftr", "full_time_result", "res", "winner", "home_result", "outcome_1x2"),
)  # fmt: skip
_WORDS: dict[str, float] = {
    **dict.fromkeys(("h", "home", "home_win", "home win", "w", "win", "won"), 0.0),
    **dict.fromkeys(("d", "draw", "drawn", "tie", "x"), 1.0),
    **dict.fromkeys(("a", "away", "away_win", "away win", "l", "loss", "lost", "visitor"), 2.0),
}
_EVEN = 0.3
"""A lead on the latent scale (logits) below which the sides count as evenly matched."""
MAX_DRIVERS = 3


class MatchOutcomeOutput(OutboundModel):
    """What ``match_outcome`` says about one match."""

    predicted_result: Literal["home_win", "draw", "away_win"] = Field(description="The most likely result.")
    result_probability: Annotated[float, Field(ge=0, le=1, description="P(predicted_result).")]
    home_win_probability: Annotated[float, Field(ge=0, le=1)]
    draw_probability: Annotated[float, Field(ge=0, le=1)]
    away_win_probability: Annotated[float, Field(ge=0, le=1)]
    risk_classification: RiskLevel = Field(description="The upset risk's band (1 - result_probability).")
    risk_vectors: list[str] = Field(description="What favours the predicted result, strongest first.")
    recommended_protocol: str = Field(description="What a match platform does at this upset risk.")
    confidence: float = Field(ge=0, le=1, description="(p - 1/3) / (2/3) x n / (n + 100), n results learned.")


class MatchOutcome(Blueprint[MatchOutcomeOutput, None]):
    """Match Outcome: P(home win), P(draw), P(away win) of a match, from team ratings learned online."""

    id = "match_outcome"
    name = "Match Outcome Predictor"
    category = "gaming_entertainment"
    use_case = "Sports and esports platforms: the likely result of each match, and which ones will be close."
    task = "multiclass"
    classes = CLASSES
    required_inputs = (HOME_TEAM, AWAY_TEAM)
    optional_inputs = (MATCH_ID, MATCH_DATE, HOME_GOALS, AWAY_GOALS, RESULT)
    label = LabelSpec("The 'result' column, or the final score (home_goals against away_goals).",
                      column=RESULT, rule="home_goals > away_goals: home_win; equal: draw; less: away_win",
                      rule_needs=("home_goals", "away_goals"))  # fmt: skip
    output = OutputSpec(MatchOutcomeOutput, "category", "The likely result of the match and its probability.",
                        headline="result_probability", range=(0.0, 1.0))  # fmt: skip
    entity_input = "match_id"
    time_input = "match_date"
    learns_context = True
    protocols: ClassVar[Mapping[RiskLevel, str]] = by_risk(
        low="maintain", medium="maintain", high="feature_close_match", critical="feature_close_match"
    )
    """Per upset-risk band: a clear favourite keeps the usual coverage; a close match is featured."""
    data_requirements = (
        "One row per match with its home and away sides, ordered by date, and its result (a result "
        "column or the final score) to learn from, or results arriving later as labels. Every other "
        "usable column (injuries, rest days, odds) is learned from."
    )

    def new_state(self, params: Params) -> None:
        return None

    def featurize(self, record: Record, state: None, params: Params) -> Features:
        return {HOME: str(record["home_team"]), AWAY: str(record["away_team"])}

    def make_model(self, params: Params, seed: int) -> OnlineModel:
        return RatedOrderedLogit(context=True, rating_lr=0.07, context_lr=0.001)

    def class_of(self, value: Any) -> float | None:
        if isinstance(value, str) and value.strip().lower() in _WORDS:
            return _WORDS[value.strip().lower()]
        return super().class_of(value)

    def label_of(self, record: Record, params: Params) -> float | None:
        result = record.get("result")
        if result is not None:
            return self.class_of(result)
        home, away = record.get("home_goals"), record.get("away_goals")
        if home is None or away is None:
            return None
        return 0.0 if home > away else 1.0 if home == away else 2.0

    def postprocess(
        self, score: float, features: Features, model: OnlineModel, params: Params
    ) -> MatchOutcomeOutput:
        probabilities = (
            score if isinstance(score, ClassProbabilities) else ClassProbabilities((1.0, 1.0, 1.0))
        )
        home, draw, away = probabilities.probabilities
        top = float(probabilities)
        upset = 1.0 - top
        risk: RiskLevel = next((level for cut, level in RISK_THRESHOLDS if upset >= cut), "low")
        learned = float(getattr(model, "n_learned", 0))
        return MatchOutcomeOutput(
            predicted_result=CLASSES[probabilities.top],
            result_probability=top,
            home_win_probability=home,
            draw_probability=draw,
            away_win_probability=away,
            risk_classification=risk,
            risk_vectors=_drivers(probabilities.top, features, model),
            recommended_protocol=self.protocols[risk],
            confidence=max(top - 1.0 / 3.0, 0.0) * 1.5 * learned / (learned + 100.0),
        )

    def sample(self, n_rows: int, seed: int) -> pd.DataFrame:
        """Matches of a 20-team league, a round a week: each side's strength (slowly drifting), a home
        advantage of 0.4 logits and each key player out (``HomeInjuries``, ``AwayInjuries``) costing
        0.3 decide the result through an ordered logit with about a quarter draws. ``Referee`` and
        ``Attendance`` are noise. The true probabilities are in ``attrs["true_probabilities"]``."""
        rng = np.random.default_rng(seed)
        teams = [f"{city} {kind}" for city, kind in zip(
            ("Aston", "Borough", "Castle", "Dale", "Eden", "Forest", "Glen", "Harbour", "Isle", "Jura", "Kings",
             "Lake", "Moor", "North", "Oak", "Port", "Queens", "River", "Stone", "Tower"),
            ("United", "City", "Rovers", "Athletic", "Wanderers") * 4, strict=True)]  # fmt: skip
        strength = rng.normal(0.0, 0.6, len(teams))
        home_idx, away_idx = np.empty(n_rows, dtype=int), np.empty(n_rows, dtype=int)
        week = np.arange(n_rows) // (len(teams) // 2)
        drift = np.zeros((week[-1] + 1 if n_rows else 1, len(teams)))
        for w in range(1, len(drift)):
            drift[w] = drift[w - 1] + rng.normal(0.0, 0.03, len(teams))
        for w in range(len(drift)):
            order = rng.permutation(len(teams))
            rows = np.flatnonzero(week == w)
            home_idx[rows], away_idx[rows] = order[0::2][: len(rows)], order[1::2][: len(rows)]
        home_out, away_out = rng.poisson(0.8, n_rows), rng.poisson(0.8, n_rows)
        eta = (strength[home_idx] + drift[week, home_idx] - strength[away_idx] - drift[week, away_idx]
               - 0.3 * home_out + 0.3 * away_out)  # fmt: skip
        p_away = 1.0 / (1.0 + np.exp(-(-0.95 - eta)))
        p_up_to_draw = 1.0 / (1.0 + np.exp(-(0.15 - eta)))
        truth = np.column_stack([1.0 - p_up_to_draw, p_up_to_draw - p_away, p_away])
        result = (rng.random(n_rows)[:, None] > np.cumsum(truth, axis=1)).sum(axis=1).clip(0, 2)
        base_goals = rng.poisson(0.9, n_rows)
        margin = 1 + rng.poisson(0.6, n_rows)
        home_goals = np.where(result == 0, base_goals + margin, base_goals)
        away_goals = np.where(result == 2, base_goals + margin, base_goals)
        dates = pd.Timestamp("2021-08-07") + pd.to_timedelta(week * 7 + rng.integers(0, 2, n_rows), unit="D")
        frame = pd.DataFrame({
            "MatchID": [f"M{seed % 1000:03d}-{i:06d}" for i in range(n_rows)], "Date": dates.strftime("%Y-%m-%d"),
            "HomeTeam": np.array(teams)[home_idx], "AwayTeam": np.array(teams)[away_idx],
            "FTHG": home_goals, "FTAG": away_goals, "FTR": np.array(["H", "D", "A"])[result],
            "HomeInjuries": home_out.astype(float), "AwayInjuries": away_out.astype(float),
            "Referee": rng.choice(["M Dean", "A Taylor", "P Tierney", "C Pawson"], n_rows),
            "Attendance": rng.normal(30_000, 8_000, n_rows).round(-2),
        })  # fmt: skip
        holes = rng.random((n_rows, 2)) < 0.03
        frame.loc[holes[:, 0], "HomeInjuries"] = np.nan
        frame.loc[holes[:, 1], "Attendance"] = np.nan
        frame.attrs["true_probabilities"] = truth
        return frame


def _drivers(top: int, features: Features, model: OnlineModel) -> list[str]:
    """What favours the predicted result (``top``): for a win, what moves the latent scale its way
    by at least 0.1; for a draw, that the sides are evenly matched."""
    if not isinstance(model, RatedOrderedLogit):
        return []
    shares = model.contributions(features)
    if top == 1:
        return ["evenly_matched"] if abs(sum(shares.values())) < _EVEN else []
    sign = 1.0 if top == 0 else -1.0
    side = "home" if top == 0 else "away"
    ranked = sorted(
        ((sign * share, feature) for feature, share in shares.items() if sign * share >= 0.1), reverse=True
    )
    names: list[str] = []
    for _, feature in ranked[:MAX_DRIVERS]:
        if feature == "rating_gap":
            names.append(f"{side}_team_rated_higher")
        elif feature == "home_advantage":
            names.append("home_advantage")
        else:
            value = features.get(feature)
            names.append(
                driver_name(feature, value, isinstance(value, float) and model.is_high(feature, value))
            )
    return names
