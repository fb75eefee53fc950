"""Request and response bodies of the HTTP API, as pydantic models.

Handlers validate every body with these models and build every JSON answer from them, and
:mod:`tracer.agents.api.openapi` builds ``/openapi.json`` from their JSON Schemas, so the document
and the server can't disagree. Requests are closed (unknown fields are refused) and take finite
numbers only.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from tracer.blueprints.analysis import Suggestion
from tracer.blueprints.profiling import ColumnProfile, TimeSeriesProfile
from tracer.schemas import DeploymentSpec, LabelSource, MarketSnapshot, ModelVersion, ParamValue
from tracer.schemas.deployment import DeploymentId, DriftPolicy, ShadowSpec, TopicName

__all__ = [
    "AgentsHealth",
    "AnalysisResponse",
    "ApiModel",
    "BrokerHealth",
    "DatasetList",
    "DatasetResponse",
    "DatasetSummary",
    "DeployRequest",
    "DeploymentInfo",
    "DeploymentList",
    "DeploymentProgress",
    "DeploymentResponse",
    "DeploymentSummary",
    "HealthResponse",
    "ModelInfoResponse",
    "PredictResponse",
    "PredictRowRequest",
    "PredictSnapshotRequest",
    "ProgressPhase",
    "PromoteRequest",
    "RollbackRequest",
    "Row",
    "RowBody",
    "StoppedDeployment",
    "ValidationReport",
    "VersionsResponse",
]

Scalar = str | int | float | bool | None
Row = dict[str, Scalar]
"""A flat JSON row, as producers write it to a deployment's input topic."""


class ApiModel(BaseModel):
    """Closed, immutable, finite numbers only."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# -- /ml -------------------------------------------------------------------------------------------


class PredictRowRequest(ApiModel):
    """Score one row with a deployment's live model."""

    deployment: DeploymentId
    row: Row = Field(description="The row, in the column names the deployment's input topics use.")


class PredictSnapshotRequest(ApiModel):
    """Seed 002's form: score one market snapshot with the (only) ``price_movement`` deployment."""

    snapshot: MarketSnapshot
    deployment: DeploymentId | None = Field(
        default=None, description="Needed only when several price_movement deployments run."
    )


class PredictResponse(ApiModel):
    """The blueprint's typed output for one row, with the version of the model that made it."""

    deployment: str
    blueprint: str
    model_version: int = Field(ge=1)
    key: str = Field(description="The prediction key a delayed label joins on.")
    output: dict[str, Any] = Field(description="The blueprint's output (its schema is the blueprint's).")
    score: float = Field(description="The headline score: a probability, or the predicted value.")
    latency_ms: float = Field(ge=0, description="Time spent in the worker on this request, in ms.")


class RowBody(RootModel[Row]):
    """The body of ``POST /deployments/{deployment_id}/predict``: the row itself."""


class BrokerHealth(ApiModel):
    """Whether the Kafka broker answered a metadata request in time."""

    reachable: bool
    brokers: int = Field(ge=0)
    latency_ms: float | None = None
    error: str | None = None


class AgentsHealth(ApiModel):
    """The scoring service and the deployments this worker owns."""

    service: str = Field(description="init, running, stopping, shutdown or crashed.")
    deployments: int = Field(ge=0, description="Deployments this worker knows.")
    owned: list[str] = Field(description="Deployments whose model this worker owns and serves.")


class HealthResponse(ApiModel):
    """``ok`` (200) when the broker answers, the service runs and it owns a deployment; else 503.
    ``degraded`` (200) when it serves but a refused checkpoint needs a person (see ``problems``)."""

    status: Literal["ok", "degraded", "unavailable"]
    problems: list[str]
    broker: BrokerHealth
    agents: AgentsHealth
    consumer_lag: dict[str, int] | None = Field(description="'topic:partition' -> messages behind, if known.")


class DeploymentInfo(ApiModel):
    """One owned deployment: versions, how far it has learned, counters and progressive metrics."""

    deployment: str
    blueprint: str
    model_version: int
    versions: list[ModelVersion]
    learned_through: dict[str, int] = Field(
        description="'routed topic:partition' -> the next routed offset this model has not learned."
    )
    source_offsets: dict[str, int] = Field(
        description="'input topic:partition' -> the next source offset this model has not seen."
    )
    rows_seen: int
    counters: dict[str, int]
    drift_detections: dict[str, int]
    shadows: dict[str, dict[str, Any]]
    validation: dict[str, float | None] | None = Field(
        description="Progressive-validation metrics of the replay it was trained with, if any."
    )
    context: dict[str, Any] | None = Field(
        default=None,
        description="The data's other columns the model learns from: 'used' (column -> kind), 'left_out' "
        "(column -> why: the label, a leak, an id...) and 'rows_profiled'; null until profiled.",
    )


class ModelInfoResponse(ApiModel):
    """Every deployment this worker owns; the others it knows are listed by id."""

    deployments: list[DeploymentInfo]
    not_owned: list[str]


# -- /datasets -------------------------------------------------------------------------------------


class DatasetResponse(ApiModel):
    """An uploaded dataset: its id, size and the kind of each column."""

    id: str
    name: str
    format: str
    bytes: int
    rows: int
    columns: list[ColumnProfile]
    time_series: TimeSeriesProfile | None


class DatasetSummary(ApiModel):
    """An uploaded dataset as ``GET /datasets`` lists it (``GET /datasets/{id}`` has its columns)."""

    id: str
    name: str
    format: str
    bytes: int
    rows: int
    columns: int = Field(description="How many columns it has.")
    uploaded_at: int = Field(description="Epoch milliseconds.")


class DatasetList(ApiModel):
    """The datasets this worker keeps, most recently used last."""

    datasets: list[DatasetSummary]


class AnalysisResponse(ApiModel):
    """Blueprint suggestions for one dataset, best first."""

    dataset: str
    suggestions: list[Suggestion]


# -- /deployments ----------------------------------------------------------------------------------


class DeployRequest(ApiModel):
    """Deploy a blueprint: train it on a dataset (optional), attach it to input topics, serve it."""

    blueprint: str = Field(min_length=1, examples=["customer_churn"])
    id: DeploymentId | None = Field(default=None, description="Default: '<blueprint>-<random>'.")
    dataset: str | None = Field(default=None, description="Id from POST /datasets: replay-train on it.")
    input_topics: Annotated[list[TopicName], Field(min_length=1)] | None = Field(
        default=None, description="Default: one new topic, '<prefix>tracer.inputs.<id>'."
    )
    params: dict[str, ParamValue] = Field(default_factory=dict)
    column_mapping: dict[str, str] | None = Field(
        default=None, description="Input -> column. Default: what the dataset analysis found."
    )
    key_field: str | None = Field(default=None, min_length=1)
    labels: LabelSource | None = Field(
        default=None, description="Default: inline from the dataset's label column, if it has one."
    )
    shadows: list[ShadowSpec] = Field(default_factory=list, description="Challengers scored next to live.")
    drift: DriftPolicy = Field(default_factory=DriftPolicy, description="Drift detection and shadow policy.")


class ValidationReport(ApiModel):
    """Progressive validation over the training dataset: every row scored before it was learned."""

    rows: int
    scored: int
    learned: int
    errors: int
    errors_by_reason: dict[str, int]
    example_errors: list[str]
    metrics: dict[str, float | None]
    seconds: float


class DeploymentResponse(ApiModel):
    """A deployment: its spec, live version, where it runs and how well it validated."""

    spec: DeploymentSpec
    model_version: int | None = Field(description="The live version, if this worker owns the model.")
    owned_here: bool = Field(description="This worker owns its model and serves its predictions.")
    streaming: bool = Field(description="This worker's router reads all of its input topics now.")
    validation: ValidationReport | None = None
    status: Literal["running", "stopped"] = Field(
        default="running", description="'stopped' after DELETE /deployments/{id}: no longer scored."
    )
    stopped_at: int | None = Field(default=None, description="When it was stopped (epoch ms), if it was.")


ProgressPhase = Literal["queued", "training", "publishing", "live", "failed", "stopped"]
"""Where a deployment being created is: waiting for a training slot, replay-training on its dataset,
writing the registry and installing, serving; or its creation failed; or it was stopped since."""


class DeploymentProgress(ApiModel):
    """How far ``POST /deployments`` has come for one deployment (its training replay, then going live)."""

    deployment: str
    phase: ProgressPhase
    done: int = Field(ge=0, description="Rows of the training dataset replayed so far.")
    total: int | None = Field(description="Rows in the training dataset; null without one.")


class DeploymentSummary(ApiModel):
    """A deployment as ``GET /deployments`` lists it."""

    id: str
    blueprint: str
    status: Literal["running", "stopped"]
    model_version: int | None = Field(
        description="The live version (the last one, if stopped), if known here."
    )
    owned_here: bool
    input_topics: list[str]
    stopped_at: int | None = None


class DeploymentList(ApiModel):
    """Every deployment this worker knows, running and stopped, by id."""

    deployments: list[DeploymentSummary]


class StoppedDeployment(ApiModel):
    """What the registry keeps of a stopped deployment (key ``stopped/<id>``): enough to show it and
    its history without a model."""

    spec: DeploymentSpec
    stopped_at: int
    live_version: int = Field(description="The version that was live when it stopped.")
    versions: list[ModelVersion]


class VersionsResponse(ApiModel):
    """A deployment's model versions, oldest first; the last one is live."""

    deployment: str
    live_version: int
    versions: list[ModelVersion]


class PromoteRequest(ApiModel):
    """Which shadow's model to make live."""

    shadow: DeploymentId


class RollbackRequest(ApiModel):
    """Which version to restore; default: the live version's parent."""

    to_version: int | None = Field(default=None, ge=1)
