"""The route table: which deployments a message goes to, and deployments added while routing."""

from __future__ import annotations

import json

from tracer.agents.routing import KIND_LABEL, KIND_ROW, RouteTable
from tracer.schemas import DeploymentSpec, ReasonCode


def _spec(deployment: str, *topics: str) -> DeploymentSpec:
    return DeploymentSpec.model_validate(
        {
            "id": deployment,
            "blueprint": "customer_churn",
            "input_topics": list(topics),
            "key_field": "cust_id",
        }
    )


def _destinations(table: RouteTable, topic: str, value: bytes = b"{}") -> list[tuple[str | None, bytes]]:
    return [(routed.deployment, routed.kind) for routed in table.route(topic, value)]


def test_rows_fan_out_to_every_deployment_reading_their_topic() -> None:
    table = RouteTable([_spec("a", "customers"), _spec("b", "customers", "orders")], "labels")
    assert _destinations(table, "customers") == [("a", KIND_ROW), ("b", KIND_ROW)]
    assert _destinations(table, "orders") == [("b", KIND_ROW)]
    assert table.topics == ["customers", "labels", "orders"]


def test_a_label_goes_to_the_deployment_it_names_or_becomes_a_dead_letter() -> None:
    table = RouteTable([_spec("a", "customers")], "labels")
    assert _destinations(table, "labels", json.dumps({"deployment": "a"}).encode()) == [("a", KIND_LABEL)]
    (unknown,) = table.route("labels", json.dumps({"deployment": "nobody"}).encode())
    assert unknown.deployment is None and unknown.reason == ReasonCode.UNKNOWN_DEPLOYMENT


def test_an_added_deployment_is_routed_on_known_and_new_topics() -> None:
    table = RouteTable([_spec("a", "customers")], "labels")
    before = table.by_topic["customers"]
    table.add(_spec("b", "customers", "payments"))
    assert before == ["a"], "a routing pass holding the old list is not disturbed"
    assert _destinations(table, "customers") == [("a", KIND_ROW), ("b", KIND_ROW)]
    assert _destinations(table, "payments") == [("b", KIND_ROW)]
    assert table.topics == ["customers", "labels", "payments"], "the router subscribes to the new topic"
    assert _destinations(table, "labels", json.dumps({"deployment": "b"}).encode()) == [("b", KIND_LABEL)]
