"""JSON Schema export, so producers in other languages can validate what they send."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from tracer.schemas.block_snapshot import BlockSnapshot
from tracer.schemas.deployment import DeploymentSpec, ModelVersion
from tracer.schemas.market import MarketSnapshot
from tracer.schemas.messages import DeadLetter, DriftAlert, Label, Prediction, ShadowReport
from tracer.schemas.pool_snapshot import PoolSnapshot
from tracer.schemas.position_snapshot import PositionSnapshot
from tracer.schemas.token_transfer import TokenTransfer

__all__ = ["WIRE_MODELS", "export_json_schemas"]

WIRE_MODELS: tuple[type[BaseModel], ...] = (
    MarketSnapshot,
    PositionSnapshot,
    BlockSnapshot,
    TokenTransfer,
    PoolSnapshot,
    Label,
    Prediction,
    DriftAlert,
    ShadowReport,
    DeadLetter,
    ModelVersion,
    DeploymentSpec,
)


def export_json_schemas(directory: Path) -> list[Path]:
    """Write one ``<Model>.schema.json`` per wire model into ``directory`` and return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for model in WIRE_MODELS:
        path = directory / f"{model.__name__}.schema.json"
        schema = model.model_json_schema(mode="validation")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written
