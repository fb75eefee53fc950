"""The compacted ``tracer.registry`` topic: deployments and their model versions.

Keys: ``deployment/<id>`` holds a ``DeploymentSpec``; ``version/<id>/<n>`` holds a ``ModelVersion``.
Every worker reads it at start, so all workers see the same set of deployments.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer

from tracer.agents.topics import read_compacted
from tracer.schemas import DeploymentSpec, ModelVersion

__all__ = ["publish", "read_registry", "write_keyed"]


async def write_keyed(bootstrap: str, topic: str, records: Iterable[tuple[str, bytes | None]]) -> None:
    """Write ``(key, value)`` records in order (``None``: a tombstone) and wait until all are acknowledged."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        sends = [await producer.send(topic, value, key=key.encode()) for key, value in records]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def publish(bootstrap: str, topic: str, records: Iterable[DeploymentSpec | ModelVersion]) -> None:
    """Write specs and versions under their registry keys and wait for the acknowledgements."""
    await write_keyed(bootstrap, topic, (
        (f"deployment/{r.id}" if isinstance(r, DeploymentSpec) else f"version/{r.deployment}/{r.version}",
         r.model_dump_json().encode())
        for r in records
    ))  # fmt: skip


async def read_registry(bootstrap: str, topic: str) -> tuple[list[DeploymentSpec], list[ModelVersion]]:
    """Every deployment spec and model version in the registry, versions in order."""
    latest = await read_compacted(bootstrap, topic)
    specs = [
        DeploymentSpec.model_validate_json(v)
        for k, v in sorted(latest.items())
        if k.startswith("deployment/")
    ]
    versions = [ModelVersion.model_validate_json(v) for k, v in latest.items() if k.startswith("version/")]
    return specs, sorted(versions, key=lambda v: (v.deployment, v.version))
