"""content_engagement: features on hand-made impressions, labels in viewing words, the output (with
its derived watch minutes) and its protocols, the planted answer of the sample against its ceiling,
and analyze's ranking.

No public impressions table (a title shown to a user, watched or not) ships in an installed package,
so the quality figure is the sample's: the progressive AUC against the AUC of the log-odds the
sample was drawn from, on the same rows.
"""

from __future__ import annotations

import doctest
from typing import Any

import numpy as np
import pytest

from tracer.blueprints.actions import PROTOCOLS
from tracer.blueprints.analysis import analyze
from tracer.blueprints.recipes import content_engagement
from tracer.blueprints.recipes.content_engagement import (
    ContentEngagement,
    EngagementOutput,
    parse_hour,
    planted_logit,
)
from tracer.online_models import Deployment
from tracer.online_models.metrics import exact_auc

BP = ContentEngagement()
PARAMS = BP.resolve_params()
INPUTS = [spec.name for spec in ContentEngagement.inputs()]


def impression(**values: Any) -> dict[str, Any]:
    """A canonical record: every input present, None unless given."""
    return {name: values.get(name) for name in INPUTS}


def test_module_doctests() -> None:
    assert doctest.testmod(content_engagement).failed == 0


def test_features_of_an_evening_impression() -> None:
    record = impression(genre_affinity=70.0, user_completion_rate=0.6, duration_min=120.0, device="Mobile",
                        recommendation_rank=2.0, avg_rating=4.2, hour_of_day="21", genre="Drama")  # fmt: skip
    features = BP.features(record, PARAMS)
    assert features["genre_affinity"] == 0.7 and features["user_completion_rate"] == 0.6
    assert features["duration_min"] == 120.0 and features["long_on_small_screen"] == 1.0
    assert features["recommendation_rank"] == 2.0 and features["top_slot"] == 1.0
    assert features["prime_time"] == 1.0 and features["late_night"] == 0.0 and "daypart" not in features
    assert (features["avg_rating"], features["genre"], features["device"]) == (4.2, "Drama", "Mobile")


def test_features_of_a_sparse_or_odd_impression() -> None:
    assert BP.features(impression(), PARAMS) == {}
    features = BP.features(impression(duration_min=120.0, device="TV", recommendation_rank=0.0,
                                      hour_of_day="Evening", genre_affinity=-0.2), PARAMS)  # fmt: skip
    assert features["long_on_small_screen"] == 0.0  # a long film on a TV is fine
    assert features["recommendation_rank"] == 1.0 and features["top_slot"] == 1.0  # rank 0 read as the first
    assert features["daypart"] == "evening" and "prime_time" not in features
    assert features["genre_affinity"] == 0.0
    night = BP.features(impression(hour_of_day="2:30", recommendation_rank=12.0, duration_min=30.0), PARAMS)
    assert night["late_night"] == 1.0 and night["prime_time"] == 0.0 and night["top_slot"] == 0.0
    assert "long_on_small_screen" not in night  # no device to judge by


@pytest.mark.parametrize(("text", "hour"), [("0", 0.0), ("23", 23.0), ("7:45", 7.0), ("19.5", 19.0), ("24", None),
                                            ("-1", None), ("night", None), ("", None), (None, None)])  # fmt: skip
def test_hours_from_numbers_or_clock_times(text: str | None, hour: float | None) -> None:
    assert parse_hour(text) == hour


@pytest.mark.parametrize(
    ("value", "label"),
    [("Yes", 1.0), ("no", 0.0), ("Watched", 1.0), ("skipped", 0.0), ("Completed", 1.0), ("abandoned", 0.0),
     (True, 1.0), (0, 0.0), ("paused", None), (None, None)],
)  # fmt: skip
def test_label_in_viewing_words(value: Any, label: float | None) -> None:
    assert BP.label_of(impression(engaged=value), PARAMS) == label


def test_output_protocols_and_watch_minutes() -> None:
    model = BP.make_model(PARAMS, seed=0)
    cases = [(0.1, "low", "do_not_recommend"), (0.3, "medium", "recommend"), (0.6, "high", "recommend"),
             (0.9, "critical", "feature_prominently")]  # fmt: skip
    for score, risk, protocol in cases:
        output = BP.postprocess(score, {}, model, PARAMS)
        assert isinstance(output, EngagementOutput)
        assert (output.engagement_probability, output.risk_classification) == (score, risk)
        assert output.recommended_protocol == protocol and protocol in PROTOCOLS
        assert output.expected_watch_minutes is None  # no duration
    timed = BP.postprocess(0.25, {"duration_min": 100.0}, model, PARAMS)
    assert timed.expected_watch_minutes == pytest.approx(25.0)


def test_a_fitting_title_scores_high_and_a_long_film_on_a_phone_low() -> None:
    deployment = Deployment(ContentEngagement)
    deployment.replay(BP.sample(5000, 5))
    fitting = {"Viewer ID": "V-1", "Title ID": "T1", "Genre": "Comedy", "Runtime": 45, "Avg Rating": 4.6,
               "Genre Affinity": 0.9, "User Completion Rate": 0.9, "Hour": 21, "Device Type": "TV", "Rec Rank": 1,
               "Subscription": "Premium", "Country": "US"}  # fmt: skip
    output = deployment.score(fitting).output
    assert isinstance(output, EngagementOutput)
    assert output.engagement_probability > 0.7 and output.recommended_protocol in (
        "recommend",
        "feature_prominently",
    )
    assert output.expected_watch_minutes == pytest.approx(45.0 * output.engagement_probability)
    assert output.risk_vectors, output
    unlikely = {**fitting, "Genre": "Documentary", "Runtime": 130, "Avg Rating": 2.5, "Genre Affinity": 0.1,
                "User Completion Rate": 0.2, "Hour": 9, "Device Type": "Mobile", "Rec Rank": 35,
                "Subscription": "Basic"}  # fmt: skip
    assert deployment.score(unlikely).score < 0.05


def test_the_planted_answer_is_learned_near_its_ceiling() -> None:
    """Progressive AUC on the last 70% of the sample, at least 0.95x the AUC of the log-odds the sample
    was drawn from, on the same rows (those with every value the planted model reads)."""
    frame = BP.sample(8000, 2)
    report = Deployment(ContentEngagement).replay(frame)
    assert report.n_errors == 0 and report.n_learned == len(frame)
    rows = report.rows
    labels = np.array(rows.labels, dtype=float)
    scores = np.array(rows.scores)
    truth = planted_logit(frame.iloc[list(rows.positions)])
    kept = ~np.isnan(truth) & (np.arange(len(labels)) >= 0.3 * len(labels))
    ceiling = exact_auc(labels[kept], truth[kept])
    learned = exact_auc(labels[kept], scores[kept])
    assert ceiling > 0.75
    assert learned >= 0.95 * ceiling, (learned, ceiling)


def test_analyze_ranks_it_first_on_its_sample() -> None:
    best = analyze({"impressions.csv": BP.sample(2000, 1)})[0]
    assert best.blueprint == "content_engagement" and not best.missing, best
    assert best.label_column == "Watched" and best.column_mapping["recommendation_rank"] == "Rec Rank"
