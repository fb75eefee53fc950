"""``GET /ml/health``: is the broker reachable, is the scoring service running, what does it own.

The broker check is a metadata request over a long-lived aiokafka client, with a timeout; its result
is kept for ``cache_s`` so that frequent probes (this endpoint needs no API key) cost the broker one
request per second at most. The worker is healthy (200) when the broker answered, the scoring
service runs, and it owns at least one deployment (so it can answer ``/ml/predict``); otherwise 503
with the problems listed. It is ``degraded`` (200: it serves, but something needs a person) while a
deployment it owns had its checkpoint refused and has not sealed a new one past its silent rebuild
(see :mod:`tracer.agents.recovery`), or is still rebuilding after one; the problems say which
checkpoint and why.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError

from tracer.agents.api.models import AgentsHealth, BrokerHealth, HealthResponse
from tracer.agents.metrics import TracerMetrics
from tracer.agents.scoring import ScoringService

__all__ = ["BrokerProbe", "consumer_lag", "degradations", "health_report"]


class BrokerProbe:
    """A cached, time-limited metadata request to the broker."""

    def __init__(
        self,
        bootstrap: str,
        *,
        timeout_s: float = 2.0,
        cache_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bootstrap = bootstrap
        self.timeout_s = timeout_s
        self.cache_s = cache_s
        self._clock = clock
        self._client: AIOKafkaClient | None = None
        self._last: tuple[float, BrokerHealth] | None = None
        self._lock = asyncio.Lock()

    async def check(self) -> BrokerHealth:
        """Whether the broker answers a metadata request within ``timeout_s`` (cached ``cache_s``)."""
        async with self._lock:
            now = self._clock()
            if self._last is not None and now - self._last[0] < self.cache_s:
                return self._last[1]
            result = await self._probe()
            self._last = (self._clock(), result)
            return result

    async def _probe(self) -> BrokerHealth:
        started = time.perf_counter()
        try:
            if self._client is None:
                client = AIOKafkaClient(
                    bootstrap_servers=self.bootstrap, request_timeout_ms=int(self.timeout_s * 1000)
                )
                try:
                    await asyncio.wait_for(client.bootstrap(), self.timeout_s)
                except BaseException:
                    await client.close()
                    raise
                self._client = client
            metadata = await asyncio.wait_for(self._client.fetch_all_metadata(), self.timeout_s)
        except (KafkaError, OSError, TimeoutError) as error:
            await self.close()
            reason = str(error) or "no answer within the timeout"
            return BrokerHealth(
                reachable=False, brokers=0, error=f"{self.bootstrap}: {type(error).__name__}: {reason}"
            )
        brokers = len(metadata.brokers())
        return BrokerHealth(
            reachable=brokers > 0,
            brokers=brokers,
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
            error=None if brokers else f"{self.bootstrap}: the metadata lists no broker",
        )

    async def close(self) -> None:
        """Close the client (a later check opens a new one)."""
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close()


def consumer_lag(metrics: TracerMetrics) -> dict[str, int] | None:
    """``tracer_consumer_lag_messages`` as ``{"topic:partition": lag}``; None if nothing reports it."""
    lags = {
        f"{sample.labels['topic']}:{sample.labels['partition']}": int(sample.value)
        for family in metrics.consumer_lag.collect()
        for sample in family.samples
    }
    return lags or None


def degradations(service: ScoringService) -> list[str]:
    """What makes the worker degraded: refused checkpoints not yet replaced, and silent rebuilds
    (one left over from a refusal before a restart, too: its checkpoint carries ``rebuild_until``)."""
    problems = [service.refused[d].describe(service.owned.get(d)) for d in sorted(service.refused)]
    problems += [
        f"{deployment} is rebuilding silently after a refused checkpoint: {owned.rebuilding} routed "
        "records left before it publishes again"
        for deployment, owned in sorted(service.owned.items())
        if owned.rebuilding and deployment not in service.refused
    ]
    return problems


async def health_report(
    probe: BrokerProbe, service: ScoringService, metrics: TracerMetrics
) -> HealthResponse:
    """The health of this worker; ``status`` is ``ok`` only if nothing is listed in ``problems``,
    ``degraded`` if only :func:`degradations` are."""
    broker = await probe.check()
    owned = sorted(service.owned)
    state = service.state
    problems = []
    if not broker.reachable:
        problems.append(f"the Kafka broker is unreachable ({broker.error})")
    if state != "running":
        problems.append(f"the scoring service is {state}, not running")
    if not owned:
        problems.append("this worker owns no deployment yet: it is starting, or other workers own them all")
    degraded = degradations(service)
    return HealthResponse(
        status="unavailable" if problems else "degraded" if degraded else "ok",
        problems=problems + degraded,
        broker=broker,
        agents=AgentsHealth(service=state, deployments=len(service.specs), owned=owned),
        consumer_lag=consumer_lag(metrics),
    )
