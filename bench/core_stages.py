"""Where an event's time goes in Tracer's core, stage by stage (printed, not asserted).

Run from the repository root::

    .venv/bin/python bench/core_stages.py              # 20,000 events per workload, best of 3
    .venv/bin/python bench/core_stages.py --events 5000

No broker: the events of ``bench/throughput.py``'s workloads go through one deployment, block by
block (256 events, as the scorer's learning blocks), and each stage of the core is timed on its own,
in the order the core runs them:

1. decode: the JSON bytes to a dict (``decode_row``);
2. canonicalise: column resolution, coercion and validation (``Deployment.canonical_many``);
3. features: the key, any self-labels and the blueprint's features, with its state (``_prepare``);
4. score and explain: the model's outputs for the block, one matrix (``predict_rows``);
5. outputs: the typed outputs, risk vectors and all (``postprocess_many``);
6. learn: the block's outcomes (``Learning.learn_captured``);
7. drift: the feature, prediction and concept detectors (``DriftMonitor``);
8. encode: each prediction's JSON as the scorer publishes it.

A third workload is churn's with :data:`CONTEXT_COLUMNS` more columns in each row (numbers,
categories and flags no input of churn's reads), which it learns from as context features: the
cost of a real table's width. Its profile is taken from the first 256 rows, as a stream's is.

The whole core (``LiveDeployment.process``, as ``bench/throughput.py``'s contender c') runs on the
same events; what it spends beyond the stages is its own bookkeeping (captures, joins, result
objects). The garbage collector is set as the worker sets it. Each figure is the best of
``--runs`` passes, in microseconds per event: set against the per-event budget a target leaves
(``1 / rate``), they say what fills it.

A last table runs every registered blueprint's whole core on its own sample (its user's columns,
context features included; the outcome inline where a column carries it, else learned as a
self-label), against the archive's budget of 50 µs per event.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from common import print_table, verdict
from pydantic_core import to_json
from throughput import Workload, _json_rows, prepare_data

from tracer.agents.worker import quiet_garbage_collector
from tracer.blueprints import registry
from tracer.blueprints.inputs import resolve_columns
from tracer.online_models.batch import Source, decode_row
from tracer.online_models.live import LiveDeployment, RoutedEvent, _error_of
from tracer.online_models.scored import Captured
from tracer.schemas import DeploymentSpec

__all__ = ["STAGES", "core_pass", "main", "stage_costs", "stages_pass", "with_context_columns"]

BLOCK = 256
ARCHIVE_US = 50.0
"""The archive's per-event budget for a blueprint's core, context features included (issue 18)."""
CONTEXT_COLUMNS = 20
"""Columns the ``+context`` workload adds: 10 numbers, 6 categories and 4 flags."""
STAGES = ("decode", "canonicalise", "features", "score and explain", "outputs", "learn", "drift", "encode")
MODEL_STAGES = ("score and explain", "learn")
"""What River alone does per event (``bench/throughput.py``'s contender c: predict_one + learn_one)."""


def with_context_columns(load: Workload, work: Path, count: int = CONTEXT_COLUMNS) -> Workload:
    """``load``'s rows with ``count`` more columns its blueprint learns as context, seeded."""
    rng = random.Random(7)
    lines = []
    for line in load.backlog.read_bytes().splitlines():
        row = json.loads(line)
        for index in range(count):
            kind = index % 10
            if kind < 5:
                row[f"metric_{index}"] = round(rng.lognormvariate(3.0, 1.0), 2)
            elif kind < 8:
                row[f"segment_{index}"] = rng.choice(("north", "south", "east", "west", "online", "partner"))
            else:
                row[f"flag_{index}"] = rng.random() < 0.3
        lines.append(json.dumps(row).encode())
    backlog = work / f"{load.name}.context.jsonl"
    backlog.write_bytes(b"\n".join(lines) + b"\n")
    return replace(load, name=f"{load.name} +{count} context", backlog=backlog)


def blueprint_workloads(work: Path, events: int) -> list[Workload]:
    """Every registered blueprint on its own sample: its user's columns (context included), the label
    inline where a column carries it (scored, then learned, as the replay does), self-labels else."""
    loads = []
    for blueprint in registry.list():
        frame = blueprint().sample(events, seed=1)
        columns = resolve_columns(blueprint, frame.columns).columns
        label = blueprint.label.column
        label_column = columns.get(label.name) if label is not None else None
        # "self" learns each row's own outcome too, where no one column carries it (a net computed from two)
        labels: dict[str, Any] = (
            {"mode": "inline", "field": label_column} if label_column else {"mode": "self"}
        )
        key = columns.get(blueprint.entity_input) or str(frame.columns[0])
        backlog = work / f"{blueprint.id}.sample.jsonl"
        backlog.write_bytes(b"\n".join(_json_rows(frame)) + b"\n")
        spec = {"id": blueprint.id.replace("_", "-"), "blueprint": blueprint.id, "input_topics": ["bench.sample"],
                "key_field": key, "labels": labels}  # fmt: skip
        loads.append(Workload(blueprint.id, blueprint, "bench.sample", key, spec, backlog, backlog, 0))
    return loads


def core_pass(load: Workload, values: Sequence[bytes]) -> tuple[float, LiveDeployment]:
    """Seconds for ``LiveDeployment.process`` over ``values``, blocks of ``BLOCK``, from a fresh
    deployment; and the deployment."""
    live = LiveDeployment(DeploymentSpec.model_validate(load.spec))
    events = [RoutedEvent(v, None, Source(load.topic, 0, i), 0) for i, v in enumerate(values)]
    started = time.perf_counter()
    for start in range(0, len(events), BLOCK):
        live.process(events[start : start + BLOCK], now_ms=0)
    return time.perf_counter() - started, live


def stages_pass(load: Workload, values: Sequence[bytes]) -> tuple[dict[str, float], LiveDeployment]:
    """Seconds per stage over ``values``, block by block, from a fresh deployment; and the deployment,
    which has learned what :func:`core_pass`'s learns (tested)."""
    live = LiveDeployment(DeploymentSpec.model_validate(load.spec))
    deployment, monitor = live.live, live.monitor
    blueprint, params, model = deployment.blueprint, deployment.params, deployment.model
    waiting: dict[str, Captured] = {}  # self-labelled predictions not yet settled, by key
    spent: dict[str, float] = defaultdict(float)
    position = 0
    for start in range(0, len(values), BLOCK):
        clock = time.perf_counter()

        def lap(stage: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            spent[stage] += now - clock
            clock = now

        rows = [decode_row(value) for value in values[start : start + BLOCK]]
        lap("decode")
        valid = [row for row in rows if isinstance(row, dict)]  # the workloads' rows all are
        records = [record for _, record in deployment.canonical_many(valid) if isinstance(record, dict)]
        lap("canonicalise")
        prepared = [deployment._prepare(record) for record in records]
        features = [entry[2] for entry in prepared]
        lap("features")
        scores = model.predict_rows(features)  # type: ignore[attr-defined]
        lap("score and explain")
        outputs = blueprint.postprocess_many(scores, features, model, params)
        lap("outputs")
        pairs: list[tuple[Captured, float]] = []
        for (key, revealed, x, time_s), record, score in zip(prepared, records, scores, strict=True):
            for earlier, settled in revealed:
                if (captured := waiting.pop(earlier, None)) is not None:
                    pairs.append((captured, settled))
            own = blueprint.label_of(record, params)
            if own is None:
                waiting[key] = Captured(key, x, score, time_s, 1)
            else:
                pairs.append((Captured(key, x, score, time_s, 1), float(own)))
        deployment.learn_captured(pairs)
        lap("learn")
        monitor.observe_features_many(features, start_position=position, ts_ms=0)  # neither exempts any
        monitor.observe_predictions_many(scores, start_position=position, ts_ms=0)
        for captured, y in pairs:
            monitor.observe_error(_error_of(live.task, captured.score, y), position=position, ts_ms=0)
        lap("drift")
        source = {"topic": load.topic, "partition": 0, "offset": 7}
        for (key, *_), output in zip(prepared, outputs, strict=True):
            to_json({"deployment": "d", "blueprint": blueprint.id, "model_version": 1, "key": key,
                     "output": output, "latency_ms": 3, "ts": 0, "source": source})  # fmt: skip
        lap("encode")
        position += len(rows)
    return spent, live


def stage_costs(load: Workload, values: Sequence[bytes], runs: int) -> dict[str, float]:
    """Microseconds per event of each stage and of the whole core (``core``), best of ``runs`` passes."""
    best: dict[str, float] = {}
    for _ in range(runs):
        for stage, seconds in {**stages_pass(load, values)[0], "core": core_pass(load, values)[0]}.items():
            best[stage] = min(best.get(stage, seconds), seconds)
    return {stage: seconds * 1e6 / len(values) for stage, seconds in best.items()}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000, help="Events per workload (default 20000).")
    parser.add_argument("--runs", type=int, default=3, help="Passes per figure; the best counts (default 3).")
    args = parser.parse_args(argv)
    quiet_garbage_collector()  # as the worker runs: collections would land in whichever stage allocates
    with tempfile.TemporaryDirectory(prefix="tracer-stages-") as work:
        loads = prepare_data(Path(work), args.events, paced_rows=0)
        loads.append(with_context_columns(loads[0], Path(work)))
        costs = {
            load.name: stage_costs(load, load.backlog.read_bytes().splitlines(), args.runs) for load in loads
        }
    names = list(costs)
    inside = STAGES[:-1]  # encoding is the scorer's, when it publishes
    around = [stage for stage in STAGES if stage not in MODEL_STAGES]

    def summed(name: str, stages: Sequence[str]) -> float:
        return sum(costs[name][stage] for stage in stages)

    summaries = {
        "stages 1-7 (the core's)": {name: summed(name, inside) for name in names},
        "whole core (LiveDeployment.process)": {name: costs[name]["core"] for name in names},
        "  its own bookkeeping": {name: costs[name]["core"] - summed(name, inside) for name in names},
        "the model's work (score and explain, learn)": {name: summed(name, MODEL_STAGES) for name in names},
        "the product's work around it (the other stages)": {name: summed(name, around) for name in names},
    }
    rows: list[list[Any]] = [[stage, *(f"{costs[name][stage]:.2f}" for name in names)] for stage in STAGES]
    rows += [[label, *(f"{values[name]:.2f}" for name in names)] for label, values in summaries.items()]
    print_table(f"Core stages, microseconds per event ({args.events:,} events, best of {args.runs})",
                ["stage", *names], rows)  # fmt: skip
    archive_table(args.events, args.runs)


def archive_table(events: int, runs: int) -> None:
    """Every blueprint's whole core on its own sample, against the archive's 50 µs per event."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="tracer-archive-") as work:
        for load in blueprint_workloads(Path(work), events):
            values = load.backlog.read_bytes().splitlines()
            seconds, live = min((core_pass(load, values) for _ in range(runs)), key=lambda pair: pair[0])
            context = live.live.context
            used = len(context.describe()["used"]) if context is not None else 0
            per_event = seconds * 1e6 / len(values)
            rows.append(
                [
                    load.name,
                    len(values),
                    used,
                    per_event,
                    f"<= {ARCHIVE_US}",
                    verdict(per_event <= ARCHIVE_US),
                ]
            )
    print_table(
        f"Every blueprint's whole core (LiveDeployment.process) on its own sample, µs per event, best of {runs}",
        ["blueprint", "events", "context columns", "µs/event", "target", ""],
        rows,
        note="The sample's columns as a user's file has them: the recipe's inputs and the context it learns from.",
    )


if __name__ == "__main__":
    main()
