"""Composites on the real broker (issue 21): seed 000's example end to end, read with kcat.

Four deployments (customer_churn, price_elasticity, upsell_likelihood, payment_default) share the
entity ``customer_id``. The deployments file declares the seed's composite ``revenue_optimization``;
a second one is declared over HTTP with the Python client. Rows of the four go in; the test reads
``tracer.predictions`` and ``tracer.composites`` with kcat (the outside client) and checks that the
stream stage published exactly the decisions the pure table makes from those predictions, in
order, across a ``kill -9`` and a restart; that ``analyze`` answers the seed's fields computed from
the live components' latest predictions; and that the CLI and the refusals work.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.integration import workers
from tests.kafka_helpers import produce
from tracer.blueprints import registry
from tracer.client import InvalidRequestError, TracerClient
from tracer.online_models.composite import decide, resolve
from tracer.online_models.composite_table import CompositeTable, entity_of
from tracer.schemas import DeploymentSpec
from tracer.schemas.composites import CompositeSpec

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat missing: apt-get install kcat"),
]

ENTITIES = 30
COMPONENTS = {  # deployment id: blueprint, the entity column of its sample, the label column, rows
    "churn": ("customer_churn", "cust_id", "churned", 400),
    "pricing": ("price_elasticity", "sku", "units_sold", 240),
    "upsell": ("upsell_likelihood", "Account ID", "Upgraded", 120),
    "credit": ("payment_default", "application_id", "Status", 120),
}
ENTITY_INPUT = {"customer_churn": "customer_id", "price_elasticity": "product_id",
                "upsell_likelihood": "account_id", "payment_default": "applicant_id"}  # fmt: skip
REVENUE = {"designation": "revenue_optimization", "objective": "maximize_revenue_6_months",
           "components": ["churn", "pricing", "upsell", "credit"]}  # fmt: skip


def specs(prefix: str) -> list[dict[str, Any]]:
    return [
        {"id": d, "blueprint": b, "input_topics": [f"{prefix}in.{d}"], "key_field": "customer_id",
         "column_mapping": {ENTITY_INPUT[b]: "customer_id"}, "labels": {"mode": "inline", "field": label}}
        for d, (b, _, label, _) in COMPONENTS.items()
    ]  # fmt: skip


def rows(deployment: str, seed: int) -> list[tuple[bytes, bytes]]:
    """The blueprint's sample with its entities renamed ``C-0``.. (the first ``ENTITIES`` of them)."""
    blueprint, column, _, n = COMPONENTS[deployment]
    frame = registry.get(blueprint)().sample(n, seed)
    names = {
        old: f"C-{i}" if i < ENTITIES else f"X-{deployment}-{i}"
        for i, old in enumerate(frame[column].unique())
    }
    frame = frame.assign(customer_id=frame[column].map(names)).drop(columns=[column])
    records = json.loads(frame.to_json(orient="records", date_format="iso"))
    return [(r["customer_id"].encode(), json.dumps(r).encode()) for r in records]


def kcat(bootstrap: str, topic: str) -> list[tuple[int, int, dict[str, Any]]]:
    """Every record of ``topic``: (partition, offset, value), in partition and offset order."""
    out = subprocess.run(
        ["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%p\t%o\t%s\n"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    found = [line.split("\t", 2) for line in out.splitlines() if line.strip()]
    return sorted((int(p), int(o), json.loads(v)) for p, o, v in found)


def settled(bootstrap: str, topic: str, at_least: int, timeout_s: float = 180) -> list[tuple[int, int, Any]]:
    """``topic``'s records once there are ``at_least`` and none came for 3 s."""
    deadline, last, since = time.monotonic() + timeout_s, -1, time.monotonic()
    while time.monotonic() < deadline:
        found = kcat(bootstrap, topic)
        if len(found) != last:
            last, since = len(found), time.monotonic()
        elif len(found) >= at_least and time.monotonic() - since >= 3:
            return found
        time.sleep(1)
    raise AssertionError(f"{topic}: {last} records after {timeout_s} s, expected at least {at_least}")


class Running:
    def __init__(self, bootstrap: str, folder: Path) -> None:
        self.bootstrap, self.prefix = bootstrap, f"t{uuid.uuid4().hex[:10]}."
        self.file = folder / "deployments.yaml"
        self.file.write_text(yaml.safe_dump({"deployments": specs(self.prefix), "composites": [REVENUE]}))
        self.env = workers.worker_environment(dict(os.environ), self.prefix)
        self.env.update(TRACER_KAFKA_BOOTSTRAP=bootstrap, TRACER_DATA_DIR=str(folder / "data"))
        self.log, self.port = folder / "worker.log", workers.free_port()
        self.process: Any = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = workers.start(
            self.file, self.env, self.prefix + "composites", self.log, web_port=self.port
        )
        workers.wait_owned(self.process, self.base, len(COMPONENTS), self.log)

    def feed(self, seed: int) -> int:
        sent = 0
        for deployment in COMPONENTS:
            keyed = rows(deployment, seed)
            sent += produce(
                self.bootstrap, f"{self.prefix}in.{deployment}", [v for _, v in keyed], [k for k, _ in keyed]
            )
        return sent

    def topic(self, name: str) -> str:
        return self.prefix + name


@pytest.fixture(scope="module")
def running(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    worker = Running(kafka_bootstrap, tmp_path_factory.mktemp("composites"))
    worker.start()
    try:
        yield worker
    finally:
        workers.stop(worker.process)
        output = worker.log.read_text(errors="replace")
        print(output[-4000:])
    assert "Traceback" not in output, "the worker logged an exception"


def expected_decisions(predictions: list[tuple[int, int, Any]], prefix: str) -> list[dict[str, Any]]:
    """What the stage must publish: the pure table fed every prediction, in partition and offset order."""
    running = {s["id"]: DeploymentSpec.model_validate(s) for s in specs(prefix)}
    table = CompositeTable([resolve(CompositeSpec.model_validate(REVENUE), running, registry.ids())])
    topic = prefix + "tracer.predictions"
    decided = [c.decision for p, o, v in predictions for c in table.apply(v, p, o, topic) if c.decision]
    return [json.loads(d.model_dump_json()) for d in decided]


def test_the_stage_publishes_the_decisions_of_the_predictions_across_a_kill_and_a_restart(
    running: Running,
) -> None:
    sent = running.feed(seed=1)
    first = settled(running.bootstrap, running.topic("tracer.predictions"), at_least=sent * 9 // 10)
    decisions = settled(running.bootstrap, running.topic("tracer.composites"), at_least=1)
    assert {d["entity"] for _, _, d in decisions} >= {f"C-{i}" for i in range(10)}, (
        "entities with every component"
    )

    running.process.send_signal(signal.SIGKILL)
    running.process.wait(timeout=30)
    running.start()
    sent += running.feed(seed=2)
    predictions = settled(
        running.bootstrap, running.topic("tracer.predictions"), at_least=len(first) + sent // 3
    )
    decisions = settled(running.bootstrap, running.topic("tracer.composites"), at_least=len(decisions) + 1)
    published = [
        d
        for _, _, d in sorted(
            decisions, key=lambda r: (r[2]["source"]["partition"], r[2]["source"]["offset"])
        )
    ]
    expected = expected_decisions(predictions, running.prefix)
    assert len(expected) > ENTITIES, "the second wave changed recommendations"
    assert published == expected, (
        "the same decisions as the table over the same predictions: none lost, none twice"
    )
    for decision in published:
        assert decision["composite"] == "revenue_optimization" and decision["recommended_protocols"]
        assert {"customer_churn", "upsell_likelihood"} <= set(decision["components"])
    scraped = httpx.get(running.base + "/ml/metrics", timeout=10).text
    counted = re.search(
        r'tracer_composite_decisions_total\{composite="revenue_optimization"\} ([\d.]+)', scraped
    )
    assert counted is not None and 0 < float(counted.group(1)) <= len(published), "since the restart"


def latest_outputs(running: Running, entity: str) -> dict[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for _, _, p in kcat(running.bootstrap, running.topic("tracer.predictions")):
        if entity_of(p["key"]) == entity:
            latest[p["blueprint"]] = p["output"]
    return latest


def test_analyze_answers_the_seed_fields_from_the_live_components(running: Running) -> None:
    latest = latest_outputs(running, "C-3")
    if set(latest) != set(ENTITY_INPUT):
        pytest.skip("needs the stream test's predictions of every component for C-3")
    with TracerClient(workers.API_KEY, running.base, timeout=60) as tracer:
        seed_example = tracer.get_composite("revenue_optimization")
        assert [c.id for c in tracer.list_composites()] == ["revenue_optimization"]
        answer = seed_example.analyze({"customer_id": "C-3"})
    running_specs = {s["id"]: DeploymentSpec.model_validate(s) for s in specs(running.prefix)}
    composite = resolve(CompositeSpec.model_validate(REVENUE), running_specs, registry.ids())
    expected = json.loads(decide(composite, "C-3", latest, {"customer_id": "C-3"}).model_dump_json())
    assert answer["scored_from"] == dict.fromkeys(ENTITY_INPUT, "stream"), answer
    for field in ("recommended_protocols", "risk_assessment", "optimal_price_point", "baseline_value"):
        assert answer[field] == expected[field], field
    top = answer["recommended_protocols"][0]
    assert top["impact"].startswith(("+$", "-$")) and 0 < top["confidence"] <= 1
    assert answer["optimal_price_point"] is not None, "price_elasticity gives the price point"


def test_a_composite_declared_with_the_client_scores_a_row_and_the_cli_shows_it(running: Running) -> None:
    with TracerClient(workers.API_KEY, running.base, timeout=60) as tracer:
        with pytest.raises(InvalidRequestError) as refused:
            tracer.create_composite("broken", ["churn", "no_such_thing"], "minimize_churn_loss")
        assert "components[1]" in str(refused.value)
        with pytest.raises(InvalidRequestError) as refused:
            tracer.create_composite("broken", ["upsell"], "minimize_churn_loss")
        assert "needs ['customer_churn']" in str(refused.value)
        retention = tracer.create_composite("retention", ["churn"], "minimize_churn_loss")
        assert retention.composite.components == ["churn"]
        keyed = rows("churn", seed=3)
        produce(running.bootstrap, running.topic("in.churn"), [v for _, v in keyed], [k for k, _ in keyed])
        workers.wait_for(
            lambda: any(d["composite"] == "retention" and d["entity"] == "C-7"
                        for _, _, d in kcat(running.bootstrap, running.topic("tracer.composites"))),
            120, "a decision of the new composite: it reads the predictions made after it was declared",
        )  # fmt: skip
        answer = retention.analyze({**json.loads(keyed[0][1]), "customer_id": "C-7", "mrr": 250.0})
    assert answer["scored_from"] == {"customer_churn": "row"} and answer["entity"] == "C-7"
    assert answer["objective"] == "minimize_churn_loss" and answer["recommended_protocols"]
    env = {**running.env, "TRACER_API_KEY": workers.API_KEY}
    shown = workers.tracer("composite", "analyze", "retention", "C-7", "--url", running.base, env=env)
    assert shown.returncode == 0, shown.stderr
    assert "risk:" in shown.stdout and "customer_churn (stream)" in shown.stdout
    listed = workers.tracer("composite", "list", "--url", running.base, env=env)
    assert "revenue_optimization" in listed.stdout and "retention" in listed.stdout
    missing = workers.tracer("composite", "analyze", "nope", "C-7", "--url", running.base, env=env)
    assert missing.returncode == 1 and "composite_not_found" in missing.stderr
