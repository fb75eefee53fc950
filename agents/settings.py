"""Worker settings: defaults, overridable by ``TRACER_*`` environment variables and CLI flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

__all__ = ["Settings", "Topics"]


@dataclass(frozen=True)
class Topics:
    """Tracer's own topic names (ARCHITECTURE.md, "Topics")."""

    snapshots: str = "tracer.market.snapshots"
    snapshots_valid: str = "tracer.market.snapshots.valid"
    labels: str = "tracer.labels"
    predictions: str = "tracer.predictions"
    drift_alerts: str = "tracer.drift.alerts"
    shadow_reports: str = "tracer.shadow.reports"
    dlq: str = "tracer.dlq"
    registry: str = "tracer.registry"

    def with_prefix(self, prefix: str) -> Topics:
        """The same names under ``prefix`` (tests give each run its own topics)."""
        return Topics(**{name: prefix + value for name, value in self.__dict__.items()})


@dataclass(frozen=True)
class Settings:
    """Everything a worker needs to know. ``Settings.from_env()`` reads ``TRACER_*`` overrides."""

    broker: str = "127.0.0.1:9092"
    app_id: str = "tracer"
    web_port: int = 6066
    web_enabled: bool = True
    data_dir: Path = Path(".tracer")
    partitions: int = 4
    topics: Topics = field(default_factory=Topics)

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Defaults, then ``TRACER_KAFKA_BOOTSTRAP|APP_ID|DATA_DIR|WEB_PORT``, then overrides."""
        settings = cls()
        env = os.environ
        if "TRACER_KAFKA_BOOTSTRAP" in env:
            settings = replace(settings, broker=env["TRACER_KAFKA_BOOTSTRAP"])
        if "TRACER_APP_ID" in env:
            settings = replace(settings, app_id=env["TRACER_APP_ID"])
        if "TRACER_DATA_DIR" in env:
            settings = replace(settings, data_dir=Path(env["TRACER_DATA_DIR"]))
        if "TRACER_WEB_PORT" in env:
            settings = replace(settings, web_port=int(env["TRACER_WEB_PORT"]))
        given = {key: value for key, value in overrides.items() if value is not None}
        return replace(settings, **given)  # type: ignore[arg-type]
