"""Deploy a blueprint over HTTP; promote a shadow or roll a deployment back.

``POST /deployments``, in order:

1. plan the spec (:func:`plan_spec`, pure): the blueprint and its parameters are checked; with a
   dataset, the column mapping, label source and key field default to what the dataset shows;
2. train (:func:`train`, in a thread, on a ``LiveDeployment`` nobody else sees yet): a progressive
   replay of the dataset through the live model, so the trained model is the one that goes live;
   its progress (rows replayed out of the dataset's) is on ``GET /deployments/{id}/progress``
   meanwhile (:mod:`~tracer.agents.api.progress`);
3. create the input topics and publish the spec and its first version to ``tracer.registry``;
4. install it in this worker: the scoring service owns it (its routed log starts at the routed
   partition's current end), the router routes its rows and labels (it subscribes to an input
   topic it did not read yet, from the topic's earliest offset) before the response goes out,
   and the scorer checkpoints it on its next pass, so the trained model survives a restart.
"""

from __future__ import annotations

import asyncio
import math
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import pandas as pd
from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from tracer.agents.api.context import ApiContext, now_ms
from tracer.agents.api.errors import ApiError, validation_detail
from tracer.agents.api.models import DeploymentResponse, DeployRequest, ValidationReport
from tracer.agents.deployments_file import check_spec
from tracer.agents.registry_topic import publish
from tracer.agents.routing import routed_partition
from tracer.agents.scoring import Owned
from tracer.agents.topics import ensure_topics
from tracer.blueprints import registry
from tracer.blueprints.analysis import analyze
from tracer.blueprints.errors import BlueprintNotFound, InputError, ParameterError
from tracer.blueprints.inputs import resolve_columns
from tracer.online_models.deployment import ReplayReport
from tracer.online_models.live import LiveDeployment
from tracer.schemas import DeploymentSpec, LabelSource, ModelVersion

__all__ = ["create_deployment", "describe", "plan_spec", "promote", "rollback", "train", "validation_report"]

T = TypeVar("T")
REPLAY_BATCH_ROWS = 256
"""Rows scored together in a training replay (sequential blueprints replay one row at a time)."""
BROKER_TIMEOUT_S = 20.0


def plan_spec(
    request: DeployRequest, *, deployment_id: str, default_topic: str, frame: pd.DataFrame | None
) -> DeploymentSpec:
    """The spec to deploy: the request, with defaults taken from the dataset. ApiError 422 if invalid."""
    try:
        blueprint = registry.get(request.blueprint)
        blueprint.resolve_params(request.params)
    except (BlueprintNotFound, ParameterError) as error:
        raise ApiError(422, "invalid_deployment", str(error)) from None
    inputs = {spec.name for spec in blueprint.inputs()}
    if request.column_mapping is not None:
        mapping = dict(request.column_mapping)
    elif frame is not None:
        suggestion = analyze({"dataset": frame}, [blueprint])[0]
        mapping = {name: column for name, column in suggestion.column_mapping.items() if name in inputs}
    else:
        mapping = {}
    columns: dict[str, str | None] = {}
    if frame is not None:
        try:
            columns = resolve_columns(blueprint, frame.columns, mapping).columns
        except InputError as error:
            raise ApiError(422, "dataset_incompatible", str(error)) from None
        _check_outcome(blueprint, columns)
    labels = request.labels
    if labels is None:
        label_input = blueprint.label.column
        label_column = columns.get(label_input.name) if label_input is not None else None
        if label_input is None:
            labels = LabelSource(mode="self")
        elif label_column is not None:
            labels = LabelSource(mode="inline", field=label_column)
        else:
            labels = LabelSource(mode="delayed")
    try:
        spec = DeploymentSpec(
            id=deployment_id,
            blueprint=blueprint.id,
            params=request.params,
            input_topics=request.input_topics or [default_topic],
            column_mapping=mapping,
            key_field=request.key_field or columns.get(blueprint.entity_input) or blueprint.entity_input,
            labels=labels,
            shadows=request.shadows,
            drift=request.drift,
        )
    except ValidationError as error:
        raise ApiError(422, "invalid_deployment", validation_detail(error, where="deployment")) from None
    problems = check_spec(spec)
    if problems:
        raise ApiError(422, "invalid_deployment", "; ".join(problems))
    return spec


def _check_outcome(blueprint: Any, columns: Mapping[str, str | None]) -> None:
    """A dataset given to train on must carry the outcome, unless a rule over its columns labels it."""
    label = blueprint.label
    if label.column is None or columns.get(label.column.name) is not None:
        return
    if label.rule is not None and all(columns.get(name) for name in label.rule_needs):
        return
    looked = ", ".join(label.column.accepted_names)
    raise ApiError(
        422,
        "dataset_incompatible",
        f"{blueprint.id}: the dataset has no {label.column.name} column to learn from (looked for: {looked}); "
        "map it with column_mapping, or deploy without a dataset and send outcomes to tracer.labels",
    )


def train(
    spec: DeploymentSpec,
    frame: pd.DataFrame | None,
    *,
    created_at: int,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[LiveDeployment, ReplayReport | None]:
    """A new live deployment, replay-trained on ``frame`` if given. Blocking: run it in a thread.

    ``progress(rows_done, rows_total)`` is called after each replayed batch.
    """
    try:
        live = LiveDeployment(spec, created_at=created_at)
    except InputError as error:
        raise ApiError(422, "invalid_deployment", str(error)) from None
    if frame is None:
        return live, None
    batch_rows = 1 if live.sequential else REPLAY_BATCH_ROWS
    try:
        report = live.live.replay(frame, batch_size=batch_rows, progress=progress)
    except InputError as error:
        raise ApiError(422, "dataset_incompatible", str(error)) from None
    if report.n_scored == 0:
        examples = "; ".join(report.example_errors[:3])
        raise ApiError(422, "dataset_incompatible", f"no row of the dataset could be scored: {examples}")
    first = live.history.records[0]
    live.history.records[0] = first.model_copy(update={"metrics": _finite(report.metrics)})
    live.attach_version_shadows()  # version 1 is the trained model: shadows pinned to it start from it
    return live, report


def _finite(metrics: dict[str, float]) -> dict[str, float]:
    return {name: value for name, value in metrics.items() if math.isfinite(value)}


def validation_report(report: ReplayReport) -> ValidationReport:
    """The API's view of a training replay."""
    return ValidationReport(
        rows=report.n_rows,
        scored=report.n_scored,
        learned=report.n_learned,
        errors=report.n_errors,
        errors_by_reason=dict(report.errors_by_reason),
        example_errors=list(report.example_errors),
        metrics={name: value if math.isfinite(value) else None for name, value in report.metrics.items()},
        seconds=round(report.seconds, 3),
    )


async def _broker(ctx: ApiContext, what: str, operation: Awaitable[T]) -> T:
    try:
        return await asyncio.wait_for(operation, BROKER_TIMEOUT_S)
    except Exception as error:
        raise ApiError(
            503,
            "broker_unavailable",
            f"could not {what} on {ctx.settings.broker}: {type(error).__name__}: {error}",
        ) from None


async def create_deployment(ctx: ApiContext, request: DeployRequest) -> DeploymentResponse:
    """Plan, train, publish and install a deployment (module docstring). Raises ApiError."""
    service, settings = ctx.service, ctx.settings
    try:
        blueprint_id = registry.get(request.blueprint).id
    except BlueprintNotFound as error:
        raise ApiError(422, "invalid_deployment", str(error)) from None
    deployment_id = request.id or f"{blueprint_id.replace('_', '-')}-{secrets.token_hex(3)}"
    if deployment_id in service.specs or deployment_id in ctx.creating or deployment_id in ctx.stopped:
        raise ApiError(409, "deployment_exists", f"deployment {deployment_id!r} exists; choose another id")
    if request.dataset is None and request.input_topics is None:
        raise ApiError(422, "invalid_deployment", "give a dataset to train on, input_topics to read, or both")
    frame = ctx.datasets.get(request.dataset).frame if request.dataset is not None else None
    ctx.creating.add(deployment_id)
    board = ctx.progress
    board.start(deployment_id, len(frame) if frame is not None else None)
    try:
        default_topic = f"{settings.topic_prefix}tracer.inputs.{deployment_id}"
        async with ctx.trainings:
            board.phase(deployment_id, "training")
            spec = await asyncio.to_thread(
                plan_spec, request, deployment_id=deployment_id, default_topic=default_topic, frame=frame
            )
            spec = settings.local_spec(spec)
            live, report = await asyncio.to_thread(
                train, spec, frame, created_at=now_ms(), progress=board.reporter(deployment_id)
            )
        board.phase(deployment_id, "publishing")
        topics = {topic: settings.partitions for topic in spec.input_topics}
        await _broker(ctx, "create the input topics", ensure_topics(settings.broker, topics))
        await _broker(
            ctx,
            "publish the deployment to the registry",
            publish(settings.broker, settings.topics.registry, [spec, *live.history.records]),
        )
        routed_end = await _broker(ctx, "read the routed topic's end", _routed_end(ctx, deployment_id))
        _install(ctx, spec, live, routed_end)
        await ctx.service.add_route(spec)
    except BaseException:
        board.phase(deployment_id, "failed")
        raise
    finally:
        ctx.creating.discard(deployment_id)
    if report is not None:
        ctx.replays[spec.id] = report
    board.phase(deployment_id, "live")
    return describe(ctx, spec.id)


def _install(ctx: ApiContext, spec: DeploymentSpec, live: LiveDeployment, next_offset: int) -> None:
    """Make the deployment live here (the caller then has the router route it).

    The scorer checkpoints it on its next pass (``_checkpoint_due`` sees an event not yet
    checkpointed, long ago), at a point between batches, so the trained model survives a restart.
    """
    service = ctx.service
    owned = Owned(live, next_offset=next_offset, events_since_checkpoint=1, checkpointed_at=-math.inf)
    # Copy-on-write: the scorer may be iterating these dicts across an await.
    service.specs = {**service.specs, spec.id: spec}
    service.owned = {**service.owned, spec.id: owned}
    ctx.metrics.register_deployment(spec.id, model_version=live.model_version)


async def _routed_end(ctx: ApiContext, deployment_id: str) -> int:
    """The end offset of the deployment's routed partition: where its log starts (nothing before is its)."""
    settings = ctx.settings
    partition = TopicPartition(settings.topics.routed, routed_partition(deployment_id, settings.partitions))
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.broker, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([partition])
    finally:
        await consumer.stop()
    return int(ends[partition])


def describe(ctx: ApiContext, deployment_id: str) -> DeploymentResponse:
    """A deployment as ``GET /deployments/{id}`` shows it, running or stopped; 404 if unknown."""
    spec = ctx.service.specs.get(deployment_id)
    stopped = ctx.stopped.get(deployment_id)
    if spec is None and stopped is not None:
        report = ctx.replays.get(deployment_id)
        return DeploymentResponse(
            spec=stopped.spec, model_version=stopped.live_version, owned_here=False, streaming=False,
            validation=validation_report(report) if report is not None else None,
            status="stopped", stopped_at=stopped.stopped_at,
        )  # fmt: skip
    if spec is None:
        raise ApiError(404, "deployment_not_found", f"no deployment {deployment_id!r}; {ctx.known()}")
    owned = ctx.service.owned.get(deployment_id)
    streaming = all(topic in ctx.service.routes.by_topic for topic in spec.input_topics)
    report = ctx.replays.get(deployment_id)
    return DeploymentResponse(
        spec=spec,
        model_version=owned.live.model_version if owned is not None else None,
        owned_here=owned is not None,
        streaming=streaming,
        validation=validation_report(report) if report is not None else None,
    )


async def rollback(ctx: ApiContext, deployment_id: str, to_version: int | None) -> ModelVersion:
    """Restore an earlier model as a new version, record it in the registry, have the scorer checkpoint it.

    Raises ApiError: 404/503 (deployment), 409 (nothing to roll back to), 503 (the registry write failed;
    the rollback is live in this worker all the same, as the detail says).
    """
    owned = ctx.owned(deployment_id)
    try:
        version = owned.live.rollback(now_ms=now_ms(), to_version=to_version)
    except ValueError as error:
        raise ApiError(409, "rollback_unavailable", str(error)) from None
    await _record(ctx, owned, version)
    return version


async def promote(ctx: ApiContext, deployment_id: str, shadow: str) -> ModelVersion:
    """Make a shadow's model live as a new version, with its agreement evidence; like :func:`rollback`.

    Raises ApiError: 404 (deployment or shadow), 503 (owner elsewhere, or the registry write failed).
    """
    owned = ctx.owned(deployment_id)
    try:
        version = owned.live.promote(shadow, now_ms=now_ms())
    except KeyError as error:
        raise ApiError(404, "shadow_not_found", str(error.args[0])) from None
    await _record(ctx, owned, version)
    return version


async def _record(ctx: ApiContext, owned: Owned, version: ModelVersion) -> None:
    """A new live version: metrics, a checkpoint on the scorer's next pass, and the registry."""
    owned.events_since_checkpoint = max(owned.events_since_checkpoint, 1)
    owned.checkpointed_at = -math.inf  # the scorer checkpoints the new model on its next pass
    ctx.metrics.set_model_version(version.deployment, version.version)
    settings = ctx.settings
    await _broker(
        ctx,
        f"record version {version.version} (live in this worker now) in the registry",
        publish(settings.broker, settings.topics.registry, [version]),
    )
