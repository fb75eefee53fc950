"""Tracer's Prometheus metrics: exact names, labels, buckets, batch accounting, and isolation."""

from __future__ import annotations

import doctest
import math

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

import tracer.agents.metrics as metrics_module
from tracer.agents.api.context import record_prediction
from tracer.agents.metrics import (
    LATENCY_BUCKETS_MS,
    SCORE_BUCKETS,
    STATUS_OK,
    UNROUTED_DEPLOYMENT,
    TracerMetrics,
)

Labels = dict[str, str]


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def samples(metrics: TracerMetrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every exposed sample, keyed by (sample name, label set), parsed back from the rendered text."""
    text = metrics.render().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(metrics: TracerMetrics, name: str, **labels: str) -> float:
    """The value of one sample, or a clear failure naming what is there instead."""
    found = samples(metrics)
    key = (name, frozenset(labels.items()))
    if key not in found:
        same_name = sorted(str(dict(label_set)) for sample_name, label_set in found if sample_name == name)
        pytest.fail(f"no sample {name}{labels}; samples named {name}: {same_name}")
    return found[key]


def sample_names(metrics: TracerMetrics) -> set[str]:
    return {name for name, _ in samples(metrics)}


@pytest.fixture
def metrics() -> TracerMetrics:
    m = TracerMetrics(clock=FakeClock())
    m.register_deployment("churn", model_version=3)
    return m


def test_public_surface_is_what_we_meant() -> None:
    assert set(metrics_module.__all__) == {
        "LATENCY_BUCKETS_MS",
        "METRICS_CONTENT_TYPE",
        "RequestStatus",
        "SCORE_BUCKETS",
        "STATUS_ERROR",
        "STATUS_OK",
        "STATUS_REJECTED",
        "TracerMetrics",
        "UNROUTED_DEPLOYMENT",
    }
    assert metrics_module.METRICS_CONTENT_TYPE == "text/plain; version=0.0.4; charset=utf-8"


def test_the_module_docstring_example_runs() -> None:
    result = doctest.testmod(metrics_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def test_seed_002_names_are_exposed_exactly_with_their_labels(metrics: TracerMetrics) -> None:
    metrics.record_batch(
        "churn",
        "crm.customers",
        consumed=2,
        predicted=1,
        dead_lettered_by_reason={"scoring_error": 1},
        latencies_ms=[12.0],
        scores=[0.7],
        model_errors_by_type={"ValueError": 1},
    )
    text = metrics.render().decode()

    assert 'ml_predict_requests_total{deployment="churn",model_version="3",status="ok"} 1.0' in text
    assert 'ml_predict_requests_total{deployment="churn",model_version="3",status="error"} 1.0' in text
    assert 'ml_predict_latency_ms_bucket{deployment="churn",le="20.0",model_version="3"} 1.0' in text
    assert 'ml_model_version_info{deployment="churn",version="3"} 1.0' in text
    assert 'ml_feature_extractions_total{deployment="churn"} 1.0' in text
    assert 'ml_prediction_score_bucket{deployment="churn",le="0.7",model_version="3"} 1.0' in text
    assert 'ml_model_errors_total{deployment="churn",error_type="ValueError"} 1.0' in text
    for name in ("ml_predict_requests_total", "ml_model_errors_total", "ml_feature_extractions_total"):
        assert f"# TYPE {name} counter" in text
    for name in ("ml_predict_latency_ms", "ml_prediction_score"):
        assert f"# TYPE {name} histogram" in text
    assert "_total_total" not in text


def test_every_metric_has_a_one_line_help_text(metrics: TracerMetrics) -> None:
    for family in text_string_to_metric_families(metrics.render().decode()):
        assert family.documentation, f"{family.name} has no help text"
        assert "\n" not in family.documentation


def test_tracer_metric_names_and_labels(metrics: TracerMetrics) -> None:
    metrics.record_batch(
        "churn", "crm.customers", consumed=3, predicted=2, dead_lettered_by_reason={"not_json": 1}
    )
    metrics.set_consumer_lags({("crm.customers", 0): 17, ("crm.customers", 1): 0})
    metrics.record_labels("churn", joined=5, expired=2)
    metrics.record_drift_alert("churn", kind="data", detector="adwin")
    metrics.set_shadow_agreement("churn", "hoeffding", 0.97)
    metrics.record_checkpoint("churn")

    stream = {"deployment": "churn", "topic": "crm.customers"}
    assert value(metrics, "tracer_events_consumed_total", **stream) == 3
    assert value(metrics, "tracer_events_predicted_total", **stream) == 2
    assert value(metrics, "tracer_events_dead_lettered_total", **stream, reason="not_json") == 1
    assert value(metrics, "tracer_consumer_lag_messages", topic="crm.customers", partition="0") == 17
    assert value(metrics, "tracer_labels_joined_total", deployment="churn") == 5
    assert value(metrics, "tracer_labels_expired_total", deployment="churn") == 2
    assert value(metrics, "tracer_drift_alerts_total", deployment="churn", kind="data", detector="adwin") == 1
    assert value(metrics, "tracer_shadow_agreement_ratio", deployment="churn", shadow="hoeffding") == 0.97
    assert value(metrics, "tracer_checkpoints_written_total", deployment="churn") == 1
    assert value(metrics, "tracer_checkpoint_age_seconds", deployment="churn") >= 0
    assert value(metrics, "tracer_model_version", deployment="churn") == 3


def test_register_deployment_creates_zero_series_so_rates_start_at_once() -> None:
    metrics = TracerMetrics()
    metrics.register_deployment("fraud", model_version=1)
    for name in (
        "tracer_labels_joined_total",
        "tracer_labels_expired_total",
        "tracer_checkpoints_written_total",
    ):
        assert value(metrics, name, deployment="fraud") == 0


def test_latency_buckets_are_milliseconds_and_score_buckets_tenths(metrics: TracerMetrics) -> None:
    metrics.record_batch("churn", "t", consumed=1, predicted=1, latencies_ms=[3.0], scores=[0.35])
    found = samples(metrics)

    def les(name: str) -> list[str]:
        return [dict(labels)["le"] for sample_name, labels in found if sample_name == name]

    assert les("ml_predict_latency_ms_bucket") == [
        *(f"{float(bound)}" for bound in LATENCY_BUCKETS_MS),
        "+Inf",
    ]
    assert les("ml_predict_latency_ms_bucket")[:3] == ["1.0", "2.0", "5.0"]
    assert les("ml_predict_latency_ms_bucket")[-2] == "2000.0"
    assert les("ml_prediction_score_bucket") == [
        "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9", "1.0", "+Inf",
    ]  # fmt: skip
    assert [float(le) for le in les("ml_prediction_score_bucket")[:-1]] == list(SCORE_BUCKETS)


def test_histograms_are_cumulative_with_prometheus_le_semantics(metrics: TracerMetrics) -> None:
    # A value equal to a bound belongs to that bound's bucket (le = "less than or equal").
    latencies = [0.5, 1.0, 80.0, 80.1, 5000.0]
    metrics.record_batch("churn", "t", consumed=5, predicted=5, latencies_ms=latencies)
    h = {"deployment": "churn", "model_version": "3"}
    bucket = "ml_predict_latency_ms_bucket"
    assert value(metrics, bucket, **h, le="1.0") == 2
    assert value(metrics, bucket, **h, le="40.0") == 2
    assert value(metrics, bucket, **h, le="80.0") == 3
    assert value(metrics, bucket, **h, le="120.0") == 4
    assert value(metrics, bucket, **h, le="2000.0") == 4
    assert value(metrics, bucket, **h, le="+Inf") == 5
    assert value(metrics, "ml_predict_latency_ms_count", **h) == 5
    assert value(metrics, "ml_predict_latency_ms_sum", **h) == pytest.approx(sum(latencies))


def test_non_finite_observations_are_dropped_and_the_sum_stays_finite(metrics: TracerMetrics) -> None:
    metrics.record_batch(
        "churn", "t", consumed=3, predicted=3, latencies_ms=[10.0, math.nan, math.inf], scores=[0.5]
    )
    h = {"deployment": "churn", "model_version": "3"}
    assert value(metrics, "ml_predict_latency_ms_count", **h) == 1
    assert value(metrics, "ml_predict_latency_ms_sum", **h) == 10.0


def test_record_batch_adds_up_over_batches(metrics: TracerMetrics) -> None:
    for _ in range(3):
        metrics.record_batch(
            "churn",
            "crm.customers",
            consumed=10,
            predicted=7,
            dead_lettered_by_reason={"missing_field": 2, "scoring_error": 1},
            latencies_ms=[5.0] * 7,
            scores=[0.9] * 7,
        )
    stream = {"deployment": "churn", "topic": "crm.customers"}
    model = {"deployment": "churn", "model_version": "3"}
    assert value(metrics, "tracer_events_consumed_total", **stream) == 30
    assert value(metrics, "tracer_events_predicted_total", **stream) == 21
    assert value(metrics, "tracer_events_dead_lettered_total", **stream, reason="missing_field") == 6
    assert value(metrics, "tracer_events_dead_lettered_total", **stream, reason="scoring_error") == 3
    assert value(metrics, "ml_predict_requests_total", **model, status="ok") == 21
    assert value(metrics, "ml_predict_requests_total", **model, status="rejected") == 6
    assert value(metrics, "ml_predict_requests_total", **model, status="error") == 3
    assert value(metrics, "ml_feature_extractions_total", deployment="churn") == 21
    assert value(metrics, "ml_predict_latency_ms_count", **model) == 21
    assert value(metrics, "ml_prediction_score_bucket", **model, le="0.9") == 21

    # Conservation is visible in the metrics: consumed = predicted + dead-lettered.
    found = samples(metrics)
    dead = sum(v for (name, labels), v in found.items() if name == "tracer_events_dead_lettered_total")
    assert value(metrics, "tracer_events_consumed_total", **stream) == (
        value(metrics, "tracer_events_predicted_total", **stream) + dead
    )


def test_explicit_featurized_count(metrics: TracerMetrics) -> None:
    metrics.record_batch(
        "churn", "t", consumed=4, predicted=3, dead_lettered_by_reason={"scoring_error": 1}, featurized=4
    )
    assert value(metrics, "ml_feature_extractions_total", deployment="churn") == 4


@pytest.mark.parametrize(
    ("consumed", "predicted", "dead"),
    [(5, 3, {"not_json": 1}), (3, 3, {"not_json": 1}), (2, 3, {"not_json": -1}), (-1, -1, {})],
    ids=["lost-a-message", "counted-twice", "negative-dead-letters", "negative-predictions"],
)
def test_record_batch_refuses_counts_that_break_conservation(
    metrics: TracerMetrics, consumed: int, predicted: int, dead: dict[str, int]
) -> None:
    before = samples(metrics)
    with pytest.raises(ValueError, match=r"deployment 'churn', topic 'crm.customers': consumed="):
        metrics.record_batch(
            "churn", "crm.customers", consumed=consumed, predicted=predicted, dead_lettered_by_reason=dead
        )
    assert samples(metrics) == before, "a refused batch must count nothing"


def test_unrouted_dead_letters_count_on_the_topic_but_not_as_model_requests() -> None:
    metrics = TracerMetrics()
    metrics.record_batch(
        UNROUTED_DEPLOYMENT, "crm.customers", consumed=2, predicted=0, dead_lettered_by_reason={"not_json": 2}
    )
    stream = {"deployment": UNROUTED_DEPLOYMENT, "topic": "crm.customers"}
    assert value(metrics, "tracer_events_consumed_total", **stream) == 2
    assert value(metrics, "tracer_events_dead_lettered_total", **stream, reason="not_json") == 2
    assert not any(name.startswith("ml_predict") for name in sample_names(metrics))
    with pytest.raises(ValueError, match="predictions without a deployment"):
        metrics.record_batch(UNROUTED_DEPLOYMENT, "crm.customers", consumed=1, predicted=1)


def test_unregistered_deployment_is_counted_with_unknown_version() -> None:
    metrics = TracerMetrics()
    metrics.record_batch("fraud", "payments", consumed=1, predicted=1)
    assert (
        value(metrics, "ml_predict_requests_total", deployment="fraud", model_version="unknown", status="ok")
        == 1
    )


def test_a_new_model_version_gets_new_series_and_replaces_the_info(metrics: TracerMetrics) -> None:
    metrics.record_batch("churn", "t", consumed=1, predicted=1, latencies_ms=[1.0])
    metrics.set_model_version("churn", 4)
    metrics.record_batch("churn", "t", consumed=2, predicted=2, latencies_ms=[1.0, 1.0])

    assert (
        value(metrics, "ml_predict_requests_total", deployment="churn", model_version="3", status="ok") == 1
    )
    assert (
        value(metrics, "ml_predict_requests_total", deployment="churn", model_version="4", status="ok") == 2
    )
    assert value(metrics, "ml_predict_latency_ms_count", deployment="churn", model_version="4") == 2
    assert value(metrics, "tracer_model_version", deployment="churn") == 4
    infos = [dict(labels) for name, labels in samples(metrics) if name == "ml_model_version_info"]
    assert infos == [{"deployment": "churn", "version": "4"}]


def test_checkpoint_age_grows_between_checkpoints_and_resets() -> None:
    clock = FakeClock()
    metrics = TracerMetrics(clock=clock)
    metrics.register_deployment("churn", model_version=1)
    clock.now += 42
    assert value(metrics, "tracer_checkpoint_age_seconds", deployment="churn") == 42  # since start
    metrics.record_checkpoint("churn")
    assert value(metrics, "tracer_checkpoint_age_seconds", deployment="churn") == 0
    clock.now += 7.5
    assert value(metrics, "tracer_checkpoint_age_seconds", deployment="churn") == 7.5
    metrics.register_deployment("churn", model_version=2)  # re-registering does not reset the age
    assert value(metrics, "tracer_checkpoint_age_seconds", deployment="churn") == 7.5


def test_forgetting_a_deployment_and_revoked_partitions(metrics: TracerMetrics) -> None:
    metrics.set_shadow_agreement("churn", "arf", 0.99)
    metrics.set_consumer_lags({("crm.customers", 0): 3, ("crm.customers", 1): 4})
    metrics.forget_deployment("churn")
    metrics.forget_partitions([("crm.customers", 0), ("crm.customers", 9)])  # 9 was never ours
    names = sample_names(metrics)
    for gone in ("tracer_model_version", "ml_model_version_info", "tracer_checkpoint_age_seconds",
                 "tracer_shadow_agreement_ratio"):  # fmt: skip
        assert gone not in names
    assert value(metrics, "tracer_consumer_lag_messages", topic="crm.customers", partition="1") == 4
    assert (
        "tracer_consumer_lag_messages",
        frozenset({"topic": "crm.customers", "partition": "0"}.items()),
    ) not in (samples(metrics))
    metrics.forget_deployment("churn")  # twice is harmless


@pytest.mark.parametrize("agreement", [-0.01, 1.01, math.nan])
def test_shadow_agreement_must_be_a_fraction(metrics: TracerMetrics, agreement: float) -> None:
    with pytest.raises(ValueError, match=r"shadow 'arf' of 'churn': agreement must be in \[0, 1\]"):
        metrics.set_shadow_agreement("churn", "arf", agreement)


def test_drift_alert_count_must_be_positive(metrics: TracerMetrics) -> None:
    # The TracerDriftAlert rule relies on a drift series being born at 1 or more.
    with pytest.raises(ValueError, match="at least 1"):
        metrics.record_drift_alert("churn", "data", "adwin", count=0)


def test_two_instances_do_not_collide() -> None:
    first, second = TracerMetrics(), TracerMetrics()
    first.register_deployment("churn", model_version=1)
    second.register_deployment("churn", model_version=2)
    first.record_batch("churn", "t", consumed=5, predicted=5, latencies_ms=[1.0] * 5)
    second.record_batch("churn", "t", consumed=1, predicted=1, latencies_ms=[1.0])

    assert first.registry is not second.registry
    assert value(first, "tracer_events_consumed_total", deployment="churn", topic="t") == 5
    assert value(second, "tracer_events_consumed_total", deployment="churn", topic="t") == 1
    assert value(first, "ml_predict_latency_ms_count", deployment="churn", model_version="1") == 5
    assert value(second, "tracer_model_version", deployment="churn") == 2


def test_an_explicit_registry_is_used_and_a_second_set_in_it_is_refused() -> None:
    registry = CollectorRegistry()
    metrics = TracerMetrics(registry)
    assert metrics.registry is registry
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        TracerMetrics(registry)


def test_label_children_are_cached_across_batches(metrics: TracerMetrics) -> None:
    metrics.record_batch("churn", "t", consumed=1, predicted=1, dead_lettered_by_reason={})
    stream_before = metrics._streams[("churn", "t")]
    model_before = metrics._models[("churn", "3")]
    metrics.record_batch("churn", "t", consumed=1, predicted=0, dead_lettered_by_reason={"not_json": 1})
    assert metrics._streams[("churn", "t")] is stream_before
    assert metrics._models[("churn", "3")] is model_before
    assert set(stream_before.dead_lettered) == {"not_json"}


def test_http_latency_is_kept_apart_from_the_streams(metrics: TracerMetrics) -> None:
    metrics.record_batch("churn", "t", consumed=1, predicted=1, latencies_ms=[70.0])
    record_prediction(metrics, "churn", 3, STATUS_OK, latency_ms=0.4, score=0.5)
    h = {"deployment": "churn", "model_version": "3"}
    assert value(metrics, "ml_predict_latency_ms_count", **h) == 1
    assert value(metrics, "ml_predict_latency_ms_sum", **h) == 70.0
    assert value(metrics, "ml_http_predict_latency_ms_count", **h) == 1
    assert value(metrics, "ml_http_predict_latency_ms_sum", **h) == 0.4
    assert value(metrics, "ml_predict_requests_total", **h, status="ok") == 2  # one of each
