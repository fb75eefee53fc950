"""cart_abandonment: self-labels (purchase, timeout), session features, output, learning, analyze."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from tracer.blueprints.actions import PROTOCOLS
from tracer.blueprints.analysis import analyze
from tracer.blueprints.recipes.cart_abandonment import CartAbandonment, CartOutput, simulate_sessions
from tracer.online_models import Deployment

BP = CartAbandonment()
PARAMS = BP.resolve_params()
T0 = 1_700_000_000.0


def event(session: str, minute: float, kind: str, value: float | None = None, **extra: Any) -> dict[str, Any]:
    """A canonical record: optional inputs None unless given."""
    record: dict[str, Any] = {"session_id": session, "event_time": T0 + 60.0 * minute, "event_type": kind,
                              "cart_value": value, "cart_items": None, "device": None, "traffic_source": None}  # fmt: skip
    return {**record, **extra}


def labels_of(records: list[dict[str, Any]], params: dict[str, Any] | None = None) -> list[tuple[str, float]]:
    resolved = BP.resolve_params(params)
    state, out = BP.new_state(resolved), []
    for record in records:
        out += BP.self_labels(record, state, resolved)
        BP.featurize(record, state, resolved)
    return out


def key(session: str, minute: float) -> str:
    return f"{session}@{int((T0 + 60.0 * minute) * 1000)}"


def test_a_purchase_settles_the_sessions_events_as_purchased_and_is_not_itself_learned() -> None:
    records = [event("a", 0, "view"), event("a", 1, "add_to_cart", 30.0), event("a", 3, "Purchase")]
    assert labels_of(records) == [(key("a", 0), 0.0), (key("a", 1), 0.0)]
    later = [*records, event("b", 200, "view")]  # long after: nothing of "a" is left to settle
    assert labels_of(later) == [(key("a", 0), 0.0), (key("a", 1), 0.0)]


def test_silence_past_the_timeout_settles_as_abandoned_when_a_later_event_passes_it() -> None:
    records = [event("a", 0, "view"), event("a", 2, "cart", 30.0), event("b", 31, "view")]
    assert labels_of(records) == []  # 29 minutes of silence: still open
    assert labels_of([*records, event("b", 33, "view")]) == [(key("a", 0), 1.0), (key("a", 2), 1.0)]
    assert labels_of([*records, event("b", 33, "view")], {"sessionTimeoutMinutes": 60}) == []


def test_a_session_resumed_after_the_timeout_is_a_new_visit() -> None:
    state = BP.new_state(PARAMS)
    records = [
        event("a", 0, "view"),
        event("a", 1, "add_to_cart", 20.0),
        event("a", 5, "remove_from_cart", 0.0),
    ]
    for record in records:
        BP.self_labels(record, state, PARAMS)
        features = BP.featurize(record, state, PARAMS)
    assert features["session_events"] == 3 and features["adds"] == 1 and features["removes"] == 1
    assert features["idle_minutes"] == pytest.approx(4.0) and features["session_minutes"] == pytest.approx(
        5.0
    )
    assert features["value_vs_peak"] == 0.0 and features["remove_share"] == 1.0
    resumed = event("a", 60, "view")
    assert BP.self_labels(resumed, state, PARAMS) == [
        (key("a", 0), 1.0),
        (key("a", 1), 1.0),
        (key("a", 5), 1.0),
    ]
    features = BP.featurize(resumed, state, PARAMS)
    assert features["session_events"] == 1 and features["adds"] == 0 and features["session_minutes"] == 0.0


def test_the_output_names_a_priced_intervention() -> None:
    model = BP.make_model(PARAMS, 0)
    output = BP.postprocess(0.8, {"adds": 1.0}, model, PARAMS)
    assert isinstance(output, CartOutput)
    assert output.abandonment_probability == 0.8 and output.purchase_probability == pytest.approx(0.2)
    assert (output.risk_classification, output.recommended_protocol) == ("critical", "cart_discount")
    assert BP.postprocess(0.3, {}, model, PARAMS).recommended_protocol == "cart_reminder"
    assert {PROTOCOLS[name].lever for name in BP.protocols.values()} == {"none", "contact", "offer"}


def test_a_deployment_learns_from_its_own_stream() -> None:
    deployment = Deployment(CartAbandonment)
    rows = [{"user_session": "s1", "event_time": "2024-03-01 10:00:00", "event_type": "view"},
            {"user_session": "s1", "event_time": "2024-03-01 10:01:00", "event_type": "add_to_cart"},
            {"user_session": "s2", "event_time": "2024-03-01 10:02:00", "event_type": "view"},
            {"user_session": "s1", "event_time": "2024-03-01 10:03:00", "event_type": "checkout"},
            {"user_session": "s3", "event_time": "2024-03-01 11:00:00", "event_type": "view"}]  # fmt: skip
    learned = [
        (captured.key, y) for row in rows for captured, y in deployment.learn_from([deployment.score(row)])
    ]
    assert sorted(y for _, y in learned) == [0.0, 0.0, 1.0]
    assert deployment.labels_learned == 3 and deployment.counters()["pending"] == 2  # the checkout and s3


def test_the_planted_answer_is_learned_beyond_the_planted_session_odds() -> None:
    frame, odds = simulate_sessions(6000, 3)
    report = Deployment(CartAbandonment).replay(frame)
    assert report.n_errors == 0 and report.n_learned > 5000
    labels = np.array([np.nan if y is None else y for y in report.rows.labels])
    known = ~np.isnan(labels)
    positions = np.asarray(report.rows.positions)[known]
    ceiling = roc_auc_score(labels[known], -odds[positions])  # abandonment: the odds of buying, reversed
    assert report.metrics["auc"] > 0.7
    assert report.metrics["auc"] >= 0.95 * ceiling, (report.metrics["auc"], ceiling)


def test_analyze_ranks_it_first_on_its_sample() -> None:
    suggestions = analyze({"sample": BP.sample(2000, 1)})
    assert suggestions[0].blueprint == "cart_abandonment"
    assert suggestions[0].column_mapping["session_id"] == "user_session"
