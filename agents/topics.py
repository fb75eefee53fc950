"""Create topics before any worker subscribes to them.

A Faust worker that starts before its source topic exists logs "Ignoring missing topic" and
never reads it, even after a producer creates it; so every command that starts a worker first
creates the topics it reads and writes, with the partition count we mean.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from tracer.agents.settings import Settings

__all__ = ["ensure_topics", "tracer_topics"]

log = logging.getLogger(__name__)


def tracer_topics(settings: Settings, extra: Iterable[str] = ()) -> dict[str, int]:
    """Tracer's own topics and ``extra`` input topics, each with its partition count."""
    topics = {name: settings.partitions for name in (*settings.topics.__dict__.values(), *extra)}
    topics[settings.topics.registry] = 1
    return topics


async def ensure_topics(
    bootstrap: str, partitions: Mapping[str, int], *, compacted: Iterable[str] = ()
) -> list[str]:
    """Create the topics that don't exist yet; returns the names created. Existing ones are left alone."""
    compact = set(compacted)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                name,
                num_partitions=count,
                replication_factor=1,
                topic_configs={"cleanup.policy": "compact"} if name in compact else {},
            )
            for name, count in partitions.items()
            if name not in existing
        ]
        if not wanted:
            return []
        response = await admin.create_topics(wanted)
        created = []
        for name, code, *_ in response.topic_errors:
            if code == 0:
                created.append(name)
            elif code != TopicAlreadyExistsError.errno:
                raise RuntimeError(f"could not create topic {name!r}: Kafka error code {code}")
        # Metadata for new topics reaches the broker's cache asynchronously.
        for _ in range(50):
            if set(created) <= set(await admin.list_topics()):
                break
            await asyncio.sleep(0.1)
        log.info("created topics %s", ", ".join(created))
        return created
    finally:
        await admin.close()
