"""The router in a process of its own, started and watched by the worker's scoring service.

Router and scorer used to share the worker's event loop, so each routed batch waited behind the
batch being scored, and each scored batch behind the routing. In its own process the router runs
on another core. Measured with a paced churn load of 9,000 events/s on the 2-core dev machine, p50
/ p99 latency went from 18-28 / 67-125 ms to 8-9 / 32-36 ms.

The worker and its router talk over the child's pipes, one JSON object per line:

- **stdin, worker to router.** First the configuration, ``{"settings": {...}, "specs": [...]}``.
  Then ``{"add": spec}`` for each deployment added over HTTP. End of file stops the router: it
  comes when the worker stops, or dies, even by ``kill -9``. The router then finishes its batch,
  waits for the acks, commits and exits.
- **stdout, router to worker.** ``{"unrouted": topic, "reason": code}`` for each dead letter the
  router wrote, once acknowledged, which the worker counts in its metrics; ``{"refused": topic,
  "reason": error, "count": n}`` for records the broker refused; ``{"lost": topic, "reason": error}``
  for an input whose dead letter was refused too; ``{"added": id}`` once an added deployment is
  routed.

The router keeps no state of its own: its offsets are in its consumer group. So if it ever exits
on its own, the worker logs it and starts another after ``RESTART_AFTER_S``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaProducer

from tracer.agents.router import Router
from tracer.agents.routing import RouteTable
from tracer.agents.settings import Settings, Topics
from tracer.schemas import DeploymentSpec, ReasonCode

__all__ = ["RESTART_AFTER_S", "RouterProcess", "main"]

log = logging.getLogger(__name__)

RESTART_AFTER_S = 1.0
"""The least time between two starts of the router process."""
STOP_TIMEOUT_S = 20.0
"""How long a stopping router may take to finish its batch before it is killed."""
POLL_S = 0.1
"""How often the worker's side checks whether it should stop."""
ADD_TIMEOUT_S = 10.0
"""How long :meth:`RouterProcess.add` waits for the router to confirm a new deployment."""


def _config_line(settings: Settings, specs: Iterable[DeploymentSpec]) -> bytes:
    wanted = {"broker": settings.broker, "app_id": settings.app_id, "partitions": settings.partitions,
              "topics": settings.topics.__dict__, "dead_letter_raw_bytes": settings.dead_letter_raw_bytes}  # fmt: skip
    return _line({"settings": wanted, "specs": [spec.model_dump(mode="json") for spec in specs]})


def _line(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode() + b"\n"


class RouterProcess:
    """The worker's side: starts the router process, forwards new deployments, counts its dead
    letters, restarts it if it exits on its own, and stops it when the worker stops."""

    def __init__(
        self,
        settings: Settings,
        specs: Callable[[], Iterable[DeploymentSpec]],
        on_unrouted: Callable[[str, str], None],
        on_refused: Callable[[str, str, int], None] = lambda topic, reason, count: None,
        on_lost: Callable[[str, str], None] = lambda topic, reason: None,
    ) -> None:
        self.settings = settings
        self.specs = specs
        """The deployments to route, read at each start (so a restarted router knows every one)."""
        self.on_unrouted = on_unrouted
        self.on_refused = on_refused
        self.on_lost = on_lost
        self.child: asyncio.subprocess.Process | None = None
        self._adding: dict[str, list[asyncio.Future[None]]] = {}
        """Deployments sent to the router and not yet confirmed, with who waits for them."""

    async def run(self, should_stop: Callable[[], bool]) -> None:
        """Keep a router process running until ``should_stop()``; then stop it cleanly."""
        while not should_stop():
            started = time.monotonic()
            status = await self._run_once(should_stop)
            if should_stop():
                return
            log.error("the router process exited with status %s; starting another", status)
            await asyncio.sleep(max(0.0, RESTART_AFTER_S - (time.monotonic() - started)))

    async def add(self, spec: DeploymentSpec) -> None:
        """Tell the running router about a deployment added here, and wait until it routes it.

        With no router running, there is nothing to tell: the next one reads it from ``specs``.
        """
        child = self.child
        if child is None or child.stdin is None or child.stdin.is_closing():
            return
        confirmed = asyncio.get_running_loop().create_future()
        self._adding.setdefault(spec.id, []).append(confirmed)
        child.stdin.write(_line({"add": spec.model_dump(mode="json")}))
        try:
            await asyncio.wait_for(confirmed, ADD_TIMEOUT_S)
        except TimeoutError:
            log.error("the router did not confirm deployment %s within %.0f s", spec.id, ADD_TIMEOUT_S)

    async def remove(self, deployment: str) -> None:
        """Tell the running router to stop routing a deployment, and wait until it has (a router
        started later reads ``specs``, which no longer has it)."""
        child = self.child
        if child is None or child.stdin is None or child.stdin.is_closing():
            return
        confirmed = asyncio.get_running_loop().create_future()
        self._adding.setdefault(deployment, []).append(confirmed)
        child.stdin.write(_line({"remove": deployment}))
        try:
            await asyncio.wait_for(confirmed, ADD_TIMEOUT_S)
        except TimeoutError:
            log.error(
                "the router did not confirm removing deployment %s within %.0f s", deployment, ADD_TIMEOUT_S
            )

    def _confirm(self, deployment: str | None = None) -> None:
        """Wake who waits for ``deployment`` (or for any: a router that exits is replaced by one that
        reads every deployment at its start)."""
        for waiting in [self._adding.pop(deployment, [])] if deployment else self._adding.values():
            for confirmed in waiting:
                if not confirmed.done():
                    confirmed.set_result(None)
        if deployment is None:
            self._adding.clear()

    async def _run_once(self, should_stop: Callable[[], bool]) -> int:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tracer.agents.router_process",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            start_new_session=True,  # a terminal's Ctrl-C reaches the worker, which then stops it
        )  # fmt: skip
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(_config_line(self.settings, self.specs()))
        self.child = child  # no await since specs(): no deployment added meanwhile is missed
        reading = asyncio.ensure_future(self._read(child.stdout))
        exited = asyncio.ensure_future(child.wait())
        try:
            while not should_stop() and not exited.done():
                await asyncio.wait({exited}, timeout=POLL_S)
            if not exited.done():
                child.stdin.close()  # end of file: finish the batch, commit, exit
                try:
                    await asyncio.wait_for(asyncio.shield(exited), STOP_TIMEOUT_S)
                except TimeoutError:
                    log.error("the router process did not stop within %.0f s; killing it", STOP_TIMEOUT_S)
                    child.kill()
            await reading
            return await exited
        finally:
            self.child = None
            self._confirm()
            if child.returncode is None:  # cancelled: never leave it behind
                child.kill()
                await child.wait()

    async def _read(self, stdout: asyncio.StreamReader) -> None:
        while line := await stdout.readline():
            try:
                message = json.loads(line)
                if "added" in message:
                    self._confirm(message["added"])
                elif "refused" in message:
                    self.on_refused(message["refused"], message["reason"], message["count"])
                elif "lost" in message:
                    self.on_lost(message["lost"], message["reason"])
                else:
                    self.on_unrouted(message["unrouted"], message["reason"])
            except (ValueError, KeyError, TypeError):  # something else printed: not ours, and never fatal
                log.warning("ignoring a line the router process printed: %r", line[:200])


# == the router process ==================================================================================


def _report(message: dict[str, Any]) -> None:
    sys.stdout.buffer.write(_line(message))
    sys.stdout.buffer.flush()


def _report_unrouted(topic: str, reason: ReasonCode) -> None:
    _report({"unrouted": topic, "reason": reason.value})


async def _follow(reader: asyncio.StreamReader, routes: RouteTable, stop: asyncio.Event) -> None:
    """Apply the worker's ``add`` and ``remove`` lines and confirm each; stop at end of file."""
    while line := await reader.readline():
        message = json.loads(line)
        if "remove" in message:
            routes.remove(message["remove"])
            _report({"added": message["remove"]})  # confirmed as an add is
            continue
        spec = DeploymentSpec.model_validate(message["add"])
        routes.add(spec)
        _report({"added": spec.id})
    stop.set()


async def _serve() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    config = json.loads(await reader.readline())
    given = config["settings"]
    settings = Settings(broker=given["broker"], app_id=given["app_id"], partitions=given["partitions"],
                        topics=Topics(**given["topics"]), dead_letter_raw_bytes=given["dead_letter_raw_bytes"])  # fmt: skip
    specs = [DeploymentSpec.model_validate(spec) for spec in config["specs"]]
    routes = RouteTable(specs, settings.topics.labels)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    following = asyncio.ensure_future(_follow(reader, routes, stop))
    producer = AIOKafkaProducer(bootstrap_servers=settings.broker, linger_ms=0, max_batch_size=262_144,
                                max_request_size=16_777_216)  # fmt: skip
    await producer.start()
    try:
        await Router(
            settings, routes, producer, _report_unrouted,
            on_refused=lambda topic, reason, count: _report({"refused": topic, "reason": reason, "count": count}),
            on_lost=lambda topic, reason: _report({"lost": topic, "reason": reason}),
        ).run(stop.is_set)  # fmt: skip
    finally:
        following.cancel()
        await producer.stop()


def main() -> None:
    """The router process: configured by the first line of stdin, stopped by its end (see above)."""
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s router %(levelname)s %(name)s: %(message)s"
    )
    from tracer.agents import log_throttle

    log_throttle.install()  # a broker outage: one line a minute per repeated error, with its count
    asyncio.run(_serve())


if __name__ == "__main__":
    main()
