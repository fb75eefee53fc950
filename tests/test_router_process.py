"""The worker's side of the router process, on its pipe alone (the process itself runs on the real
broker in ``tests/integration/test_router_process.py``)."""

from __future__ import annotations

import asyncio

from tracer.agents.router_process import RouterProcess
from tracer.agents.settings import Settings


def test_reports_are_applied_and_a_stray_line_is_ignored_not_fatal() -> None:
    unrouted: list[tuple[str, str]] = []
    router = RouterProcess(Settings(), lambda: [], lambda topic, reason: unrouted.append((topic, reason)))

    async def run() -> bool:
        confirmed = asyncio.get_running_loop().create_future()
        router._adding["churn"] = [confirmed]
        stdout = asyncio.StreamReader()
        stdout.feed_data(b'{"unrouted": "tracer.labels", "reason": "not_json"}\n')
        stdout.feed_data(b"a library printed this\n{}\n")
        stdout.feed_data(
            b'{"added": "churn"}\n{"unrouted": "crm.customers", "reason": "unknown_deployment"}\n'
        )
        stdout.feed_eof()
        await router._read(stdout)
        return confirmed.done()

    assert asyncio.run(run()), "the add was confirmed"
    assert unrouted == [("tracer.labels", "not_json"), ("crm.customers", "unknown_deployment")]
