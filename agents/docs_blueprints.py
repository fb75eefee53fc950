"""``docs/blueprints.md``, generated from the archive: every registered blueprint, by category.

Each blueprint's question, the inputs it reads (with the column names it recognises), its label, its
parameters, its output fields and the quality ``bench/quality.py`` measured. It reads the same
documents as ``tracer blueprints show`` and ``GET /blueprints/{id}`` (:mod:`tracer.agents.api.catalog`),
so the page can't say something the archive doesn't. ``tests/test_docs.py`` checks that the checked-in
page is what this module writes now; regenerate it with::

    python -m tracer.agents.docs_blueprints --out docs/blueprints.md
"""

from __future__ import annotations

from pathlib import Path

import click

from tracer.agents.api.catalog import BlueprintDetails, PerformanceDoc, blueprint_details, blueprint_list
from tracer.agents.cli_blueprints import _output_fields
from tracer.blueprints import registry

__all__ = ["REGENERATE", "blueprints_markdown", "main"]

REGENERATE = "python -m tracer.agents.docs_blueprints --out docs/blueprints.md"
"""The command that rewrites the checked-in page."""

CATEGORY_TITLES = {
    "business_operations": "Business operations",
    "ecommerce_retail": "E-commerce and retail",
    "financial_risk": "Financial risk",
    "crypto_defi": "Crypto and DeFi",
    "gaming_entertainment": "Gaming and entertainment",
}


def blueprints_markdown() -> str:
    """The whole page, as Markdown."""
    listing = blueprint_list()
    details = [blueprint_details(summary.id) for summary in listing.blueprints]
    dates = {detail.performance_measured_on for detail in details if detail.performance_measured_on}
    lines = [
        "# The blueprint archive",
        "",
        f"<!-- Generated from the archive by `{REGENERATE}`: do not edit by hand. -->",
        "",
        f"{len(details)} blueprints in {len(listing.categories)} categories. Each reads the inputs below"
        " (a column is found under any of its names; every other usable column is learned from too),"
        " learns from its label, and answers with the output fields below. The quality figures are"
        " `bench/quality.py`'s" + (f", measured on {', '.join(sorted(dates))}" if dates else "") + ","
        " each against a baseline computed in the same run; `tracer blueprints show ID` prints the same.",
        "",
    ]
    for category in listing.categories:
        members = [detail for detail in details if detail.category == category]
        lines += [f"- **{_title(category)}**: " + ", ".join(f"[`{d.id}`](#{d.id})" for d in members)]
    for category in listing.categories:
        lines += ["", f"## {_title(category)}"]
        for detail in (detail for detail in details if detail.category == category):
            lines += ["", *_blueprint(detail)]
    return "\n".join(lines) + "\n"


def _title(category: str) -> str:
    return CATEGORY_TITLES.get(category, category)


def _cell(text: object) -> str:
    """``text`` safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _blueprint(detail: BlueprintDetails) -> list[str]:
    question = (registry.get(detail.id).__doc__ or "").strip().splitlines()[0]
    lines = [
        f'<a id="{detail.id}"></a>',
        f"### `{detail.id}`: {detail.name}",
        "",
        f"*{question}* ({detail.task})",
        "",
        f"**For:** {detail.use_case}",
        "",
        f"**Data it needs:** {detail.data_requirements}",
        "",
        "| input | type | required | what it is | also recognised as |",
        "|---|---|---|---|---|",
    ]
    for spec in detail.inputs:
        names = [", ".join(f"`{name}`" for name in spec.synonyms)] if spec.synonyms else []
        names += [f"or derived from `{s.name}` ({_cell(s.description)})" for s in spec.stand_ins]
        required = "yes" if spec.required else "no"
        lines.append(
            f"| `{spec.name}` | {spec.dtype} | {required} | {_cell(spec.description)} | {'; '.join(names)} |"
        )
    lines += ["", f"**Label:** {detail.label.description}"]
    if detail.parameters:
        lines += ["", "| parameter | default | allowed | what it sets |", "|---|---|---|---|"]
        for parameter in detail.parameters:
            allowed = ", ".join(f"`{value}`" for value in parameter.allowed) if parameter.allowed else "any"
            lines.append(
                f"| `{parameter.name}` | `{parameter.default}` | {allowed} | {_cell(parameter.description)} |"
            )
    lines += [
        "",
        f"**Output** ({detail.output.kind}): {detail.output.description} Headline: `{detail.output.headline}`.",
        "",
        "| field | type and meaning |",
        "|---|---|",
    ]
    lines += [f"| `{name}` | {_cell(field)} |" for name, field in _output_fields(detail.output.json_schema)]
    lines += ["", *_quality(detail.performance)]
    return lines


def _quality(figures: list[PerformanceDoc]) -> list[str]:
    if not figures:
        return ["**Measured quality:** nothing measured yet."]
    lines = [
        "**Measured quality:**",
        "",
        "| dataset | data | metric | value | baseline | baseline value | ratio | target |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for figure in figures:
        verdict = (
            "no target" if figure.met is None else f"{figure.target}: {'met' if figure.met else '**missed**'}"
        )
        lines.append(
            f"| {_cell(figure.dataset)} | {figure.data} | {_cell(figure.metric)} | {figure.value:.3f}"
            f" | {_cell(figure.baseline)} | {figure.baseline_value:.3f} | {figure.ratio:.3f} | {_cell(verdict)} |"
        )
    return lines


@click.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the page to this file (default: print it).")  # fmt: skip
def main(out: Path | None) -> None:
    """Write docs/blueprints.md from the blueprint archive."""
    page = blueprints_markdown()
    if out is None:
        click.echo(page, nl=False)
    else:
        out.write_text(page, encoding="utf-8")
        click.echo(f"wrote {out}", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()
