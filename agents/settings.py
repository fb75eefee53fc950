"""Worker settings: defaults, overridable by ``TRACER_*`` environment variables and CLI flags.

Secrets (the checkpoint key and the HTTP API keys) come from configuration only: each from its
variable (``TRACER_CHECKPOINT_SECRET``, ``TRACER_API_KEYS``) or from a file that the matching
``*_FILE`` variable names. A worker without them refuses to start (:meth:`Settings.require_secrets`)
unless development mode is on (``TRACER_DEV=1`` or ``tracer worker --dev``): then each is generated
once into :func:`dev_secret_dir`, a per-user folder, so every worker of that user, started from any
directory, signs and opens checkpoints with the same key.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from tracer.schemas import DeploymentSpec

__all__ = ["MissingSecretError", "Settings", "Topics", "dev_secret_dir"]

log = logging.getLogger(__name__)

MIN_SECRET_CHARS = 16
"""The shortest checkpoint key :func:`~tracer.online_models.checkpoint.seal_checkpoint` accepts."""

DEV_VALUES = frozenset({"1", "true", "yes", "on"})
"""Values of ``TRACER_DEV`` that turn development mode on."""


class MissingSecretError(ValueError):
    """A worker has no checkpoint key or API key configured and is not in development mode."""


def dev_secret_dir() -> Path:
    """Where development mode keeps its generated keys: ``$XDG_STATE_HOME/tracer``, by default
    ``~/.local/state/tracer``. Per user and independent of the current directory, so a worker
    started anywhere by the same user finds the same key."""
    state_home = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state_home) / "tracer"


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
    composites: str = "tracer.composites"
    composites_state: str = "tracer.composites.state"

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
    """HMAC key that signs checkpoints (``TRACER_CHECKPOINT_SECRET`` or ``_FILE``); see :meth:`secret`."""
    checkpoint_secrets_previous: tuple[str, ...] = ()
    """Former checkpoint keys, still accepted when a checkpoint is opened, never used to sign
    (``TRACER_CHECKPOINT_SECRET_PREVIOUS``, comma-separated, or ``_FILE``, one a line): key rotation."""
    dev: bool = False
    """Development mode (``TRACER_DEV=1``, ``tracer worker --dev``): missing secrets are generated
    into :func:`dev_secret_dir` instead of refusing to start."""
    topic_prefix: str = ""
    """Put before every Tracer topic name (``TRACER_TOPIC_PREFIX``), so several Tracers share a broker."""
    api_keys: tuple[str, ...] = ()
    """Keys the HTTP API accepts in ``X-API-Key`` (``TRACER_API_KEYS``, comma-separated, or
    ``TRACER_API_KEYS_FILE``, one a line); see :meth:`http_api_keys`."""
    api_max_body_bytes: int = 1_048_576
    """Largest JSON request body (``TRACER_API_MAX_BODY_BYTES``); larger ones get 413."""
    api_max_upload_bytes: int = 64 * 1_048_576
    """Largest dataset upload to ``POST /datasets`` (``TRACER_API_MAX_UPLOAD_BYTES``)."""
    api_rate_per_s: float = 20.0
    """Requests per second each API key may make (``TRACER_API_RATE_LIMIT``; seed 002: 20 req/s)."""
    api_burst: int = 40
    """Requests an API key may make at once before the rate applies (``TRACER_API_BURST``)."""
    dead_letter_raw_bytes: int = 65_536
    """Input bytes a dead letter keeps whole (``TRACER_DEAD_LETTER_RAW_BYTES``); past it, a prefix,
    the length and a sha256 (see :mod:`tracer.agents.deadletters`)."""

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
        """The key that signs checkpoints: the configured one, or in development mode one generated
        once into :func:`dev_secret_dir` (said in one log line). Raises :class:`MissingSecretError`."""
        if self.checkpoint_secret:
            return self.checkpoint_secret
        if not self.dev:
            raise MissingSecretError(_missing_message(["checkpoint"]))
        path = dev_secret_dir() / "checkpoint.secret"
        log.warning(
            "development mode: checkpoints are signed with the generated key in %s "
            "(set TRACER_CHECKPOINT_SECRET or TRACER_CHECKPOINT_SECRET_FILE in production)",
            path,
        )
        return _generated_secret(path)

    def checkpoint_secrets(self) -> tuple[str, ...]:
        """Every key a checkpoint may be opened with: the signing key first, then the previous ones."""
        return (self.secret(), *self.checkpoint_secrets_previous)

    @property
    def api_key_file(self) -> Path:
        """Where development mode keeps its generated API key when no API key is configured."""
        return dev_secret_dir() / "api.key"

    def http_api_keys(self) -> tuple[str, ...]:
        """The configured API keys, or in development mode one key generated once into
        :attr:`api_key_file` (mode 0600). Raises :class:`MissingSecretError`."""
        if self.api_keys:
            return self.api_keys
        if not self.dev:
            raise MissingSecretError(_missing_message(["api"]))
        return (_generated_secret(self.api_key_file),)

    def require_secrets(self) -> None:
        """Refuse to start without the checkpoint key and (with the web server on) an API key, unless
        in development mode; the message names every variable to set. Call it before anything else."""
        missing = [] if self.checkpoint_secret else ["checkpoint"]
        if self.web_enabled and not self.api_keys:
            missing.append("api")
        if missing and not self.dev:
            raise MissingSecretError(_missing_message(missing))

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Defaults, then ``TRACER_KAFKA_BOOTSTRAP|APP_ID|DATA_DIR|WEB_PORT|TOPIC_PREFIX|API_*|DEV`` and
        the secrets (``TRACER_CHECKPOINT_SECRET[_PREVIOUS][_FILE]``, ``TRACER_API_KEYS[_FILE]``), then
        overrides."""
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
        checkpoint_secret = _configured(env, "TRACER_CHECKPOINT_SECRET")
        if checkpoint_secret is not None:
            if len(checkpoint_secret.encode()) < MIN_SECRET_CHARS:
                raise ValueError(
                    f"the checkpoint key (TRACER_CHECKPOINT_SECRET or its _FILE) must be at least "
                    f"{MIN_SECRET_CHARS} bytes; generate one with: python -c 'import secrets; "
                    "print(secrets.token_hex(32))'"
                )
            settings = replace(settings, checkpoint_secret=checkpoint_secret)
        previous = _configured(env, "TRACER_CHECKPOINT_SECRET_PREVIOUS")
        if previous is not None:
            settings = replace(settings, checkpoint_secrets_previous=_split_keys(previous))
        if env.get("TRACER_DEV", "").strip().lower() in DEV_VALUES:
            settings = replace(settings, dev=True)
        if "TRACER_WEB_PORT" in env:
            settings = replace(settings, web_port=int(env["TRACER_WEB_PORT"]))
        api_keys = _configured(env, "TRACER_API_KEYS")
        if api_keys is not None:
            settings = replace(settings, api_keys=_split_keys(api_keys))
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
        if "TRACER_DEAD_LETTER_RAW_BYTES" in env:
            raw_bytes = _positive(env, "TRACER_DEAD_LETTER_RAW_BYTES", int)
            settings = replace(settings, dead_letter_raw_bytes=raw_bytes)
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


def _configured(env: Mapping[str, str], variable: str) -> str | None:
    """The secret in ``variable``, or read from the file ``variable_FILE`` names (stripped); None if
    neither is set. Both set is refused: which one is meant would be a guess."""
    value, file_variable = env.get(variable), f"{variable}_FILE"
    file_name = env.get(file_variable)
    if value and file_name:
        raise ValueError(f"both {variable} and {file_variable} are set; set only one")
    if file_name:
        try:
            return Path(file_name).read_text().strip()
        except OSError as error:
            raise ValueError(f"{file_variable}={file_name!r} cannot be read: {error.strerror}") from None
    return value or None


def _split_keys(text: str) -> tuple[str, ...]:
    """Keys separated by commas or newlines, blanks dropped."""
    return tuple(key.strip() for key in text.replace("\n", ",").split(",") if key.strip())


_WHAT_TO_SET = {
    "checkpoint": "TRACER_CHECKPOINT_SECRET (the key that signs checkpoints, at least 16 bytes) or "
    "TRACER_CHECKPOINT_SECRET_FILE (a file holding it)",
    "api": "TRACER_API_KEYS (comma-separated HTTP API keys) or TRACER_API_KEYS_FILE (a file of them, one a line)",
}


def _missing_message(missing: list[str]) -> str:
    """What to set, for each missing secret; and the development alternative."""
    what = "; and ".join(_WHAT_TO_SET[name] for name in missing)
    return (
        f"no {' and no '.join('checkpoint key' if m == 'checkpoint' else 'API key' for m in missing)} "
        f"configured: set {what}. Every worker sharing the checkpoints needs the same checkpoint key. "
        "For local development only, pass --dev or set TRACER_DEV=1 to use keys generated into "
        f"{dev_secret_dir()}"
    )


def _generated_secret(path: Path) -> str:
    """A random token kept in ``path`` (created once, mode 0600, its folder 0700): the same on every
    start. Written to a temporary file and linked into place, so two workers starting at once agree
    on one token and neither reads a half-written file."""
    if not path.exists():
        import secrets
        import tempfile

        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=".new-", delete=False) as new:
            new.write(secrets.token_hex(32))  # NamedTemporaryFile creates it with mode 0600
        try:
            os.link(new.name, path)
        except FileExistsError:
            pass  # another worker created it first: use that one
        finally:
            os.unlink(new.name)
    return path.read_text().strip()
