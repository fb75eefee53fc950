"""``tracer dlq summary|show|replay``: dead letters a user can act on (see :mod:`tracer.agents.dlq`).

All three need only the broker: they read ``tracer.dlq`` (and, to replay, the deployment's current
spec from ``tracer.registry`` and the replay ledger), under ``TRACER_TOPIC_PREFIX`` like the worker.
"""

from __future__ import annotations

import asyncio
import json

import click

from tracer.agents.dlq import (
    DeadLetterSummary,
    parse_since,
    read_letters,
    render_letter,
    render_summary,
    summarize,
)
from tracer.agents.dlq_replay import parse_maps, render_report, replay_dead_letters
from tracer.agents.settings import Settings
from tracer.schemas import ReasonCode

__all__ = ["dlq"]

broker_option = click.option(
    "--broker", envvar="TRACER_KAFKA_BOOTSTRAP", default="127.0.0.1:9092", show_default=True
)
reasons = click.Choice([reason.value for reason in ReasonCode])


@click.group()
def dlq() -> None:
    """Dead letters: which fields, how many, since when; and send the fixed ones back."""


@dlq.command("summary")
@click.option("--deployment", default=None, help="Only this deployment.")
@click.option(
    "--since", default=None, help="Only letters from then on: an ISO time (UTC) or a duration (15m, 1h, 2d)."
)
@click.option("--json", "as_json", is_flag=True, default=False, help="Print the summary as JSON.")
@broker_option
def dlq_summary(deployment: str | None, since: str | None, as_json: bool, broker: str) -> None:
    """Count dead letters by deployment, reason and field, with first/last seen and an example each."""
    settings = Settings.from_env(broker=broker)
    try:
        since_ms = parse_since(since) if since else None
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--since") from error
    letters, unreadable = asyncio.run(
        read_letters(broker, settings.topics.dlq, deployment=deployment, since_ms=since_ms)
    )
    summary = DeadLetterSummary(letters=len(letters), unreadable=unreadable, rows=summarize(letters))
    click.echo(summary.model_dump_json(indent=2) if as_json else render_summary(summary))


@dlq.command("show")
@click.option("--reason", type=reasons, default=None, help="Only this reason.")
@click.option("--deployment", default=None, help="Only this deployment.")
@click.option(
    "--limit", "-n", type=int, default=20, show_default=True, help="Show at most this many (latest)."
)
@broker_option
def dlq_show(reason: str | None, deployment: str | None, limit: int, broker: str) -> None:
    """Pretty-print dead letters, their input decoded where it is text (the latest LIMIT)."""
    settings = Settings.from_env(broker=broker)
    letters, _ = asyncio.run(read_letters(broker, settings.topics.dlq, deployment=deployment))
    chosen = [item for item in letters if reason is None or item.letter.reason == reason]
    shown = chosen[-limit:] if limit > 0 else []
    for item in shown:
        click.echo(render_letter(item, settings.topics.dlq))
    click.echo(f"{len(shown)} of {len(chosen)} dead letters shown", err=True)


@dlq.command("replay")
@click.option("--deployment", required=True, help="The deployment whose dead letters to replay.")
@click.option("--reason", type=reasons, default=None, help="Only dead letters of this reason.")
@click.option(
    "--map", "maps", multiple=True, metavar="INPUT=COLUMN",
    help="The letters' COLUMN holds INPUT (a renamed column): rows are rewritten for the current spec. Repeatable.",
)  # fmt: skip
@click.option("--dry-run", is_flag=True, default=False, help="Say what would be sent; send nothing.")
@click.option("--json", "as_json", is_flag=True, default=False, help="Print the report as JSON.")
@broker_option
def dlq_replay(
    deployment: str, reason: str | None, maps: tuple[str, ...], dry_run: bool, as_json: bool, broker: str
) -> None:
    """Re-validate DEPLOYMENT's dead letters against its current spec and send those that pass back to its
    input, keyed as the original and marked with their original coordinates. Replaying twice sends
    nothing the second time."""
    from tracer.agents.registry_topic import read_registry

    settings = Settings.from_env(broker=broker)
    try:
        overrides = parse_maps(maps)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--map") from error
    specs, _ = asyncio.run(read_registry(broker, settings.topics.registry))
    spec = next((s for s in specs if s.id == deployment), None)
    if spec is None:
        known = ", ".join(sorted(s.id for s in specs)) or "none"
        raise click.ClickException(f"no deployment {deployment!r} in the registry; known: {known}")
    try:
        report = asyncio.run(
            replay_dead_letters(
                broker, settings.topics, spec, reason=ReasonCode(reason) if reason else None, maps=overrides,
                dry_run=dry_run,
            )
        )  # fmt: skip
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    click.echo(json.dumps(report.model_dump(), indent=2) if as_json else render_report(report))
