"""What the client returns: small frozen dataclasses over the API's JSON answers.

Each keeps the fields a program uses by name and the whole answer in ``raw`` (so a field the API
adds later is never lost). The shapes are the OpenAPI document's (``GET /openapi.json``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "BlueprintSummary",
    "Composite",
    "Dataset",
    "DatasetSummary",
    "Deployment",
    "DeploymentProgress",
    "DeploymentSummary",
    "ModelVersion",
    "Prediction",
    "Suggestion",
]

JSON = dict[str, Any]


@dataclass(frozen=True)
class BlueprintSummary:
    """A blueprint of the archive, as ``list_blueprints`` lists it."""

    id: str
    name: str
    category: str
    use_case: str
    task: str
    output_kind: str
    raw: JSON = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSON) -> BlueprintSummary:
        return cls(data["id"], data["name"], data["category"], data["use_case"], data["task"],
                   data["output_kind"], data)  # fmt: skip


@dataclass(frozen=True)
class Dataset:
    """An uploaded dataset: its id (what ``analyze_data`` and ``deploy`` take) and its columns' kinds."""

    id: str
    name: str
    format: str
    bytes: int
    rows: int
    columns: list[JSON]
    time_series: JSON | None
    raw: JSON = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSON) -> Dataset:
        return cls(data["id"], data["name"], data["format"], data["bytes"], data["rows"], data["columns"],
                   data.get("time_series"), data)  # fmt: skip


@dataclass(frozen=True)
class DatasetSummary:
    """A dataset as ``list_datasets`` lists it (``columns`` is a count here)."""

    id: str
    name: str
    format: str
    bytes: int
    rows: int
    columns: int
    uploaded_at: int
    raw: JSON = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSON) -> DatasetSummary:
        return cls(data["id"], data["name"], data["format"], data["bytes"], data["rows"], data["columns"],
                   data["uploaded_at"], data)  # fmt: skip


@dataclass(frozen=True)
class Suggestion:
    """One blueprint's fit to a dataset: the seed's ``{blueprint, compatibility, reason}`` and the
    column mapping it found."""

    blueprint: str
    compatibility: float
    reason: str
    dataset: str
    column_mapping: dict[str, str]
    label_column: str | None
    missing: list[str]
    raw: JSON = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSON) -> Suggestion:
        return cls(data["blueprint"], data["compatibility"], data["reason"], data["dataset"],
                   data["column_mapping"], data.get("label_column"), data["missing"], data)  # fmt: skip


@dataclass(frozen=True)
class Deployment:
    """A deployment: its spec, live version, status and how well its training replay validated."""

    id: str
    blueprint: str
    status: Literal["running", "stopped"]
    model_version: int | None
    owned_here: bool
    streaming: bool
    spec: JSON
    validation: JSON | None
    stopped_at: int | None
    raw: JSON = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSON) -> Deployment:
        spec = data["spec"]
        return cls(spec["id"], spec["blueprint"], data.get("status", "running"), data.get("model_version"),
                   data["owned_here"], data["streaming"], spec, data.get("validation"), data.get("stopped_at"),
                   data)  # fmt: skip


@dataclass(frozen=True)
class DeploymentSummary:
    """A deployment as ``list_deployments`` lists it."""

    id: str
    blueprint: str
    status: Literal["running", "stopped"]
    model_version: int | None
    owned_here: bool
    input_topics: list[str]
    stopped_at: int | None
    raw: JSON = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSON) -> DeploymentSummary:
        return cls(data["id"], data["blueprint"], data["status"], data.get("model_version"), data["owned_here"],
                   data["input_topics"], data.get("stopped_at"), data)  # fmt: skip


@dataclass(frozen=True)
class DeploymentProgress:
    """How far a deployment's creation has come: its phase (``queued``, ``training``, ``publishing``,
    ``live``, ``failed`` or ``stopped``) and the rows its training replayed out of the dataset's."""

    deployment: str
    phase: str
    done: int
    total: int | None
    raw: JSON = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSON) -> DeploymentProgress:
        return cls(data["deployment"], data["phase"], data["done"], data.get("total"), data)


@dataclass(frozen=True)
class ModelVersion:
    """One model version of a deployment (the registry's record)."""

    deployment: str
    version: int
    parent_version: int | None
    reason: str
    created_at: int
    metrics: dict[str, float]
    raw: JSON = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSON) -> ModelVersion:
        return cls(data["deployment"], data["version"], data.get("parent_version"), data["reason"],
                   data["created_at"], data.get("metrics", {}), data)  # fmt: skip


@dataclass(frozen=True)
class Prediction(Mapping[str, Any]):
    """A prediction: the blueprint's output, readable as a mapping (``prediction["churn_probability"]``),
    with the model version that made it, its key and the headline score."""

    deployment: str
    blueprint: str
    model_version: int
    key: str
    output: JSON
    score: float
    latency_ms: float

    @classmethod
    def from_json(cls, data: JSON) -> Prediction:
        return cls(data["deployment"], data["blueprint"], data["model_version"], data["key"], data["output"],
                   data["score"], data["latency_ms"])  # fmt: skip

    def __getitem__(self, name: str) -> Any:
        return self.output[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.output)

    def __len__(self) -> int:
        return len(self.output)


@dataclass(frozen=True)
class Composite:
    """A composite of deployments that share an entity, with an objective (composites, issue 21)."""

    id: str
    designation: str
    components: list[str]
    objective: str
    raw: JSON = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSON) -> Composite:
        return cls(data["id"], str(data.get("designation") or data["id"]), list(data.get("components", [])),
                   data.get("objective", ""), data)  # fmt: skip
