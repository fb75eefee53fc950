"""monetization_likelihood: features, labels, offers, the planted answer learned, analyze."""

from __future__ import annotations

from typing import Any

import pytest
from sklearn.metrics import roc_auc_score

from tracer.blueprints.actions import PROTOCOLS
from tracer.blueprints.analysis import analyze
from tracer.blueprints.recipes.monetization_likelihood import (
    MonetizationLikelihood,
    MonetizationOutput,
    simulate_players,
)
from tracer.online_models import Deployment

BP = MonetizationLikelihood()
PARAMS = BP.resolve_params()
EMPTY: dict[str, Any] = {spec.name: None for spec in BP.inputs()}


def test_features_are_the_rates_a_live_ops_team_reads() -> None:
    record = {**EMPTY, "sessions": 20.0, "playtime_minutes": 300.0, "level": 12.0, "days_since_install": 4.0,
              "ads_watched": 10.0, "friends": 3.0, "platform": " iOS "}  # fmt: skip
    assert BP.features(record, PARAMS) == {
        "days_since_install": 4.0, "sessions_per_day": 5.0, "minutes_per_session": 15.0,
        "levels_per_day": 3.0, "ads_per_session": 0.5, "friends": 3.0, "platform": "ios",
    }  # fmt: skip


def test_missing_inputs_give_fewer_features_and_no_division_by_zero() -> None:
    assert BP.features(EMPTY, PARAMS) == {}
    day_zero = BP.features({**EMPTY, "sessions": 0.0, "days_since_install": 0.0, "ads_watched": 2.0}, PARAMS)
    assert day_zero == {"days_since_install": 0.0, "sessions_per_day": 0.0, "ads_per_session": 2.0}


@pytest.mark.parametrize(("value", "label"), [("yes", 1.0), ("Payer", 1.0), ("non_payer", 0.0), (0, 0.0),
                                              (True, 1.0), ("pending", None), (None, None)])  # fmt: skip
def test_the_label_reads_payer_words(value: Any, label: float | None) -> None:
    assert BP.label_of({**EMPTY, "converted_to_payer": value}, PARAMS) == label


def test_the_output_names_an_offer_by_likelihood() -> None:
    model = BP.make_model(PARAMS, 0)
    output = BP.postprocess(0.6, {"friends": 2.0}, model, PARAMS)
    assert isinstance(output, MonetizationOutput) and output.payer_probability == 0.6
    assert (output.risk_classification, output.recommended_protocol) == ("high", "starter_pack_offer")
    assert BP.postprocess(0.1, {}, model, PARAMS).recommended_protocol == "rewarded_ads"
    assert [PROTOCOLS[name].lever for name in BP.protocols.values()] == ["none", "offer", "offer", "offer"]


def test_the_planted_answer_is_learned_near_the_generators_ceiling() -> None:
    frame, planted = simulate_players(8000, 3)
    report = Deployment(MonetizationLikelihood).replay(frame)
    assert report.n_errors == 0 and report.n_learned == len(frame)
    ceiling = roc_auc_score(frame["is_payer"] == "yes", planted)
    assert report.metrics["auc"] >= 0.95 * ceiling, (report.metrics["auc"], ceiling)
    assert 0.05 < report.metrics["positive_rate"] < 0.25


def test_drivers_name_what_pushes_a_player_towards_paying() -> None:
    deployment = Deployment(MonetizationLikelihood)
    deployment.replay(BP.sample(4000, 2))
    keen = deployment.predict_one({"user_id": "u", "session_count": 200, "days_since_install": 10,
                                   "total_playtime": 6000, "player_level": 90, "ads_watched": 0,
                                   "friends_count": 30, "platform": "ios"})  # fmt: skip
    idle = deployment.predict_one({"user_id": "v", "session_count": 3, "days_since_install": 50,
                                   "total_playtime": 20, "player_level": 1, "ads_watched": 10,
                                   "friends_count": 0, "platform": "android"})  # fmt: skip
    assert keen.payer_probability > 0.5 > 0.05 > idle.payer_probability
    assert "sessions_per_day_high" in keen.risk_vectors


def test_analyze_ranks_it_first_on_its_sample() -> None:
    suggestions = analyze({"sample": BP.sample(2000, 1)})
    assert suggestions[0].blueprint == "monetization_likelihood"
    assert suggestions[0].column_mapping["converted_to_payer"] == "is_payer"
