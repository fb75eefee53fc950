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

__all__ = ["publish", "read_registry"]


async def publish(bootstrap: str, topic: str, records: Iterable[DeploymentSpec | ModelVersion]) -> None:
    """Write specs and versions under their registry keys and wait for the acknowledgements."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        sends = []
        for record in records:
            if isinstance(record, DeploymentSpec):
                key = f"deployment/{record.id}"
            else:
                key = f"version/{record.deployment}/{record.version}"
            sends.append(await producer.send(topic, record.model_dump_json().encode(), key=key.encode()))
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


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
