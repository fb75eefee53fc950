"""``tracer models list|show|rollback`` and ``tracer promote``: the model registry from the command line.

``list`` and ``show`` read the compacted ``tracer.registry`` topic, so they need only the broker.
``rollback`` and ``promote`` change a live model, so they ask the worker that owns it, over its
HTTP API (``--url``, ``--api-key`` or ``TRACER_API_KEY``); the worker records the new version.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

import click

from tracer.agents.registry_topic import read_registry
from tracer.agents.settings import Settings
from tracer.schemas import ModelVersion

__all__ = ["models", "promote"]

broker_option = click.option(
    "--broker", envvar="TRACER_KAFKA_BOOTSTRAP", default="127.0.0.1:9092", show_default=True
)
url_option = click.option("--url", envvar="TRACER_URL", default="http://127.0.0.1:6066", show_default=True,
                          help="The HTTP API of the worker that owns the deployment.")  # fmt: skip
key_option = click.option(
    "--api-key", envvar="TRACER_API_KEY", default=None, help="X-API-Key for the worker's API."
)


def _versions(broker: str) -> list[ModelVersion]:
    settings = Settings.from_env(broker=broker)
    return asyncio.run(read_registry(broker, settings.topics.registry))[1]


def _when(created_at: int) -> str:
    return datetime.fromtimestamp(created_at / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


@click.group()
def models() -> None:
    """Model versions: every deploy, drift swap, promotion and rollback, with its reason."""


@models.command("list")
@click.option("--deployment", default=None, help="Only this deployment.")
@broker_option
def models_list(deployment: str | None, broker: str) -> None:
    """List model versions from the registry."""
    rows = [v for v in _versions(broker) if deployment in (None, v.deployment)]
    if not rows:
        click.echo("no model versions in the registry")
        return
    click.echo(
        f"{'deployment':<20} {'version':>7} {'parent':>6}  {'reason':<11} {'created (UTC)':<19}  blueprint"
    )
    for version in rows:
        parent = str(version.parent_version or "-")
        click.echo(
            f"{version.deployment:<20} {version.version:>7} {parent:>6}  {version.reason:<11} "
            f"{_when(version.created_at):<19}  {version.blueprint}"
        )


@models.command("show")
@click.argument("deployment")
@click.argument("version", type=int, required=False)
@broker_option
def models_show(deployment: str, version: int | None, broker: str) -> None:
    """Show one version of DEPLOYMENT in full (default: its latest)."""
    rows = [v for v in _versions(broker) if v.deployment == deployment]
    if version is not None:
        rows = [v for v in rows if v.version == version]
    if not rows:
        raise click.ClickException(
            f"no version {version or ''} of deployment {deployment!r} in the registry".replace("  ", " ")
        )
    click.echo(json.dumps(rows[-1].model_dump(), indent=2))


def _call(url: str, path: str, api_key: str | None, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url.rstrip("/") + path, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", **({"X-API-Key": api_key} if api_key else {})},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer: dict[str, Any] = json.loads(response.read())
            return answer
    except urllib.error.HTTPError as error:
        try:
            detail = json.loads(error.read()).get("detail", "")
        except ValueError:
            detail = ""
        raise click.ClickException(f"{error.code} from {url}{path}: {detail}") from error
    except urllib.error.URLError as error:
        raise click.ClickException(f"no worker answers at {url}: {error.reason}") from error


@models.command("rollback")
@click.argument("deployment")
@click.option(
    "--to", "to_version", type=int, default=None, help="Version to restore (default: the live one's parent)."
)
@url_option
@key_option
def models_rollback(deployment: str, to_version: int | None, url: str, api_key: str | None) -> None:
    """Make an earlier version of DEPLOYMENT live again (a new version, reason 'rollback')."""
    body = {} if to_version is None else {"to_version": to_version}
    click.echo(json.dumps(_call(url, f"/deployments/{deployment}/rollback", api_key, body), indent=2))


@click.command()
@click.argument("deployment")
@click.argument("shadow")
@url_option
@key_option
def promote(deployment: str, shadow: str, url: str, api_key: str | None) -> None:
    """Promote SHADOW to be DEPLOYMENT's live model (a new version, reason 'promotion', with the evidence)."""
    click.echo(
        json.dumps(_call(url, f"/deployments/{deployment}/promote", api_key, {"shadow": shadow}), indent=2)
    )
