"""HTTP API latency of a real worker (printed, not asserted).

Run from the repository root::

    .venv/bin/python bench/api_latency.py             # 200 req/s for 10 s, then a 100k-row upload
    .venv/bin/python bench/api_latency.py --quick     # 100 req/s for 3 s and 10k rows, a smoke test

It uses the broker in ``TRACER_KAFKA_BOOTSTRAP``, or starts a local one (and stops it at the end),
starts a worker with one ``customer_churn`` deployment and a rate limit above the load, then:

1. fires ``POST /ml/predict`` open loop (each request leaves on its schedule, whatever the earlier
   ones are doing) and prints the client-side p50/p95/p99 and the worker's own ``latency_ms``;
2. fires ``POST /composites/retention/analyze`` (a composite of the churn deployment under
   ``minimize_churn_loss``, declared in the deployments file) at 100 req/s: issue 21's target is a
   p99 of at most 20 ms;
3. times the seed-000 journey on a large CSV: upload, deploy (a replay-trained model) and the
   first prediction, step by step.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from tracer.agents.kafka_local import LocalKafka, broker_answers, free_port, free_port_pair
from tracer.blueprints.recipes.customer_churn import CustomerChurn

KEY = f"bench-{uuid.uuid4().hex}"


def _percentiles(values: list[float]) -> str:
    if len(values) < 2:
        return "n/a"
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return f"p50 {cuts[49]:.2f} ms, p95 {cuts[94]:.2f} ms, p99 {cuts[98]:.2f} ms, max {max(values):.2f} ms"


async def _wait_healthy(session: aiohttp.ClientSession, base: str, worker: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise RuntimeError("the worker exited; see its log")
        try:
            async with session.get(base + "/ml/health") as answer:
                if answer.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.3)
    raise RuntimeError("the worker did not become healthy within 120 s")


async def _fire(
    session: aiohttp.ClientSession,
    base: str,
    rate: float,
    seconds: float,
    rows: list[dict[str, Any]],
    indent: str = "",
    path: str = "/ml/predict",
) -> list[float]:
    client_ms: list[float] = []
    server_ms: list[float] = []
    statuses: Counter[int] = Counter()

    async def one(row: dict[str, Any]) -> None:
        started = time.perf_counter()
        request = {"deployment": "churn", "row": row} if path == "/ml/predict" else row
        async with session.post(base + path, json=request) as answer:
            body = await answer.json()
        client_ms.append((time.perf_counter() - started) * 1000)
        statuses[answer.status] += 1
        if answer.status == 200 and "latency_ms" in body:
            server_ms.append(body["latency_ms"])

    total = int(rate * seconds)
    start = time.perf_counter()
    tasks = []
    for i in range(total):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(rows[i % len(rows)])))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    print(
        f"{indent}POST {path}: {total} requests at {rate:g}/s in {elapsed:.1f} s, statuses {dict(statuses)}"
    )
    print(f"{indent}  client round trip: {_percentiles(client_ms)}")
    if server_ms:
        print(f"{indent}  worker latency_ms: {_percentiles(server_ms)}")
    return client_ms


async def _journey(
    session: aiohttp.ClientSession, base: str, n_rows: int, rows: list[dict[str, Any]], rate: float
) -> None:
    frame = CustomerChurn().sample(n_rows, seed=1)
    csv = frame.to_csv(index=False).encode()
    row = json.loads(frame.head(1).to_json(orient="records"))[0]
    print(f"journey on {n_rows} rows ({len(csv) / 1e6:.1f} MB of CSV):")
    started = time.perf_counter()
    async with session.post(base + "/datasets", data=csv, headers={"Content-Type": "text/csv"}) as answer:
        dataset = await answer.json()
        assert answer.status == 201, dataset
    uploaded = time.perf_counter()
    body = {"blueprint": "customer_churn", "dataset": dataset["id"]}

    async def deploy() -> dict[str, Any]:
        async with session.post(base + "/deployments", json=body) as answer:
            created: dict[str, Any] = await answer.json()
            assert answer.status == 201, created
            return created

    deploying = asyncio.create_task(deploy())
    print(f"  meanwhile, predictions on the other deployment at {rate:g}/s while it trains:")
    await _fire(session, base, rate=rate, seconds=3.0, rows=rows, indent="    ")
    deployment = await deploying
    deployed = time.perf_counter()
    path = f"/deployments/{deployment['spec']['id']}/predict"
    async with session.post(base + path, json=row) as answer:
        assert answer.status == 200, await answer.text()
    predicted = time.perf_counter()
    auc = deployment["validation"]["metrics"].get("auc")
    print(f"  upload + parse + profile:   {uploaded - started:6.2f} s")
    print(f"  deploy (replay-train, publish): {deployed - uploaded:6.2f} s  (validation AUC {auc:.3f})")
    print(f"  first prediction:          {(predicted - deployed) * 1000:6.1f} ms")
    print(f"  upload -> first prediction: {predicted - started:6.2f} s")


async def _bench(base: str, worker: subprocess.Popen[bytes], args: argparse.Namespace) -> None:
    headers = {"X-API-Key": KEY}
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
        await _wait_healthy(session, base, worker)
        rows = json.loads(CustomerChurn().sample(500, seed=9).to_json(orient="records"))
        await _fire(session, base, rate=args.rate / 4, seconds=1.0, rows=rows)  # warm-up
        print("--")
        await _fire(session, base, rate=args.rate, seconds=args.seconds, rows=rows)
        print("--")
        analyzed = await _fire(session, base, rate=100.0, seconds=args.seconds, rows=rows,
                               path="/composites/retention/analyze")  # fmt: skip
        p99 = statistics.quantiles(analyzed, n=100, method="inclusive")[98]
        print(
            f"  composite analyze p99 {p99:.1f} ms at 100 req/s (target <= 20 ms): {'met' if p99 <= 20 else 'MISSED'}"
        )
        await _journey(session, base, args.rows, rows, rate=args.rate / 4)


def main() -> None:
    """Start what is needed, measure, print, clean up."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the uploaded CSV")
    parser.add_argument("--quick", action="store_true", help="100 req/s for 3 s, 10k rows")
    args = parser.parse_args()
    if args.quick:
        args.rate, args.seconds, args.rows = 100.0, 3.0, 10_000
    folder = Path(tempfile.mkdtemp(prefix="tracer-bench-api-"))
    bootstrap = os.environ.get("TRACER_KAFKA_BOOTSTRAP", "")
    broker = None
    if not bootstrap or not broker_answers(bootstrap):
        broker = LocalKafka(free_port_pair(), data_dir=folder / "kafka")
        print(f"starting a local Kafka on {broker.bootstrap} ...", flush=True)
        broker.start(timeout_s=120)
        bootstrap = broker.bootstrap
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    deployments = folder / "deployments.yaml"
    deployments.write_text(
        f"deployments:\n  - {{id: churn, blueprint: customer_churn, input_topics: [{prefix}customers], "
        "key_field: cust_id, labels: {mode: inline, field: churned}}\n"
        "composites:\n  - {designation: retention, components: [churn], objective: minimize_churn_loss}\n"
    )
    port = free_port()
    env = {**os.environ, "TRACER_KAFKA_BOOTSTRAP": bootstrap, "TRACER_DATA_DIR": str(folder / "worker"),
           "TRACER_TOPIC_PREFIX": prefix, "TRACER_API_KEYS": KEY,
           "TRACER_CHECKPOINT_SECRET": "bench-secret-0123456789abcdef",
           "TRACER_API_RATE_LIMIT": str(args.rate * 10), "TRACER_API_BURST": str(int(args.rate * 10))}  # fmt: skip
    log = folder / "worker.log"
    with log.open("wb") as sink:
        worker = subprocess.Popen(
            [sys.executable, "-m", "tracer.agents.cli", "worker", "--deployments", str(deployments),
             "--app-id", prefix + "bench", "--web-port", str(port)],
            env=env, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        asyncio.run(_bench(f"http://127.0.0.1:{port}", worker, args))
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        if broker is not None:
            broker.stop()
        print(f"(worker log: {log})")


if __name__ == "__main__":
    main()
