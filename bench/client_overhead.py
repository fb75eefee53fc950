"""What ``tracer.client`` adds to a call: ``TracerClient.predict`` against the same request made with raw httpx.

Issue 22's target: a client call adds under 1 ms over a raw HTTP request. Both sides send the same
JSON row with the same httpx.Client settings and parse the JSON answer; the client also builds its
request object, checks the status, and wraps the answer in a ``Prediction``. Measured three ways:

- ``mock``: httpx.MockTransport answers at once (no sockets): the client's own cost, precisely;
- ``local``: a small HTTP server on 127.0.0.1 in a thread of this process (real sockets);
- ``worker``: a live Tracer worker, with ``--url``, ``--key`` and ``--deployment`` (a real prediction).

Rounds alternate raw and client calls; per side, the median of the rounds' mean call times.
Run: ``.venv/bin/python bench/client_overhead.py [--calls 2000] [--rounds 7] [--url ... --key ... --deployment ...]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from tracer.client import TracerClient

TARGET_US = 1_000.0
ROW = {"customer_id": "cust_123", "last_activity_date": "2026-11-01", "account_created_date": "2024-01-09",
       "total_value": 812.5, "support_tickets": 3, "plan_type": "pro"}  # fmt: skip
ANSWER = json.dumps(
    {
        "deployment": "churn",
        "blueprint": "customer_churn",
        "model_version": 3,
        "key": "cust_123",
        "output": {
            "churn_probability": 0.73,
            "risk_vectors": ["declining_usage", "support_complaints"],
            "recommendedProtocol": "immediate_outreach",
            "confidence": 0.89,
        },
        "score": 0.73,
        "latency_ms": 0.21,
    }
).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the worker's aiohttp server does
    disable_nagle_algorithm = True  # else a delayed ACK holds each answer ~40 ms

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(ANSWER)}\r\n\r\n"
        self.wfile.write(head.encode() + ANSWER)  # one write: one segment

    def log_message(self, *args: Any) -> None:
        pass


def _mean_us(call: Callable[[], Any], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - started) / calls * 1e6


def measure(
    base_url: str,
    key: str,
    deployment: str,
    calls: int,
    rounds: int,
    transport: httpx.BaseTransport | None = None,
) -> tuple[float, float]:
    """Median over rounds of the mean µs per call: (raw httpx, TracerClient)."""
    headers = {"X-API-Key": key}
    path = f"/deployments/{deployment}/predict"
    with httpx.Client(base_url=base_url, headers=headers, timeout=30, transport=transport) as raw, \
            TracerClient(key, base_url, timeout=30, transport=transport) as tracer:  # fmt: skip

        def raw_call() -> Any:
            response = raw.post(path, json=ROW)
            response.raise_for_status()
            return response.json()

        def client_call() -> Any:
            return tracer.predict(deployment, ROW)

        for _ in range(min(calls, 200)):  # warm: connections, caches
            raw_call()
            client_call()
        raw_us, client_us = [], []
        for _ in range(rounds):
            raw_us.append(_mean_us(raw_call, calls))
            client_us.append(_mean_us(client_call, calls))
    return statistics.median(raw_us), statistics.median(client_us)


def _line(name: str, raw_us: float, client_us: float) -> str:
    overhead = client_us - raw_us
    verdict = "met" if overhead < TARGET_US else "MISSED"
    return f"{name:<8} {raw_us:>10.1f} {client_us:>12.1f} {overhead:>12.1f}   < {TARGET_US:.0f} µs: {verdict}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2_000, help="calls per round and side")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--url", help="a live worker's base URL (adds the 'worker' line)")
    parser.add_argument("--key", default="", help="its API key")
    parser.add_argument("--deployment", default="churn", help="a deployment it owns")
    args = parser.parse_args()
    print(f"{'against':<8} {'raw µs':>10} {'client µs':>12} {'overhead µs':>12}   (median of {args.rounds} rounds "
          f"x {args.calls} calls, predict)")  # fmt: skip
    mock = httpx.MockTransport(lambda request: httpx.Response(200, content=ANSWER,
                                                              headers={"Content-Type": "application/json"}))  # fmt: skip
    print(_line("mock", *measure("http://mock", "k", "churn", args.calls, args.rounds, mock)), flush=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        local = f"http://127.0.0.1:{server.server_address[1]}"
        print(_line("local", *measure(local, "k", "churn", max(args.calls // 4, 1), args.rounds)), flush=True)
    finally:
        server.shutdown()
        server.server_close()
    if args.url:
        calls = max(args.calls // 10, 1)
        print(_line("worker", *measure(args.url, args.key, args.deployment, calls, args.rounds)), flush=True)


if __name__ == "__main__":
    main()
