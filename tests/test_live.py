"""LiveDeployment, the synchronous core the stream and the HTTP API share (no Kafka here)."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import pytest

from tracer.blueprints.errors import InputError
from tracer.blueprints.recipes.customer_churn import CustomerChurn
from tracer.blueprints.recipes.price_movement import PriceMovement
from tracer.drift import ReactionAction, ReactionMachine
from tracer.online_models.batch import Source
from tracer.online_models.deployment import Deployment
from tracer.online_models.live import LiveDeployment, RoutedEvent
from tracer.schemas import DeploymentSpec, ModelVersion, ReasonCode


def spec(**overrides: object) -> DeploymentSpec:
    fields: dict[str, object] = {
        "id": "churn", "blueprint": "customer_churn", "input_topics": ["crm"], "key_field": "cust_id",
        "labels": {"mode": "inline", "field": "churned"},
    }  # fmt: skip
    return DeploymentSpec.model_validate(fields | overrides)


def events(n: int, seed: int = 4, *, start: int = 0) -> list[RoutedEvent]:
    frame = CustomerChurn().sample(n, seed=seed)
    rows = json.loads(frame.to_json(orient="records", date_format="iso"))
    return [
        RoutedEvent(json.dumps(row).encode(), None, Source("crm", 0, start + i), 0)
        for i, row in enumerate(rows)
    ]


def probe_scores(target: LiveDeployment | Deployment[Any]) -> list[float]:
    """Scores of rows the model never saw, on a copy (scoring updates per-entity feature state)."""
    deployment = copy.deepcopy(target.live if isinstance(target, LiveDeployment) else target)
    return [
        deployment.score(row).score for row in CustomerChurn().sample(20, seed=77).to_dict(orient="records")
    ]


def test_every_row_ends_as_a_prediction_or_a_dead_letter() -> None:
    live = LiveDeployment(spec(), created_at=0)
    batch = events(50)
    source = Source("crm", 0, 99)
    batch += [
        RoutedEvent(b"{nope", None, source, 0),
        RoutedEvent(b'{"cust_id": "x"}', None, source, 0),
        RoutedEvent(b'{"cust_id": "y", "last_login": "2023-01-01", "signup_date": "2022-01-01", "total_spend": "?"}',
                    None, source, 0),
    ]  # fmt: skip
    result = live.process(batch, now_ms=0)
    assert result.rows == 53
    assert len(result.predictions) + len(result.dead_letters) == result.rows
    assert [letter.reason for letter in result.dead_letters] == [
        ReasonCode.NOT_JSON, ReasonCode.MISSING_FIELD, ReasonCode.WRONG_TYPE,
    ]  # fmt: skip


def test_a_block_split_across_polls_predicts_and_learns_as_one_call() -> None:
    whole, split = LiveDeployment(spec(), created_at=0), LiveDeployment(spec(), created_at=0)
    stream = events(600)
    for block in (stream[:256], stream[256:512], stream[512:]):
        whole_scores = [p.score for p in whole.score(block, now_ms=0).predictions]
        split_scores = [
            p.score
            for part in (block[:7], block[7:100], block[100:])
            for p in split.score(part, now_ms=0).predictions
        ]
        # Scores match to the last bits: a vectorised predict_many and predict_one may round differently.
        assert whole_scores == pytest.approx(split_scores, rel=1e-12)
        whole.learn_block(now_ms=0)
        split.learn_block(now_ms=0)
    assert probe_scores(whole) == probe_scores(split), "the learned state is exactly the same"


def test_predictions_in_a_block_use_the_model_as_of_its_start() -> None:
    live = LiveDeployment(spec(), created_at=0)
    first = live.score(events(100), now_ms=0).predictions
    assert len({p.score for p in first}) == 1, "nothing learned yet inside the first block"
    live.learn_block(now_ms=0)
    second = live.score(events(100, seed=5), now_ms=0).predictions
    assert len({p.score for p in second}) > 10


def test_delayed_labels_join_captures_and_unknown_keys_become_dead_letters() -> None:
    live = LiveDeployment(spec(labels={"mode": "delayed", "ttl_seconds": 365 * 86_400}), created_at=0)
    scored = live.process(events(40), now_ms=0).predictions
    source = Source("tracer.labels", 0, 0)

    def label(key: str) -> RoutedEvent:
        value = json.dumps({"deployment": "churn", "key": key, "label": "yes", "ts": 1}).encode()
        return RoutedEvent(value, None, source, 0, is_label=True)

    result = live.process([label(p.key) for p in scored[:30]] + [label("nobody@1")], now_ms=0)
    assert result.labels == 31
    assert result.labels_joined == 30
    assert [letter.reason for letter in result.dead_letters] == [ReasonCode.UNMATCHED_LABEL]
    assert live.live.counters()["labels_learned"] == 30
    assert live.live.pending == 10


def test_promotion_copies_the_shadow_and_rollback_restores_the_previous_model() -> None:
    live = LiveDeployment(
        spec(shadows=[{"name": "rule", "params": {"churnDefinition": "no_login_30_days"}}]), created_at=0
    )
    for start in range(0, 1200, 300):
        live.process(events(300, seed=start), now_ms=0)
    before = probe_scores(live.live)

    promoted = live.promote("rule", now_ms=5)
    assert (promoted.version, promoted.reason, promoted.parent_version) == (2, "promotion", 1)
    assert promoted.learned_through == {"crm:0": 300}, "where the stream stood: after offset 299 of crm:0"
    assert promoted.params["churnDefinition"] == "no_login_30_days"
    assert promoted.evidence["shadow"] == "rule" and "shadow_metrics" in promoted.evidence
    assert live.live.model is not live.shadows["rule"].model, (
        "live and shadow must not share one model object"
    )

    rolled = live.rollback(now_ms=6)
    assert (rolled.version, rolled.reason, rolled.evidence["restored_version"]) == (3, "rollback", 1)
    assert probe_scores(live.live) == before
    with pytest.raises(KeyError, match="no shadow 'missing'"):
        live.promote("missing", now_ms=7)


MARKET = {"id": "market", "blueprint": "price_movement", "input_topics": ["snapshots"], "key_field": "symbol",
          "labels": {"mode": "self"}}  # fmt: skip


def market_events(n: int) -> list[RoutedEvent]:
    rows = PriceMovement().sample(n, seed=3).to_dict(orient="records")
    source = Source("snapshots", 0, 0)
    return [RoutedEvent(json.dumps(row).encode(), None, source, 0) for row in rows]


@pytest.mark.parametrize(
    ("fields", "twin_params"),
    [({"labels": {"mode": "inline", "field": "churned"}}, {}),
     ({"labels": {"mode": "delayed"}}, {}),
     ({"labels": {"mode": "inline", "field": "churned"}}, {"predictionWindow": "60_days"}),
     (MARKET, {}),
     (MARKET, {"horizonSeconds": 300}),
     (MARKET, {"thresholdBp": 5})],
    ids=["churn-inline", "churn-delayed", "churn-other-window", "market", "market-other-horizon",
         "market-dead-zone"],
)  # fmt: skip
def test_a_shadow_featurized_as_live_scores_lives_features_exactly_as_on_its_own(
    fields: dict[str, Any], twin_params: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shortcut (``score_alongside``) changes nothing a shadow computes: its scores, outcomes,
    agreement reports and learned model equal those of the same challenger featurizing on its own,
    whether its params are live's or differ only outside the features (then its outcomes are its own)."""
    shared = LiveDeployment(spec(**fields, shadows=[{"name": "twin", "params": twin_params}]))
    alone = copy.deepcopy(shared)
    assert shared.shadows["twin"].shares_features(shared.live)
    monkeypatch.setattr(alone.shadows["twin"], "shares_features", lambda other: False)
    market = fields is MARKET
    stream = market_events(3000) if market else events(1200)
    reports: dict[str, list[Any]] = {"shared": [], "alone": []}
    for start in range(0, len(stream), 256):
        for name, target in (("shared", shared), ("alone", alone)):
            result = target.process(stream[start : start + 256], now_ms=0)
            reports[name] += [r.model_dump(exclude={"ts"}) for r in result.reports]
    assert reports["shared"] and reports["shared"] == reports["alone"]
    twins = shared.shadows["twin"], alone.shadows["twin"]
    assert twins[0].counters() == twins[1].counters()
    if fields["labels"]["mode"] != "delayed":  # this stream carries no label events
        assert twins[0].counters()["labels_learned"] > 100
    blueprint = PriceMovement if market else CustomerChurn
    probes = [
        s.features
        for s in Deployment(blueprint).score_many(blueprint().sample(40, seed=77).to_dict("records"))
    ]
    assert [twins[0].model.predict_one(x) for x in probes] == [twins[1].model.predict_one(x) for x in probes]


def test_shadow_names_must_be_unique() -> None:
    with pytest.raises(ValueError, match="repeated: twin"):
        spec(shadows=[{"name": "twin"}, {"name": "twin", "params": {"predictionWindow": "60_days"}}])


def test_rolling_back_twice_to_one_version_restores_it_as_it_was_kept() -> None:
    live = LiveDeployment(
        spec(shadows=[{"name": "other", "params": {"predictionWindow": "60_days"}}]), created_at=0
    )
    stream = events(600)
    live.process(stream[:300], now_ms=0)
    kept = probe_scores(live)
    live.promote("other", now_ms=1)
    live.rollback(now_ms=2, to_version=1)
    live.process(stream[300:], now_ms=3)  # live (version 3) learns: the kept version 1 must not
    live.rollback(now_ms=4, to_version=1)
    assert live.model_version == 4 and probe_scores(live) == kept


def test_a_shadow_can_run_another_pipeline_and_be_promoted() -> None:
    live = LiveDeployment(spec(shadows=[{"name": "tree", "model": "hoeffding_tree"}]), created_at=0)
    reports = []
    for start in range(0, 1500, 250):
        reports += live.process(events(250, seed=start), now_ms=0).reports
    tree = live.shadows["tree"]
    assert "HoeffdingAdaptiveTree" in repr(tree.model) and "LogisticRegression" in repr(live.live.model)
    assert tree.labels_learned == live.live.labels_learned > 1000
    assert reports and reports[-1].agreement < 1.0, "another model: it disagrees somewhere"
    assert probe_scores(tree) != probe_scores(live.live)
    live.promote("tree", now_ms=1)
    assert "HoeffdingAdaptiveTree" in repr(live.live.model)
    after = live.process(events(100, seed=99), now_ms=2)
    assert len(after.predictions) == 100 and all(0.0 <= p.score <= 1.0 for p in after.predictions)
    restored = pickle.loads(pickle.dumps(live))
    assert probe_scores(restored) == probe_scores(live)


def test_a_shadow_runs_a_version_or_another_model_not_both() -> None:
    with pytest.raises(ValueError, match="either a registered version or another model"):
        spec(shadows=[{"name": "x", "version": 1, "model": "hoeffding_tree"}])


def test_an_http_prediction_changes_nothing_the_stream_holds() -> None:
    """A snapshot scored over HTTP must not move price_movement's per-symbol history, settle (and so
    steal) the stream's pending predictions, or leave a capture: the stream's state stays a function
    of its log, and the stream goes on exactly as if the request had never come."""
    spec_market = DeploymentSpec.model_validate(MARKET)
    asked, untouched = LiveDeployment(spec_market, created_at=0), LiveDeployment(spec_market, created_at=0)
    stream = market_events(1200)
    for target in (asked, untouched):
        target.process(stream[:600], now_ms=0)
    snapshot = json.loads(stream[600].value)
    answer = asked.predict({**snapshot, "ts": snapshot["ts"] + 3_600_000})  # an hour on: all is due
    expected = copy.deepcopy(untouched.live).score({**snapshot, "ts": snapshot["ts"] + 3_600_000})
    assert answer.score == expected.score and answer.output == expected.output, "scored as the stream would"
    assert asked.live.counters() == untouched.live.counters()
    assert pickle.dumps(asked.live.state) == pickle.dumps(untouched.live.state)
    assert asked.live.pending == untouched.live.pending
    later = [asked.process(stream[600:], now_ms=0), untouched.process(stream[600:], now_ms=0)]
    assert [p.score for p in later[0].predictions] == [p.score for p in later[1].predictions]
    assert asked.live.counters() == untouched.live.counters()


def test_an_http_prediction_of_a_bad_row_says_what_is_wrong() -> None:
    live = LiveDeployment(spec(), created_at=0)
    with pytest.raises(
        InputError, match=r"row has nothing to score from: no value for any of last_activity_date"
    ):
        live.predict({"cust_id": "x"})
    assert live.live.counters()["errors"] == 0, "not a stream error"


class _ScriptedReaction(ReactionMachine):
    """Warns at the ``warn_at``-th outcome and confirms drift at the ``drift_at``-th."""

    def __init__(self, warn_at: int, drift_at: int) -> None:
        super().__init__("retrain")
        self.outcomes, self.warn_at, self.drift_at = 0, warn_at, drift_at

    def update(self, *, warning: bool, drift: bool) -> ReactionAction:
        self.outcomes += 1
        return super().update(warning=self.outcomes == self.warn_at, drift=self.outcomes == self.drift_at)


def test_a_drift_retrain_keeps_the_pipeline_a_promotion_made_live() -> None:
    live = LiveDeployment(spec(shadows=[{"name": "tree", "model": "hoeffding_tree"}]), created_at=0)
    live.process(events(500), now_ms=0)
    promoted = live.promote("tree", now_ms=1)
    assert promoted.pipeline == "hoeffding_tree" and live.history.records[0].pipeline is None
    live.monitor.reaction = _ScriptedReaction(warn_at=50, drift_at=300)
    versions = []
    for start in range(0, 600, 200):
        versions += live.process(events(200, seed=start + 7), now_ms=2).versions
    (swap,) = versions
    assert (swap.reason, swap.pipeline) == ("drift_swap", "hoeffding_tree")
    assert "HoeffdingAdaptiveTree" in repr(live.live.model), "the background model was a tree too"
    back = live.rollback(now_ms=3, to_version=1)
    assert back.pipeline is None and "LogisticRegression" in repr(live.live.model)


def test_a_version_record_pickled_before_it_named_its_pipeline_loads_with_none() -> None:
    record = LiveDeployment(spec(), created_at=0).history.live
    state = record.__getstate__()
    del state["__dict__"]["pipeline"]  # as a checkpoint written before the field existed holds it
    old = ModelVersion.__new__(ModelVersion)
    old.__setstate__(state)
    assert old.pipeline is None and old == record


def test_a_live_deployment_pickled_before_it_kept_source_positions_loads_with_none() -> None:
    live = LiveDeployment(spec(), created_at=0)
    live.process(events(50), now_ms=0)
    state = live.__dict__.copy()
    del state["source_positions"]
    old = LiveDeployment.__new__(LiveDeployment)
    old.__setstate__(state)
    restored = pickle.loads(pickle.dumps(old))
    assert restored.source_positions == {}
    restored.process(events(10, start=50), now_ms=0)
    assert restored.source_positions == {"crm:0": 60}


def test_a_nan_literal_in_a_streamed_row_is_a_non_finite_dead_letter_naming_its_column() -> None:
    """JSON has null for a missing value; ``NaN`` (which Python's and pydantic's parsers accept) is a
    producer's bad number, dead-lettered as such rather than read as missing (issue 24)."""
    live = LiveDeployment(spec(), created_at=0)
    source = Source("crm", 0, 7)
    row = b'{"cust_id": "n", "last_login": "2023-02-01", "signup_date": "2023-01-01", "total_spend": NaN}'
    optional = b'{"cust_id": "m", "last_login": "2023-02-01", "support_tickets": NaN}'
    result = live.process(
        [RoutedEvent(row, None, source, 0), RoutedEvent(optional, None, source, 0)], now_ms=0
    )
    assert [letter.reason for letter in result.dead_letters] == [ReasonCode.NON_FINITE] * 2
    assert "column 'total_spend': NaN" in result.dead_letters[0].error and not result.predictions
