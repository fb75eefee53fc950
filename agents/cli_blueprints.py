"""``tracer blueprints list|show``: the blueprint archive from the command line, as ``GET /blueprints``.

Both read the same documents as the HTTP API (:mod:`tracer.agents.api.catalog`): the blueprint
declarations and the figures ``bench/quality.py`` measured, shipped with the package. ``--json``
prints the API's document instead of the text.
"""

from __future__ import annotations

import json
from typing import Any

import click

__all__ = ["blueprints"]

WIDTH = 100


@click.group()
def blueprints() -> None:
    """Browse the blueprint archive: what each answers, what it reads, how well it measured."""


@blueprints.command("list")
@click.option("--category", default=None, help="Only this category, e.g. financial_risk.")
@click.option("--search", default=None, help="Only blueprints whose id, name or use case contains TEXT.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's document instead of a table.")
def list_command(category: str | None, search: str | None, as_json: bool) -> None:
    """The blueprints, by category (all unless --category), with what each is for."""
    from tracer.agents.api.catalog import blueprint_list

    listing = blueprint_list(category, search)
    if category is not None and category not in listing.categories:
        known = ", ".join(listing.categories)
        raise click.UsageError(f"no category {category!r}; the categories are: {known}")
    if as_json:
        click.echo(json.dumps(listing.model_dump(mode="json"), indent=2))
        return
    if not listing.blueprints:
        click.echo(f"no blueprint matches {search!r}" + (f" in {category}" if category else ""))
        return
    id_width = max(len(summary.id) for summary in listing.blueprints)
    for group in listing.categories:
        members = [summary for summary in listing.blueprints if summary.category == group]
        if not members:
            continue
        click.echo(click.style(group, bold=True))
        for summary in members:
            click.echo(f"  {summary.id:<{id_width}}  {summary.task:<10} {_clip(summary.use_case, 70)}")
    click.echo(f"\n{len(listing.blueprints)} blueprints. `tracer blueprints show ID` for one in full.")


@blueprints.command("show")
@click.argument("blueprint_id")
@click.option("--json", "as_json", is_flag=True, help="Print the API's document instead of the text.")
def show_command(blueprint_id: str, as_json: bool) -> None:
    """Everything BLUEPRINT_ID reads, answers and measured."""
    from tracer.agents.api.catalog import blueprint_details
    from tracer.agents.api.errors import ApiError

    try:
        details = blueprint_details(blueprint_id)
    except ApiError as error:
        raise click.UsageError(error.detail) from error
    if as_json:
        click.echo(json.dumps(details.model_dump(mode="json"), indent=2))
        return
    echo = click.echo
    echo(click.style(f"{details.id}: {details.name}", bold=True) + f"  ({details.category}, {details.task})")
    echo(_wrap(details.use_case))
    echo("\nData it needs")
    echo(_wrap(details.data_requirements, "  "))
    echo("\nInputs (the column names it recognises; every other usable column is learned from too)")
    for spec in details.inputs:
        flag = "required" if spec.required else "optional"
        echo(f"  {spec.name} ({spec.dtype}, {flag}): {spec.description}")
        if spec.synonyms:
            echo(_wrap("also: " + ", ".join(spec.synonyms), "      "))
    echo(f"\nLabel: {details.label.description}")
    if details.parameters:
        echo("\nParameters")
        for parameter in details.parameters:
            allowed = f" (one of {', '.join(map(str, parameter.allowed))})" if parameter.allowed else ""
            echo(f"  {parameter.name} = {parameter.default}{allowed}: {parameter.description}")
    echo(f"\nOutput ({details.output.kind}): {details.output.description}")
    for name, field in _output_fields(details.output.json_schema):
        marker = "*" if name == details.output.headline else " "
        echo(f" {marker}{name}: {field}")
    echo("\nMeasured by bench/quality.py" + _on(details.performance_measured_on))
    if not details.performance:
        echo("  nothing measured yet")
    for figure in details.performance:
        verdict = (
            "no target"
            if figure.met is None
            else f"target {figure.target}: {'met' if figure.met else 'MISSED'}"
        )
        echo(f"  {figure.dataset} ({figure.data}): {figure.metric} {figure.value:.3f}")
        echo(f"      vs {figure.baseline} {figure.baseline_value:.3f}: ratio {figure.ratio:.3f} ({verdict})")


def _output_fields(schema: dict[str, Any]) -> list[tuple[str, str]]:
    """``(field, its type and description)`` of an output's JSON Schema, in declaration order."""
    fields = []
    for name, prop in schema.get("properties", {}).items():
        kind = " | ".join(str(choice) for choice in prop.get("enum", ())) or prop.get("type") or "object"
        description = prop.get("description", "")
        fields.append((name, f"{kind}" + (f", {description}" if description else "")))
    return fields


def _on(date: str) -> str:
    return f" on {date}" if date else ""


def _clip(text: str, width: int) -> str:
    first = text.split(". ")[0].rstrip(".")
    return first if len(first) <= width else first[: width - 1] + "…"


def _wrap(text: str, indent: str = "") -> str:
    import textwrap

    return textwrap.fill(text, WIDTH, initial_indent=indent, subsequent_indent=indent)
