"""``tracer topics create``: create every topic a deployments file needs, before any worker starts.

Tracer creates its own topics (``tracer.*``, under ``TRACER_TOPIC_PREFIX``) whenever a worker starts,
and the input topics of the deployments it runs. Input topics are the user's: create them yourself,
or with this command, which creates Tracer's topics and every input topic the file names, so that a
producer can write before the first worker starts. (Tracer's brokers do not create a topic on first
use: a producer to a missing topic waits for its metadata until its request timeout, 40 s in
aiokafka, and then fails with ``UnknownTopicOrPartitionError``.) Topics that exist are reported and
left as they are.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from tracer.agents.settings import Settings
from tracer.agents.topics import ensure_topics, topic_configs, tracer_topics

__all__ = ["create_topics", "topics"]


async def create_topics(settings: Settings, deployments_file: Path | None) -> tuple[list[str], list[str]]:
    """Create Tracer's topics and the input topics of ``deployments_file``; returns the names
    (created, already there), each sorted. Raises ValueError if the file is invalid."""
    # Imported here: the blueprints import pandas, which `tracer worker` must import first, without Arrow.
    from tracer.agents.deployments_file import load_deployments

    specs = (
        [settings.local_spec(spec) for spec in load_deployments(deployments_file)] if deployments_file else []
    )
    wanted = tracer_topics(settings, {topic for spec in specs for topic in spec.input_topics})
    created = await ensure_topics(settings.broker, wanted, configs=topic_configs(settings))
    return sorted(created), sorted(set(wanted) - set(created))


@click.group()
def topics() -> None:
    """Kafka topics: Tracer creates its own; input topics are yours, or `tracer topics create`'s."""


@topics.command("create")
@click.option(
    "--deployments", "deployments_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
    help="YAML file of deployments: their input topics are created too. Without it, Tracer's own topics only.",
)  # fmt: skip
@click.option("--broker", envvar="TRACER_KAFKA_BOOTSTRAP", default="127.0.0.1:9092", show_default=True)
@click.option(
    "--partitions", type=int, default=4, show_default=True,
    help="Partitions of each topic created (the registry has one); use the worker's --partitions.",
)  # fmt: skip
def topics_create(deployments_file: Path | None, broker: str, partitions: int) -> None:
    """Create every topic a deployments file needs, inputs included (idempotent).

    Each topic is printed with "created" or "exists"; existing topics are left as they are."""
    settings = Settings.from_env(broker=broker, partitions=partitions)
    try:
        created, existing = asyncio.run(create_topics(settings, deployments_file))
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    counts = tracer_topics(settings)
    for name in created:
        click.echo(f"created  {name} ({counts.get(name, partitions)} partitions)")
    for name in existing:
        click.echo(f"exists   {name}")
