"""The composites' stream stage without Kafka (online_models/composite_table.py) and the crypto objective."""

from __future__ import annotations

from typing import Any

import pytest

from tracer.blueprints import registry
from tracer.online_models.composite import Reading, decide, read, validate
from tracer.online_models.composite_table import CompositeTable, EntityState, entity_of, state_key
from tracer.schemas.composites import CompositeSpec

SEED = ["customer_churn", "price_elasticity", "upsell_likelihood", "payment_default"]


def revenue() -> Any:
    spec = CompositeSpec(
        designation="revenue_optimization", components=SEED, objective="maximize_revenue_6_months"
    )
    return validate(spec, registry.ids())


def prediction(deployment: str, key: str, **output: Any) -> dict[str, Any]:
    return {"deployment": deployment, "key": key, "output": {"confidence": 0.8, **output}}


CURVE = {
    "elasticity": -1.2,
    "elasticity_interval": [-1.5, -0.9],
    "reference_price": 50.0,
    "optimal_price_point": 47.99,
}


def feed(table: CompositeTable, messages: list[dict[str, Any]]) -> list[Any]:
    return [c for offset, m in enumerate(messages) for c in table.apply(m, partition=1, offset=offset)]


def stream(churn: float = 0.6) -> list[dict[str, Any]]:
    return [
        prediction("customer_churn", "C-1@1700000000000", churn_probability=churn),
        prediction("price_elasticity", "C-1@1700000000000", **CURVE),
        prediction("upsell_likelihood", "C-1", expansion_probability=0.3, potential_expansion_value=200.0),
        prediction("player_churn", "C-1", churn_probability=0.9),  # no composite reads it
        prediction("payment_default", "C-1", default_probability=0.05),
        prediction(
            "customer_churn", "C-1@1700000100000", churn_probability=churn
        ),  # the same: no new decision
        prediction("customer_churn", "C-1@1700000200000", churn_probability=0.02),  # the risk changes
    ]


def test_an_entity_is_decided_once_its_required_components_predicted_and_again_when_it_changes() -> None:
    table = CompositeTable([revenue()])
    changes = feed(table, stream())
    assert [c.entity for c in changes] == ["C-1"] * 6, "the player_churn prediction changes nothing"
    decided = [(i, c.decision) for i, c in enumerate(changes) if c.decision is not None]
    assert revenue().objective.requires == ("customer_churn", "upsell_likelihood")
    assert [i for i, _ in decided] == [2, 5], (
        "once upsell_likelihood (the last required) predicted, and after the drop"
    )
    first, last = decided[0][1], decided[1][1]
    assert first.risk_assessment != last.risk_assessment
    assert first.source is not None and (first.source.partition, first.source.offset) == (1, 2)
    expected = decide(revenue(), "C-1", table.outputs("revenue_optimization", "C-1"))
    assert last.recommended_protocols == expected.recommended_protocols
    assert last.optimal_price_point == expected.optimal_price_point


def test_a_table_restored_from_its_changelog_skips_what_it_applied_and_decides_as_the_uncrashed_run() -> None:
    messages = stream()
    uncrashed = [c.decision for c in feed(CompositeTable([revenue()]), messages) if c.decision]

    crashed = CompositeTable([revenue()])
    changelog: dict[bytes, bytes] = {}
    for offset, message in enumerate(messages[:5]):  # the crash: after offset 4, committed up to 2
        for change in crashed.apply(message, 1, offset):
            changelog[state_key(change.composite, change.entity)] = change.state.to_json()
    published = [c for c in uncrashed[:1]]
    restored = CompositeTable([revenue()])
    for key, value in changelog.items():
        restored.restore(key, value, 1)
    replayed = [(offset, c.decision) for offset, m in enumerate(messages) if offset >= 3
                for c in restored.apply(m, 1, offset)]  # fmt: skip
    assert [offset for offset, _ in replayed] == [5, 6], "3: no composite reads it; 4: in the changelog"
    assert [d for _, d in replayed if d] == uncrashed[1:]
    assert published + [d for _, d in replayed if d] == uncrashed


def test_states_round_trip_and_revoked_partitions_are_forgotten() -> None:
    table = CompositeTable([revenue()])
    feed(table, stream())
    state = table.states[("revenue_optimization", "C-1")]
    assert EntityState.from_json(state.to_json()) == state
    table.drop([0])
    assert table.outputs("revenue_optimization", "C-1"), "partition 1 is still owned"
    table.drop([1])
    assert table.outputs("revenue_optimization", "C-1") == {}
    table.restore(state_key("gone", "C-1"), b"{}", 1)  # a composite removed since: skipped
    table.restore(state_key("revenue_optimization", "C-1"), state.to_json(), 1)
    table.restore(state_key("revenue_optimization", "C-1"), None, 1)
    assert table.outputs("revenue_optimization", "C-1") == {}


def test_entity_of_drops_the_time_only() -> None:
    assert entity_of("C-1@1700000000000") == "C-1" and entity_of("aave:0xab") == "aave:0xab"


@pytest.mark.parametrize("probability, expected", [(0.01, "no_action"), (0.4, "repay_debt")])
def test_the_liquidation_objective_weighs_the_penalty_against_each_protocols_cost(
    probability: float, expected: str
) -> None:
    spec = CompositeSpec(
        designation="positions", components=["liquidation_risk"], objective="minimize_liquidation_loss"
    )
    composite = validate(spec, registry.ids())
    output = {"liquidation_probability": probability, "confidence": 0.9}
    decision = decide(composite, "aave:0xab", {"liquidation_risk": output}, {"debt_usd": 50_000.0})
    assert decision.recommended_protocols[0].protocol == expected
    if expected != "no_action":  # 0.4 x 10% x $50,000 at stake; repaying cuts it by 75% for $250
        assert decision.recommended_protocols[0].expected_value == pytest.approx(
            0.4 * 0.75 * 5_000 - 250, rel=0.01
        )
        assert decision.risk_assessment == "medium"


def test_the_reading_kept_one_prediction_at_a_time_is_the_one_read_from_all_outputs() -> None:
    table = CompositeTable([revenue()])
    messages = [*stream(), prediction("upsell_likelihood", "C-1", expansion_probability=0.2)]  # no value now
    feed(table, messages)
    key = ("revenue_optimization", "C-1")
    kept = Reading(**table._fields[key])  # the cache is what this test is about
    assert kept == read(table.states[key].outputs, revenue().objective, {})
    assert kept.expansion_value == 0.3 * revenue().objective.monthly_value, "the default once none is given"


def test_a_batch_fetched_before_its_states_came_back_is_read_again() -> None:
    """The stage's guard: partitions it still owns are sought back to the batch's first offset."""
    from types import SimpleNamespace

    from aiokafka import TopicPartition

    from tracer.agents.composites import _read_again

    owned, gone = TopicPartition("p", 0), TopicPartition("p", 1)
    sought: list[tuple[TopicPartition, int]] = []
    consumer = SimpleNamespace(
        assignment=lambda: {owned}, seek=lambda tp, offset: sought.append((tp, offset))
    )
    batch = {owned: [SimpleNamespace(offset=7), SimpleNamespace(offset=8)], gone: [SimpleNamespace(offset=3)]}
    _read_again(consumer, batch)  # type: ignore[arg-type]
    assert sought == [(owned, 7)], "a partition another worker owns now is left to it"
