"""Put a worker together: topics, the registry, the Faust app, metrics and the scoring service."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from tracer.agents.api import attach_api
from tracer.agents.api.lifecycle import read_stopped, restore_stopped
from tracer.agents.app import make_app
from tracer.agents.composites import CompositeStage, load_composites, publish_composites, read_composites
from tracer.agents.deployments_file import check_spec, load_deployments
from tracer.agents.deployments_file import load_composites as composites_of_file
from tracer.agents.metrics import TracerMetrics
from tracer.agents.registry_topic import publish, read_registry
from tracer.agents.scoring import ScoringService
from tracer.agents.settings import Settings
from tracer.agents.snapshot_pipe import attach_snapshot_pipe
from tracer.agents.topics import ensure_topics, topic_configs, tracer_topics
from tracer.agents.worker import run_worker
from tracer.online_models.composite_table import CompositeTable
from tracer.schemas import DeploymentSpec

__all__ = ["prepare", "start_worker"]

log = logging.getLogger(__name__)


async def prepare(settings: Settings, deployments_file: Path | None) -> list[DeploymentSpec]:
    """Create the topics, publish the file's deployments, and return the registry's full set."""
    declared = (
        [settings.local_spec(spec) for spec in load_deployments(deployments_file)] if deployments_file else []
    )
    inputs = {topic for spec in declared for topic in spec.input_topics}
    await ensure_topics(settings.broker, tracer_topics(settings, inputs), configs=topic_configs(settings))
    if declared:
        await publish(settings.broker, settings.topics.registry, declared)
    if deployments_file is not None:
        composites = composites_of_file(deployments_file, declared)
        if composites:
            await publish_composites(settings.broker, settings.topics.registry, composites)
    specs, _ = await read_registry(settings.broker, settings.topics.registry)
    runnable = []
    for spec in specs:
        problems = check_spec(spec)
        if problems:
            log.error("skipping deployment %s from the registry: %s", spec.id, "; ".join(problems))
        else:
            runnable.append(spec)
    await ensure_topics(settings.broker, {t: settings.partitions for s in runnable for t in s.input_topics})
    return runnable


def start_worker(
    *,
    broker: str,
    app_id: str,
    web_port: int,
    partitions: int,
    deployments_file: Path | None,
    dev: bool = False,
) -> None:
    """Prepare, then run the worker in this process until it is stopped.

    Raises ValueError (:class:`~tracer.agents.settings.MissingSecretError`) before touching the
    broker if the checkpoint key or the API keys are not configured and ``dev`` (``--dev``,
    ``TRACER_DEV=1``) is off."""
    settings = Settings.from_env(
        broker=broker, app_id=app_id, web_port=web_port, partitions=partitions, dev=dev or None
    )
    settings.require_secrets()
    specs = asyncio.run(prepare(settings, deployments_file))
    stopped = asyncio.run(read_stopped(settings.broker, settings.topics.registry))
    for spec in specs:
        if spec.id in stopped:  # declared in the file again: a stop through the API holds
            log.warning(
                "deployment %s was stopped through the API; not running it (deploy a new id)", spec.id
            )
    specs = [spec for spec in specs if spec.id not in stopped]
    if not specs and deployments_file is None:  # an empty file: deployments come over the HTTP API
        raise ValueError("no deployments to run: pass --deployments FILE (see examples/deployments.yaml)")
    app = make_app(settings)
    topics = settings.topics
    attach_snapshot_pipe(app, source=topics.snapshots, sink=topics.snapshots_valid, dlq=topics.dlq)
    metrics = TracerMetrics()
    service = ScoringService(settings, specs, secret=settings.secret(), metrics=metrics)
    declared = asyncio.run(read_composites(settings.broker, settings.topics.registry))
    stage = CompositeStage(
        settings, CompositeTable(load_composites(declared, service.specs)), metrics.registry
    )
    context = attach_api(
        app,
        service=service,
        metrics=metrics,
        settings=settings,
        api_keys=settings.http_api_keys(),
        composites=stage,
    )
    restore_stopped(context, service, stopped)
    run_worker(app, service, stage)
