"""Worker settings: defaults, overridable by ``TRACER_*`` environment variables and CLI flags."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from tracer.schemas import DeploymentSpec

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
    routed: str = "tracer.routed"
    checkpoints: str = "tracer.checkpoints"

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
    checkpoint_secret: str | None = None
    """HMAC key of checkpoints (``TRACER_CHECKPOINT_SECRET``); see :meth:`secret`."""
    topic_prefix: str = ""
    """Put before every Tracer topic name (``TRACER_TOPIC_PREFIX``), so several Tracers share a broker."""
    api_keys: tuple[str, ...] = ()
    """Keys the HTTP API accepts in ``X-API-Key`` (``TRACER_API_KEYS``, comma-separated); see :meth:`http_api_keys`."""
    api_max_body_bytes: int = 1_048_576
    """Largest JSON request body (``TRACER_API_MAX_BODY_BYTES``); larger ones get 413."""
    api_max_upload_bytes: int = 64 * 1_048_576
    """Largest dataset upload to ``POST /datasets`` (``TRACER_API_MAX_UPLOAD_BYTES``)."""
    api_rate_per_s: float = 20.0
    """Requests per second each API key may make (``TRACER_API_RATE_LIMIT``; seed 002: 20 req/s)."""
    api_burst: int = 40
    """Requests an API key may make at once before the rate applies (``TRACER_API_BURST``)."""

    def input_topic(self, name: str) -> str:
        """A deployment's input topic as this Tracer reads it: one of Tracer's own topic names as a
        deployments file gives it (``tracer.market.snapshots``) is this Tracer's topic, under its
        prefix; any other name is a topic of the user's, taken as it is."""
        for field_name, default in Topics().__dict__.items():
            if name == default:
                return str(getattr(self.topics, field_name))
        return name

    def local_spec(self, spec: DeploymentSpec) -> DeploymentSpec:
        """``spec`` reading this Tracer's topics: each input topic through :meth:`input_topic`."""
        return spec.model_copy(update={"input_topics": [self.input_topic(t) for t in spec.input_topics]})

    def secret(self) -> str:
        """The checkpoint secret: configured, or else generated once into the data folder (mode 0600)."""
        if self.checkpoint_secret:
            return self.checkpoint_secret
        return _generated_secret(self.data_dir / "checkpoint.secret")

    @property
    def api_key_file(self) -> Path:
        """Where the generated local API key lives when ``TRACER_API_KEYS`` is not set."""
        return self.data_dir / "api.key"

    def http_api_keys(self) -> tuple[str, ...]:
        """The configured API keys, or else one key generated once into :attr:`api_key_file` (mode 0600)."""
        if self.api_keys:
            return self.api_keys
        return (_generated_secret(self.api_key_file),)

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Defaults, then ``TRACER_KAFKA_BOOTSTRAP|APP_ID|DATA_DIR|WEB_PORT|TOPIC_PREFIX|API_*``, then overrides."""
        settings = cls()
        env = os.environ
        if "TRACER_KAFKA_BOOTSTRAP" in env:
            settings = replace(settings, broker=env["TRACER_KAFKA_BOOTSTRAP"])
        if "TRACER_APP_ID" in env:
            settings = replace(settings, app_id=env["TRACER_APP_ID"])
        if "TRACER_DATA_DIR" in env:
            settings = replace(settings, data_dir=Path(env["TRACER_DATA_DIR"]))
        if "TRACER_TOPIC_PREFIX" in env:
            prefix = env["TRACER_TOPIC_PREFIX"]
            settings = replace(settings, topic_prefix=prefix, topics=Topics().with_prefix(prefix))
        if "TRACER_CHECKPOINT_SECRET" in env:
            settings = replace(settings, checkpoint_secret=env["TRACER_CHECKPOINT_SECRET"])
        if "TRACER_WEB_PORT" in env:
            settings = replace(settings, web_port=int(env["TRACER_WEB_PORT"]))
        if "TRACER_API_KEYS" in env:
            keys = tuple(key.strip() for key in env["TRACER_API_KEYS"].split(",") if key.strip())
            settings = replace(settings, api_keys=keys)
        if "TRACER_API_MAX_BODY_BYTES" in env:
            settings = replace(settings, api_max_body_bytes=_positive(env, "TRACER_API_MAX_BODY_BYTES", int))
        if "TRACER_API_MAX_UPLOAD_BYTES" in env:
            settings = replace(
                settings, api_max_upload_bytes=_positive(env, "TRACER_API_MAX_UPLOAD_BYTES", int)
            )
        if "TRACER_API_RATE_LIMIT" in env:
            settings = replace(settings, api_rate_per_s=_positive(env, "TRACER_API_RATE_LIMIT", float))
        if "TRACER_API_BURST" in env:
            settings = replace(settings, api_burst=_positive(env, "TRACER_API_BURST", int))
        given = {key: value for key, value in overrides.items() if value is not None}
        return replace(settings, **given)  # type: ignore[arg-type]


NumberT = TypeVar("NumberT", int, float)


def _positive(env: Mapping[str, str], variable: str, kind: type[NumberT]) -> NumberT:
    """``env[variable]`` as a positive number, or a ValueError naming the variable."""
    text = env[variable]
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(
            f"{variable}={text!r} is not a number; set it to a positive {kind.__name__}"
        ) from None
    if not value > 0:
        raise ValueError(f"{variable}={text!r} must be positive")
    return value


def _generated_secret(path: Path) -> str:
    """A random token kept in ``path`` (created once, mode 0600): the same on every start."""
    if not path.exists():
        import secrets

        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()
