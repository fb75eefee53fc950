"""The first agent: validate market snapshots and forward the valid ones.

Every message has a fate: a valid ``MarketSnapshot`` goes to the output topic keyed by symbol,
anything else becomes a ``DeadLetter`` on the dead-letter topic with its reason code, raw bytes
and source coordinates. One bad message never stops the agent.
"""

from __future__ import annotations

import logging
from typing import Any

import faust

from tracer.agents.deadletters import dead_letter
from tracer.schemas import MarketSnapshot, ReasonCode
from tracer.schemas.decode import decode

__all__ = ["attach_snapshot_pipe"]

log = logging.getLogger(__name__)


def attach_snapshot_pipe(app: faust.App, *, source: str, sink: str, dlq: str) -> Any:
    """Register the snapshot pipe agent on ``app``; returns the agent."""
    source_topic = app.topic(source)
    sink_topic = app.topic(sink)
    dlq_topic = app.topic(dlq)

    @app.agent(source_topic, name=f"snapshot_pipe:{source}")
    async def snapshot_pipe(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            message = event.message
            try:
                result = decode(MarketSnapshot, message.value)
                if isinstance(result, MarketSnapshot):
                    value = result.model_dump_json(exclude_none=True).encode()
                    await sink_topic.send(key=result.symbol.encode(), value=value)
                    continue
                reason, error = result.reason, result.error
            except Exception as exc:
                log.exception(
                    "unexpected error on %s[%d]@%d", message.topic, message.partition, message.offset
                )
                reason, error = ReasonCode.SCORING_ERROR, f"{type(exc).__name__}: {exc}"
            letter = dead_letter(
                reason,
                error,
                raw=message.value,
                key=message.key,
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
            )
            await dlq_topic.send(key=message.key, value=letter)

    return snapshot_pipe
