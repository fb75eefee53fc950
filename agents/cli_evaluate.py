"""``tracer eval`` and ``tracer analyze``: the jobs that need no broker.

``tracer eval --blueprint ID [--param k=v] [--map input=column] [--gate metric>=value] FILE`` replays
FILE through a fresh deployment with progressive validation (every row is scored before its label
is learned, in time order; see :func:`tracer.online_models.replay.replay`), prints the metrics next to
the SLO gates, writes a JSON report and exits:

* 0 when every gate is met;
* 1 when a gate is missed (a metric that is undefined on the data, such as AUC with one class, misses);
* 2 when the command can't run: an unknown blueprint, parameter or metric, a bad value, a file it
  can't read, or required inputs it can't find (the message names them and the columns looked for);
  or when there is nothing to evaluate: no row could be scored, or no row had a label (the message
  gives each dead-letter reason with its count and first error, which names the column and row).

Beside the blueprint's figures it prints baselines computed in the same run on the same rows
(:mod:`tracer.online_models.baselines`): for classifiers the base rate and a batch scikit-learn
gradient-boosting model fitted on the first 70% of the rows in time order, all measured on the last
30% (with the blueprint's progressive scores there), and blueprint AUC / batch AUC; for regressors and
forecasters the naive and seasonal-naive one-step errors, and blueprint MAPE / the better baseline's.

Classifiers report AUC, accuracy, and precision and recall in the top 20% of scores; the default
gates are seed 002's SLOs (``auc>=0.62``, ``precision@20>=0.58``, ``recall@20>=0.40``). Regressors and
forecasters report MAE, RMSE and MAPE and have no default gate. ``--gate`` replaces the default gate of
the same metric or adds one; ``<=`` gates suit error metrics (``--gate mape<=0.15``).

``tracer analyze FILE...`` ranks the blueprints by how well the datasets fit them.

Both commands are click objects that ``tracer.agents.cli`` registers; they import the
blueprints when they run, so other ``tracer`` commands start without pandas.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tracer import __version__
from tracer.agents.evaluate import (
    UsageProblem,
    baselines_table,
    columns_summary,
    evaluate_gates,
    gates_for,
    metrics_table,
    nothing_to_evaluate,
    parse_param,
    progress_callback,
    replay_summary,
    split_pair,
)

if TYPE_CHECKING:
    from tracer.online_models.baselines import BinaryComparison, ForecastComparison

__all__ = ["analyze_command", "eval_command"]


@click.command("eval")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--blueprint", "blueprint_id", required=True, help="Blueprint id, e.g. customer_churn.")
@click.option("--param", "params", multiple=True, metavar="K=V", help="A blueprint parameter (repeatable).")
@click.option(
    "--map", "mappings", multiple=True, metavar="INPUT=COLUMN",
    help="Read blueprint input INPUT from COLUMN where synonyms don't find it (repeatable).",
)  # fmt: skip
@click.option(
    "--gate", "gate_texts", multiple=True, metavar="METRIC>=VALUE",
    help="Override or add an SLO gate, e.g. auc>=0.7 or mape<=0.15 (repeatable).",
)  # fmt: skip
@click.option(
    "--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Where the report goes [default: reports/eval-<blueprint>.json]. A path ending in .html writes "
    "the HTML report with charts (learning curve, calibration, gains, drift) and the JSON beside it.",
)  # fmt: skip
@click.option(
    "--batch-size", type=click.IntRange(min=1), default=1, show_default=True,
    help="Rows scored together by the model as of the batch start, as the stream does.",
)  # fmt: skip
@click.option("--seed", type=int, default=42, show_default=True, help="Model seed.")
def eval_command(
    file: Path,
    blueprint_id: str,
    params: tuple[str, ...],
    mappings: tuple[str, ...],
    gate_texts: tuple[str, ...],
    report_path: Path | None,
    batch_size: int,
    seed: int,
) -> None:
    """Progressive validation of a blueprint on FILE (csv, parquet or jsonl), with SLO gates and
    baselines (base rate and a batch model, or naive and seasonal-naive forecasts) on the same rows.

    \b
    Exit codes:
      0  every gate is met
      1  a gate is missed (an undefined metric misses its gate)
      2  usage error (unknown blueprint, parameter or metric, bad value, unreadable file, missing
         inputs), or nothing to evaluate: no row scored, or no label learned (the reasons are printed)
    """
    from tracer.blueprints import registry
    from tracer.blueprints.errors import MissingInputsError, TracerError
    from tracer.blueprints.profiling import load_dataset
    from tracer.online_models import Deployment
    from tracer.online_models.baselines import compare_replay

    try:
        blueprint = registry.get(blueprint_id)
        given = dict(parse_param(text, blueprint.parameters, blueprint.id) for text in params)
        mapping = dict(split_pair(text, "--map", "last_activity_date=last_seen") for text in mappings)
        gates = gates_for(gate_texts, blueprint.task)
        frame = load_dataset(file)
        deployment: Deployment[Any] = Deployment(blueprint, given, column_mapping=mapping, seed=seed)
        resolution = deployment.resolve_frame(frame)  # missing inputs fail before the progress bar
        with click.progressbar(
            length=len(frame), label=f"{blueprint.id} ← {file.name}", file=sys.stderr
        ) as bar:
            report = deployment.replay(
                frame, batch_size=batch_size, progress=progress_callback(bar, len(frame))
            )
    except MissingInputsError as error:
        inputs = " ".join(f"--map {name}=<column>" for name in error.missing)
        raise UsageProblem(f"{error}\nOn the command line: {inputs}") from error
    except TracerError as error:
        raise UsageProblem(str(error)) from error
    except (OSError, ValueError) as error:
        raise UsageProblem(f"{file}: {type(error).__name__}: {error}") from error

    problem = nothing_to_evaluate(report, deployment.blueprint)
    comparison = None if problem else compare_replay(deployment, frame, report)
    gate_results = evaluate_gates(gates, report.metrics)
    passed = problem is None and all(result["passed"] for result in gate_results)
    path = report_path or Path("reports") / f"eval-{blueprint.id}.json"
    html_path = path if path.suffix.lower() in (".html", ".htm") else None
    if html_path is not None:
        path = html_path.with_suffix(".json")
    document = {
        "tracer_version": __version__,
        "blueprint": blueprint.id,
        "task": blueprint.task,
        "file": str(file),
        "params": deployment.params,
        "column_mapping": mapping,
        "columns": {name: column for name, column in resolution.columns.items() if column is not None},
        "chosen_columns": resolution.chosen,
        "time_formats": deployment.time_formats,
        "context": deployment.context.describe() if deployment.context is not None else None,
        "batch_size": batch_size,
        "seed": seed,
        "rows": report.n_rows,
        "scored": report.n_scored,
        "learned": report.n_learned,
        "errors": report.n_errors,
        "errors_by_reason": report.errors_by_reason,
        "first_error_by_reason": report.first_error_by_reason,
        "example_errors": list(report.example_errors),
        "nothing_to_evaluate": problem,
        "metrics": report.metrics,
        "baselines": _baselines_document(comparison),
        "gates": gate_results,
        "passed": passed,
        "seconds": round(report.seconds, 3),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")

    charts = ""
    if html_path is not None and problem is None:
        from tracer.agents.report import from_replay, write_report

        data = from_replay(report, blueprint.task, comparison, subject=f"{file.name} ({report.n_rows} rows)")
        charts = f", HTML report with charts to {write_report(data, html_path)}"
    click.echo(replay_summary(report, file))
    click.echo(columns_summary(resolution, deployment.time_formats, deployment.context))
    if problem is not None:
        raise UsageProblem(f"nothing to evaluate: {problem}\nReport written to {path}")
    click.echo(metrics_table(report, blueprint.task, gate_results))
    if comparison is not None:
        click.echo("")
        click.echo(baselines_table(comparison, report))
    missed = [r for r in gate_results if not r["passed"]]
    verdict = "PASS" if passed else f"FAIL: {len(missed)} of {len(gate_results)} gates missed"
    click.echo(f"{verdict}; report written to {path}{charts}")
    sys.exit(0 if passed else 1)


def _baselines_document(comparison: BinaryComparison | ForecastComparison | None) -> dict[str, Any] | None:
    """The comparison as plain JSON values, with its ratio (None when there is none)."""
    from tracer.online_models.baselines import ForecastComparison

    if comparison is None:
        return None
    document = dataclasses.asdict(comparison)
    if isinstance(comparison, ForecastComparison):
        document["mape_ratio"] = comparison.mape_ratio
    else:
        document["auc_ratio"] = comparison.auc_ratio
    return document


@click.command("analyze")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--json", "as_json", is_flag=True, help="Print the suggestions as JSON instead of a table.")
def analyze_command(files: tuple[Path, ...], as_json: bool) -> None:
    """Rank the blueprints by how well FILES (csv, parquet or jsonl) fit them, best first."""
    from tracer.blueprints.analysis import analyze, load_dataset, render_table
    from tracer.blueprints.errors import TracerError

    try:
        frames = {file.name: load_dataset(file) for file in files}
    except TracerError as error:
        raise UsageProblem(str(error)) from error
    except (OSError, ValueError) as error:
        raise UsageProblem(f"{type(error).__name__}: {error}") from error
    suggestions = analyze(frames)
    if as_json:
        click.echo(json.dumps([s.model_dump(mode="json") for s in suggestions], indent=2))
    else:
        click.echo(render_table(suggestions))
