"""``tracer composite``: composites of a running worker (issue 21), over its HTTP API.

- ``tracer composite list``;
- ``tracer composite analyze ID ENTITY [--set field=value ...] [--json]``: the composite's decision for
  one entity, from its components' latest predictions in the stream, or scored on the fields given.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import click

from tracer.agents.cli_http import call, worker_options

__all__ = ["composite"]


def _value(text: str) -> Any:
    """``--set`` values: JSON where they parse (numbers, true, null), else the string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


@click.group()
def composite() -> None:
    """Composites: deployments combined toward a business objective."""


@composite.command("list")
@worker_options
def list_composites(url: str, api_key: str | None) -> None:
    """The composites the worker reads: objective, entity and component deployments."""
    found = json.loads(call(url, "GET", "/composites", api_key))["composites"]
    if not found:
        click.echo("no composite is declared (POST /composites, or `composites:` in the deployments file)")
    for c in found:
        click.echo(
            f"{c['id']:<24} {c['objective']:<28} entity {c['entity'] or '-':<14} {', '.join(c['components'])}"
        )


@composite.command("analyze")
@click.argument("composite_id")
@click.argument("entity")
@click.option("--set", "fields", multiple=True, metavar="FIELD=VALUE",
              help="A field of the entity's row (repeatable): the components score it with the row.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@worker_options
def analyze(
    composite_id: str, entity: str, fields: tuple[str, ...], as_json: bool, url: str, api_key: str | None
) -> None:
    """The composite's recommendation for ENTITY, with each protocol's impact and confidence."""
    row: dict[str, Any] = {"entity": entity}
    for item in fields:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r}: expected FIELD=VALUE", param_hint="--set")
        row[name] = _value(text)
    answer = json.loads(
        call(url, "POST", f"/composites/{quote(composite_id, safe='')}/analyze", api_key, row)
    )
    if as_json:
        click.echo(json.dumps(answer, indent=2))
        return
    click.echo(f"{answer['composite']} · {answer['objective']} · entity {answer['entity']} "
               f"· over {answer['horizon_months']} months")  # fmt: skip
    for item in answer["recommended_protocols"]:
        click.echo(f"  {item['protocol']:<22} {item['impact']:>10}   confidence {item['confidence']:.2f}")
    click.echo(f"  risk: {answer['risk_assessment']}   value with no action: {answer['baseline_value']:,.2f}")
    if answer.get("optimal_price_point") is not None:
        click.echo(f"  optimal price point: {answer['optimal_price_point']:.2f}")
    sources = ", ".join(f"{b} ({where})" for b, where in sorted(answer["scored_from"].items()))
    click.echo(f"  from: {sources}")
