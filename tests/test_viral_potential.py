"""viral_potential: self-labels from later counts, features, parameters, learning, analyze."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from tracer.blueprints.analysis import analyze
from tracer.blueprints.recipes.viral_potential import ViralOutput, ViralPotential, simulate_contents
from tracer.online_models import Deployment

BP = ViralPotential()
T0 = 1_700_000_000.0


def seen(content: str, hours: float, shares: float | None, **extra: Any) -> dict[str, Any]:
    """A canonical observation ``hours`` after T0 (the posting time unless ``posted_at`` says otherwise)."""
    record: dict[str, Any] = {spec.name: None for spec in BP.inputs()}
    record.update(content_id=content, observed_at=T0 + 3600.0 * hours, posted_at=T0, shares=shares)
    return {**record, **extra}


def labels_of(records: list[dict[str, Any]], params: dict[str, Any] | None = None) -> list[tuple[str, float]]:
    resolved = BP.resolve_params(params)
    state, out = BP.new_state(resolved), []
    for record in records:
        out += BP.self_labels(record, state, resolved)
        BP.featurize(record, state, resolved)
    return out


def key(content: str, hours: float) -> str:
    return f"{content}@{int((T0 + 3600.0 * hours) * 1000)}"


def test_reaching_the_threshold_settles_earlier_observations_as_viral_at_once() -> None:
    records = [seen("a", 1, 10.0), seen("a", 2, 400.0), seen("a", 3, 1200.0), seen("a", 30, 5000.0)]
    assert labels_of(records) == [(key("a", 1), 1.0), (key("a", 2), 1.0)]


def test_the_horizon_settles_by_the_count_then_and_later_observations_are_not_queued() -> None:
    records = [seen("a", 1, 10.0), seen("a", 12, 300.0), seen("a", 25, 900.0), seen("a", 48, 2000.0)]
    assert labels_of(records) == [(key("a", 1), 0.0), (key("a", 12), 0.0)]
    assert labels_of(records, {"threshold": 500}) == [(key("a", 1), 1.0), (key("a", 12), 1.0)]
    assert labels_of(records, {"horizonHours": 6}) == [(key("a", 1), 0.0)]  # 12 h is past a 6 h horizon


def test_views_can_be_the_metric_and_a_missing_count_settles_nothing() -> None:
    records = [seen("a", 1, 10.0, views=50.0), seen("a", 2, 20.0, views=None), seen("a", 25, 30.0, views=2e5)]
    assert labels_of(records, {"viralMetric": "views", "threshold": 100000}) == [
        (key("a", 1), 1.0), (key("a", 2), 1.0)]  # fmt: skip


def test_features_read_velocity_against_the_previous_observation() -> None:
    params = BP.resolve_params()
    state = BP.new_state(params)
    BP.featurize(seen("a", 1, 10.0, posted_at=None, views=100.0), state, params)  # posted at its first sight
    features = BP.featurize(
        seen("a", 3, 50.0, posted_at=None, views=1000.0, content_type=" Video"), state, params
    )
    assert features["age_hours"] == 2.0 and features["shares_per_hour"] == 25.0
    assert features["recent_shares_per_hour"] == 20.0 and features["share_rate"] == 0.05
    assert features["views_per_hour"] == 500.0 and features["content_type"] == "video"
    assert features["posted_daypart"] in {"night", "morning", "afternoon", "evening"}


def test_the_output_carries_what_it_is_about() -> None:
    params = BP.resolve_params({"horizonHours": 72, "threshold": 5000})
    output = BP.postprocess(0.9, {}, BP.make_model(params, 0), params)
    assert isinstance(output, ViralOutput) and output.viral_probability == 0.9
    assert (output.horizon_hours, output.threshold, output.recommended_protocol) == (
        72,
        5000,
        "promote_content",
    )


def test_a_deployment_learns_from_its_own_stream() -> None:
    deployment = Deployment(ViralPotential)
    rows = [{"post_id": "p1", "snapshot_time": "2024-05-01T10:00:00Z", "published_at": "2024-05-01T09:00:00Z",
             "share_count": 30},
            {"post_id": "p2", "snapshot_time": "2024-05-01T10:30:00Z", "share_count": 2},
            {"post_id": "p1", "snapshot_time": "2024-05-01T12:00:00Z", "share_count": 1500},
            {"post_id": "p2", "snapshot_time": "2024-05-02T11:00:00Z", "share_count": 40}]  # fmt: skip
    learned = [y for row in rows for _, y in deployment.learn_from([deployment.score(row)])]
    assert learned == [1.0, 0.0] and deployment.labels_learned == 2


def test_the_planted_answer_is_learned_near_the_generators_ceiling() -> None:
    frame, planted = simulate_contents(8000, 3)
    report = Deployment(ViralPotential).replay(frame)
    assert report.n_errors == 0 and report.n_learned > 4000
    labels = np.array([np.nan if y is None else y for y in report.rows.labels])
    known = ~np.isnan(labels)
    planted_known, scores = (
        planted[np.asarray(report.rows.positions)[known]],
        np.asarray(report.rows.scores)[known],
    )
    assert report.metrics["auc"] >= 0.9 * roc_auc_score(labels[known], planted_known)
    # once warm (the first labels come a horizon late): the second half of the settled predictions
    half = len(scores) // 2
    warm, ceiling = (
        roc_auc_score(labels[known][half:], scores[half:]),
        roc_auc_score(labels[known][half:], planted_known[half:]),
    )
    assert warm >= 0.95 * ceiling, (warm, ceiling)


def test_analyze_ranks_it_first_on_its_sample() -> None:
    suggestions = analyze({"sample": BP.sample(2000, 1)})
    assert suggestions[0].blueprint == "viral_potential"
    assert suggestions[0].column_mapping["content_id"] == "post_id"
