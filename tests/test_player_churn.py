"""player_churn: features and self-labels on hand-made sessions, self-labels through a deployment, the
planted quit odds learned on the sample against their ceiling, and analysis ranking. No public
session log ships in a package, so there is no real-data test (see bench/quality_clv.py)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from tracer.blueprints.analysis import analyze
from tracer.blueprints.recipes.player_churn import PlayerChurn, PlayerChurnOutput, simulate_sessions
from tracer.online_models import Deployment

BP = PlayerChurn()
DAY = 86_400.0


def session(day: float, player: str = "A", minutes: float | None = 30.0, level: float | None = None,
            bought: float | None = None, friends: float | None = None) -> dict[str, Any]:  # fmt: skip
    return {"player_id": player, "session_start": day * DAY, "session_minutes": minutes, "player_level": level,
            "session_purchases": bought, "friends": friends}  # fmt: skip


def drive(
    records: list[dict[str, Any]], **params: Any
) -> tuple[list[dict[str, Any]], list[tuple[str, float]]]:
    resolved = BP.resolve_params(params)
    state = BP.new_state(resolved)
    features, labels = [], []
    for record in records:
        labels += BP.self_labels(record, state, resolved)
        features.append(BP.featurize(record, state, resolved))
    return features, labels


def key(player: str, day: float) -> str:
    return f"{player}@{int(day * DAY * 1000)}"


def test_features_read_the_session_against_the_players_history() -> None:
    features, _ = drive([
        session(0, minutes=40, level=1, friends=3), session(2, minutes=20, level=3, bought=0),
        session(8, minutes=10, level=3, bought=4.99),
    ])  # fmt: skip
    first, second, third = features
    assert first["sessions_played"] == 0.0 and "gap_days" not in first and first["has_purchased"] == 0.0
    assert second["gap_days"] == 2.0 and second["levels_gained"] == 2.0 and second["minutes_vs_usual"] == 0.5
    assert "gap_vs_usual" not in second and "friends" not in second
    assert third["gap_days"] == 6.0 and third["gap_vs_usual"] == 3.0 and third["levels_gained"] == 0.0
    assert third["minutes_vs_usual"] == 10.0 / 30.0 and third["has_purchased"] == 1.0
    assert third["tenure_days"] == 8.0 and third["sessions_played"] == 2.0


def test_next_session_retains_and_silence_churns() -> None:
    _, labels = drive([session(0), session(1, "B"), session(2), session(6, "B"), session(20, "C")])
    assert labels == [(key("A", 0), 0.0), (key("B", 1), 0.0), (key("A", 2), 1.0), (key("B", 6), 1.0)]
    _, late = drive([session(1, "B"), session(9, "B")])
    assert late == [(key("B", 1), 1.0)]  # back after 8 days: churned by a 7-day window
    _, edge = drive([session(0), session(7)])  # a session exactly N days later is within the window
    assert edge == [(key("A", 0), 0.0)]
    _, short = drive([session(0), session(5)], inactivityDays=3)
    assert short == [(key("A", 0), 1.0)]  # settled as churned by the stream's time, before A's own return


def test_a_deployment_learns_its_self_labels() -> None:
    frame = pd.DataFrame({
        "player_id": ["A", "B", "A", "C", "B"],
        "session_start": ["2024-03-01 10:00", "2024-03-01 12:00", "2024-03-03 09:00", "2024-03-20 08:00",
                          "2024-03-21 08:00"],
        "session_length": [30, 12, 25, 40, 5],
    })  # fmt: skip
    report = Deployment(PlayerChurn).replay(frame)
    assert report.rows.labels == (0.0, 1.0, 1.0, None, None) and report.n_learned == 3


def test_the_planted_odds_are_learned_near_their_ceiling() -> None:
    frame = simulate_sessions(8000, 2)
    report = Deployment(PlayerChurn).replay(frame.drop(columns=["true_churn_probability"]))
    labels = np.array([math.nan if y is None else y for y in report.rows.labels])
    settled = ~np.isnan(labels)
    planted = frame["true_churn_probability"].to_numpy()[np.array(report.rows.positions)]
    ceiling = roc_auc_score(labels[settled], planted[settled])
    assert 0.08 < labels[settled].mean() < 0.3
    assert report.metrics["auc"] >= 0.93 * ceiling, (report.metrics["auc"], ceiling)


def test_the_output_names_risk_vectors_and_protocol() -> None:
    deployment = Deployment(PlayerChurn)
    deployment.replay(BP.sample(3000, 1))
    rows = [{"player_id": "new", "session_start": "2024-07-01 10:00", "session_minutes": 2.0, "friends": 0},
            {"player_id": "new", "session_start": "2024-07-06 10:00", "session_minutes": 1.0, "friends": 0}]  # fmt: skip
    deployment.predict_one(rows[0])
    output = deployment.predict_one(rows[1])
    assert isinstance(output, PlayerChurnOutput) and output.inactivity_days == 7
    assert output.churn_probability > 0.5 and output.recommended_protocol in {
        "personalised_offer",
        "comeback_reward",
    }
    assert "gap_days_high" in output.risk_vectors or "gap_vs_usual_high" in output.risk_vectors


def test_analyze_ranks_it_first_on_its_sample() -> None:
    suggestions = analyze({"sessions.csv": BP.sample(2000, 1)})
    assert suggestions[0].blueprint == "player_churn", suggestions[:3]
    assert suggestions[0].compatibility > suggestions[1].compatibility
