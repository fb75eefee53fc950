"""``AsyncTracerClient``: the same verbs as :class:`~tracer.client.TracerClient`, for asyncio (httpx)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar, overload

import httpx

from tracer.client import _core
from tracer.client._core import DEFAULT_URL, RETRY_STATUSES, Call, DeployProgress, FileLike, Progress, Upload
from tracer.client.errors import TracerConnectionError, TracerError, TracerTimeoutError
from tracer.client.models import (
    BlueprintSummary,
    Composite,
    Dataset,
    DatasetSummary,
    Deployment,
    DeploymentProgress,
    DeploymentSummary,
    ModelVersion,
    Prediction,
    Suggestion,
)
from tracer.client.sync import API_KEY_HEADER

__all__ = ["AsyncCompositeModel", "AsyncModel", "AsyncTracerClient"]

T = TypeVar("T")


class AsyncModel:
    """A deployed blueprint (what ``deploy`` returns): predict with it, read its versions, roll it back."""

    def __init__(self, client: AsyncTracerClient, deployment: Deployment) -> None:
        self.client = client
        self.deployment = deployment

    @property
    def id(self) -> str:
        return self.deployment.id

    def __repr__(self) -> str:
        return f"AsyncModel(id={self.id!r}, blueprint={self.deployment.blueprint!r}, status={self.deployment.status!r})"

    async def predict(self, input: Mapping[str, Any]) -> Prediction:
        """Score one row with the live model."""
        return await self.client.predict(self, input)

    async def versions(self) -> list[ModelVersion]:
        """Every model version, oldest first; the last one is live."""
        return await self.client.versions(self)

    async def rollback(self, to_version: int | None = None) -> ModelVersion:
        """Restore an earlier model (default: the live one's parent) as a new version."""
        return await self.client.rollback(self, to_version)

    async def promote(self, shadow: str) -> ModelVersion:
        """Make a shadow's model live as a new version."""
        return await self.client.promote(self, shadow)

    async def progress(self) -> DeploymentProgress:
        """How far its creation has come (``live`` once it serves)."""
        return await self.client.deployment_progress(self)

    async def refresh(self) -> AsyncModel:
        """Read the deployment again (its live version, status...); returns self."""
        self.deployment = (await self.client.get_deployment(self)).deployment
        return self

    async def stop(self) -> Deployment:
        """Stop scoring (``DELETE /deployments/{id}``); versions stay readable."""
        self.deployment = await self.client.stop_deployment(self)
        return self.deployment


class AsyncCompositeModel:
    """A composite (``create_composite``): ``analyze`` asks all its components at once."""

    def __init__(self, client: AsyncTracerClient, composite: Composite) -> None:
        self.client = client
        self.composite = composite

    @property
    def id(self) -> str:
        return self.composite.id

    async def analyze(self, input: Mapping[str, Any]) -> dict[str, Any]:
        """The composite's decision for one entity: recommended protocols, risk, ..."""
        return await self.client._run(_core.analyze_composite(self, input))


class AsyncTracerClient:
    """An asyncio client of one Tracer worker's HTTP API (the verbs of :class:`~tracer.client.TracerClient`).

    ``api_key`` and ``base_url`` default to ``TRACER_API_KEY`` and ``TRACER_URL`` (then
    ``http://127.0.0.1:6066``). ``timeout`` is per request, in seconds. 429 and 503 answers are retried
    up to ``max_retries`` times (waiting ``Retry-After``, or a backoff from ``backoff_s`` doubling up to
    ``max_backoff_s``); other errors raise at once (:mod:`tracer.client.errors`). Close it, or use it
    in an ``async with`` block.
    """

    progress_interval_s: float = _core.PROGRESS_INTERVAL_S
    """How often ``deploy(on_progress=...)`` polls the deployment's progress."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        key = api_key or os.environ.get("TRACER_API_KEY")
        if not key:
            raise ValueError("give an API key (api_key=..., or TRACER_API_KEY in the environment)")
        self.base_url = (base_url or os.environ.get("TRACER_URL") or DEFAULT_URL).rstrip("/")
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={**(headers or {}), API_KEY_HEADER: key},
            timeout=timeout,
            transport=transport,
        )

    # -- plumbing --------------------------------------------------------------------------------

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncTracerClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _send(self, build: Any, retryable: bool = True) -> httpx.Response:
        """Send ``build()``'s request, retrying 429 and 503; raise the API's error for any other."""
        attempt = 0
        while True:
            try:
                response = await self._http.send(build())
            except httpx.TimeoutException as error:
                raise TracerTimeoutError(
                    0, "timeout", f"no answer from {self.base_url}: {error!r}"
                ) from error
            except httpx.TransportError as error:
                raise TracerConnectionError(0, "connection_failed", f"{self.base_url}: {error!r}") from error
            if response.status_code < 400:
                return response
            await response.aread()
            try:
                _core.raise_for(response)
            except TracerError as error:
                if response.status_code not in RETRY_STATUSES or attempt >= self.max_retries or not retryable:
                    raise
                await asyncio.sleep(_core.retry_delay(attempt, error, self.backoff_s, self.max_backoff_s))
                attempt += 1

    async def _run(self, call: Call[T]) -> T:
        http = self._http
        response = await self._send(
            lambda: http.build_request(call.method, call.path, json=call.json, params=call.params)
        )
        return call.parse(response.json() if response.status_code != 204 else None)

    # -- the documents' verbs --------------------------------------------------------------------

    @overload
    async def upload_data(
        self, file: FileLike, *, name: str | None = ..., content_type: str | None = ...,
        on_progress: Progress | None = ...,
    ) -> Dataset: ...  # fmt: skip
    @overload
    async def upload_data(
        self, file: list[FileLike] | tuple[FileLike, ...], *, name: str | None = ..., content_type: str | None = ...,
        on_progress: Progress | None = ...,
    ) -> list[Dataset]: ...  # fmt: skip
    async def upload_data(
        self,
        file: FileLike | list[FileLike] | tuple[FileLike, ...],
        *,
        name: str | None = None,
        content_type: str | None = None,
        on_progress: Progress | None = None,
    ) -> Dataset | list[Dataset]:
        """Upload a dataset (CSV, TSV, JSON lines or Parquet): a path (streamed from disk, never read
        whole), bytes or a binary file object; or a list of them (one dataset each, in order).
        ``on_progress(sent, total)`` is called after each MiB sent."""
        files, single = _core.uploads(file)
        uploaded = []
        http = self._http
        for each in files:
            upload = Upload(each, name=name if single else None, content_type=content_type)
            params, headers = upload.request()
            response = await self._send(
                lambda upload=upload, params=params, headers=headers: http.build_request(
                    "POST", "/datasets", params=params, headers=headers, content=upload.achunks(on_progress)
                ),
                retryable=upload.retryable,
            )
            uploaded.append(Dataset.from_json(response.json()))
        return uploaded[0] if single else uploaded

    async def analyze_data(self, datasets: Dataset | str | Sequence[Dataset | str]) -> list[Suggestion]:
        """Blueprints that fit the dataset(s), best first (each suggestion names its dataset)."""
        given = [datasets] if isinstance(datasets, Dataset | str) else list(datasets)
        suggestions = [s for dataset in given for s in await self._run(_core.analyze(dataset))]
        return sorted(suggestions, key=lambda s: -s.compatibility) if len(given) > 1 else suggestions

    async def list_blueprints(
        self, category: str | None = None, search: str | None = None
    ) -> list[BlueprintSummary]:
        """The archive, filtered by category and/or text."""
        return await self._run(_core.list_blueprints(category, search))

    async def get_blueprint(self, blueprint_id: str | BlueprintSummary) -> dict[str, Any]:
        """A blueprint's inputs, output schema, parameters and measured performance."""
        return await self._run(_core.get_blueprint(blueprint_id))

    async def deploy(
        self,
        blueprint: str | BlueprintSummary,
        dataset: Dataset | str | None = None,
        parameters: Mapping[str, Any] | None = None,
        *,
        id: str | None = None,
        input_topics: Sequence[str] | None = None,
        column_mapping: Mapping[str, str] | None = None,
        key_field: str | None = None,
        labels: Mapping[str, Any] | None = None,
        shadows: Sequence[Mapping[str, Any]] | None = None,
        drift: Mapping[str, Any] | None = None,
        on_progress: DeployProgress | None = None,
    ) -> AsyncModel:
        """Train a blueprint on a dataset (and/or attach it to input topics), publish and serve it.

        ``on_progress(rows_done, rows_total)`` is called as the training replay goes on (the client
        polls ``GET /deployments/{id}/progress`` while the deploy runs; without an ``id`` it picks
        one), and last with ``(rows, rows)`` once the model is live."""
        if on_progress is not None and dataset is not None and id is None:
            id = _core.new_deployment_id(blueprint)
        options = {"id": id, "input_topics": list(input_topics) if input_topics else None,
                   "column_mapping": dict(column_mapping) if column_mapping else None,
                   "key_field": key_field, "labels": dict(labels) if labels else None,
                   "shadows": [dict(x) for x in shadows] if shadows else None,
                   "drift": dict(drift) if drift else None}  # fmt: skip
        call = _core.deploy(blueprint, dataset, parameters, options)
        if on_progress is None or id is None or dataset is None:
            return AsyncModel(self, await self._run(call))
        relay = _core.ProgressRelay(on_progress)
        posted = asyncio.ensure_future(self._run(call))
        try:
            while not (await asyncio.wait({posted}, timeout=self.progress_interval_s))[0]:
                relay.seen(await self._poll_progress(id))
        finally:
            if not posted.done():
                posted.cancel()
        deployment = posted.result()
        relay.finish(deployment)
        return AsyncModel(self, deployment)

    async def _poll_progress(self, deployment_id: str) -> DeploymentProgress | None:
        """One look at the progress, no retry: None if there is nothing to show (yet)."""
        try:
            response = await self._http.get(f"/deployments/{_core.segment(deployment_id)}/progress")
        except httpx.HTTPError:
            return None
        return _core.read_progress(response)

    async def predict(self, model: AsyncModel | Deployment | str, input: Mapping[str, Any]) -> Prediction:
        """Score one row with a deployment's live model."""
        return await self._run(_core.predict(model, input))

    async def create_composite(
        self,
        designation: str,
        components: Sequence[str | AsyncModel],
        objective: str,
        *,
        entity: str | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> AsyncCompositeModel:
        """Combine deployments that share an entity under an objective (composites, issue 21).
        ``components`` are deployments (or blueprint ids each run by one deployment); ``overrides``
        change the objective's documented assumptions."""
        call = _core.create_composite(designation, components, objective, entity, overrides)
        return AsyncCompositeModel(self, await self._run(call))

    async def get_composite(self, composite_id: str) -> AsyncCompositeModel:
        """A composite declared before (in the deployments file, or by another client)."""
        return AsyncCompositeModel(self, await self._run(_core.get_composite(composite_id)))

    async def list_composites(self) -> list[Composite]:
        """Every composite the worker reads."""
        return await self._run(_core.list_composites())

    # -- more of the API -------------------------------------------------------------------------

    async def list_datasets(self) -> list[DatasetSummary]:
        return await self._run(_core.list_datasets())

    async def get_dataset(self, dataset: Dataset | str) -> Dataset:
        return await self._run(_core.get_dataset(dataset))

    async def delete_dataset(self, dataset: Dataset | DatasetSummary | str) -> None:
        await self._run(_core.delete_dataset(dataset))

    async def list_deployments(self) -> list[DeploymentSummary]:
        """Every deployment the worker knows, running and stopped."""
        return await self._run(_core.list_deployments())

    async def get_deployment(self, model: AsyncModel | Deployment | str) -> AsyncModel:
        return AsyncModel(self, await self._run(_core.get_deployment(model)))

    async def deployment_progress(self, model: AsyncModel | Deployment | str) -> DeploymentProgress:
        """How far a deployment's creation has come: its phase and training rows done out of total."""
        return await self._run(_core.deployment_progress(model))

    async def stop_deployment(self, model: AsyncModel | Deployment | str) -> Deployment:
        """Stop scoring; its versions stay readable (idempotent)."""
        return await self._run(_core.stop_deployment(model))

    async def versions(self, model: AsyncModel | Deployment | str) -> list[ModelVersion]:
        return await self._run(_core.versions(model))

    async def rollback(
        self, model: AsyncModel | Deployment | str, to_version: int | None = None
    ) -> ModelVersion:
        return await self._run(_core.rollback(model, to_version))

    async def promote(self, model: AsyncModel | Deployment | str, shadow: str) -> ModelVersion:
        return await self._run(_core.promote(model, shadow))
