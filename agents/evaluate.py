"""What ``tracer eval`` needs besides the replay: typed ``--param`` values, SLO gates and their
verdicts, the report's table and summary, why nothing could be evaluated, and the baselines beside
the blueprint's figures (the commands are in :mod:`tracer.agents.cli_evaluate`; the baselines are
computed by :mod:`tracer.online_models.baselines`).

Classifiers report AUC, accuracy, and precision and recall in the top 20% of scores; the default
gates are seed 002's SLOs (``auc>=0.62``, ``precision@20>=0.58``, ``recall@20>=0.40``). Regressors and
forecasters report MAE, RMSE and MAPE and have no default gate. ``--gate`` replaces the default gate of
the same metric or adds one; ``<=`` gates suit error metrics (``--gate mape<=0.15``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import click

from tracer.schemas import ParamValue

if TYPE_CHECKING:  # the commands import these when they run: every ``tracer`` command loads this module
    from tracer.blueprints.base import Blueprint, ParamSpec, Task
    from tracer.blueprints.context import ContextProfile
    from tracer.blueprints.inputs import ColumnResolution
    from tracer.online_models import ReplayReport
    from tracer.online_models.baselines import BinaryComparison, ForecastComparison

__all__ = [
    "DEFAULT_GATES",
    "Gate",
    "UsageProblem",
    "baselines_table",
    "columns_summary",
    "evaluate_gates",
    "gates_for",
    "metrics_table",
    "nothing_to_evaluate",
    "parse_gate",
    "parse_param",
    "progress_callback",
    "replay_summary",
    "split_pair",
]

Operator = Literal[">=", "<="]

METRICS: dict[str, dict[str, str]] = {
    "binary": {
        "auc": "auc",
        "roc_auc": "auc",
        "accuracy": "accuracy",
        "acc": "accuracy",
        "logloss": "logloss",
        "precision@20": "precision_at_20pct",
        "precision@20%": "precision_at_20pct",
        "p@20": "precision_at_20pct",
        "precision_at_20pct": "precision_at_20pct",
        "recall@20": "recall_at_20pct",
        "recall@20%": "recall_at_20pct",
        "r@20": "recall_at_20pct",
        "recall_at_20pct": "recall_at_20pct",
    },
    "regression": {"mae": "mae", "rmse": "rmse", "mape": "mape"},
    "multiclass": {"accuracy": "accuracy", "acc": "accuracy", "logloss": "logloss"},
}
"""Names a gate may use (lower case) -> the metric's key in a replay report, per kind of task."""
GATE_NAMES = {
    "binary": ("auc", "accuracy", "logloss", "precision@20", "recall@20"),
    "regression": ("mae", "rmse", "mape"),
    "multiclass": ("accuracy", "logloss"),
}
"""The names error messages suggest."""

SHOWN: dict[str, tuple[tuple[str, str, str], ...]] = {
    "binary": (
        ("auc", "AUC", "{:.4f}"),
        ("accuracy", "accuracy", "{:.4f}"),
        ("precision_at_20pct", "precision@20%", "{:.4f}"),
        ("recall_at_20pct", "recall@20%", "{:.4f}"),
        ("logloss", "log loss", "{:.4f}"),
        ("positive_rate", "positive rate", "{:.4f}"),
    ),
    "regression": (
        ("mae", "MAE", "{:.4g}"),
        ("rmse", "RMSE", "{:.4g}"),
        ("mape", "MAPE", "{:.2%}"),
    ),
    "multiclass": (("accuracy", "accuracy", "{:.4f}"), ("logloss", "log loss", "{:.4f}")),
}
"""The metrics the table shows, in order: report key, label, format."""


@dataclass(frozen=True)
class Gate:
    """An SLO gate: ``metric op threshold``, with ``metric`` a report key such as ``precision_at_20pct``."""

    metric: str
    op: Operator
    threshold: float

    def __str__(self) -> str:
        return f"{self.op} {self.threshold:g}"

    def passes(self, value: float | None) -> bool:
        """Whether ``value`` meets the gate; an undefined value never does."""
        if value is None or not math.isfinite(value):
            return False
        return value >= self.threshold if self.op == ">=" else value <= self.threshold


DEFAULT_GATES: dict[str, tuple[Gate, ...]] = {
    "binary": (
        Gate("auc", ">=", 0.62),
        Gate("precision_at_20pct", ">=", 0.58),
        Gate("recall_at_20pct", ">=", 0.40),
    ),
    "regression": (),
    "multiclass": (),
}
"""Seed 002's SLO gates for classifiers; none for regression, forecasts and multi-class tasks."""


class UsageProblem(click.ClickException):
    """The command can't run as asked, or the file leaves nothing to evaluate (exit code 2); the
    message says what to change."""

    exit_code = 2


def _kind(task: Task) -> str:
    return task if task in ("binary", "multiclass") else "regression"


# -- parsing the options -----------------------------------------------------------------------------


def split_pair(text: str, option: str, example: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise UsageProblem(f"{option} {text!r}: expected NAME=VALUE, e.g. {option} {example}")
    return name.strip(), value.strip()


def _coerce(text: str, spec: ParamSpec) -> ParamValue:
    """``text`` as the type of the parameter's allowed values (or its default's type)."""
    if spec.allowed is not None:
        for allowed in spec.allowed:
            if str(allowed) == text:
                return allowed
        for allowed in spec.allowed:
            if isinstance(allowed, int | float) and not isinstance(allowed, bool):
                try:
                    if float(text) == float(allowed):
                        return allowed
                except ValueError:
                    break
        return text  # resolve_params names the allowed values
    default = spec.default
    try:
        if isinstance(default, bool):
            lowered = text.lower()
            if lowered in ("true", "yes", "1", "on"):
                return True
            if lowered in ("false", "no", "0", "off"):
                return False
            raise ValueError(text)
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
    except ValueError:
        raise UsageProblem(
            f"--param {spec.name}={text}: expected {type(default).__name__} (default {default!r})"
        ) from None
    return text


def parse_param(text: str, specs: Sequence[ParamSpec], blueprint_id: str) -> tuple[str, ParamValue]:
    """``k=v`` typed by the blueprint's ParamSpec ``k`` (``"300"`` -> ``300`` for an int parameter).

    >>> from tracer.blueprints.recipes.price_movement import PriceMovement
    >>> parse_param("horizonSeconds=300", PriceMovement.parameters, "price_movement")
    ('horizonSeconds', 300)
    """
    name, value = split_pair(text, "--param", "predictionWindow=60_days")
    by_name = {spec.name: spec for spec in specs}
    if name not in by_name:
        known = ", ".join(by_name) or "none"
        raise UsageProblem(f"{blueprint_id}: unknown parameter {name!r}; known: {known}")
    return name, _coerce(value, by_name[name])


def parse_gate(text: str, task: Task) -> Gate:
    """``metric>=value`` or ``metric<=value``, the metric named as the table names it or by its report key.

    >>> parse_gate("P@20>=0.5", "binary")
    Gate(metric='precision_at_20pct', op='>=', threshold=0.5)
    """
    for op in (">=", "<="):
        name, sep, value = text.partition(op)
        if sep:
            break
    else:
        raise UsageProblem(f"--gate {text!r}: expected METRIC>=VALUE or METRIC<=VALUE, e.g. --gate auc>=0.62")
    names = METRICS[_kind(task)]
    metric = names.get(name.strip().lower())
    if metric is None:
        known = ", ".join(GATE_NAMES[_kind(task)])
        raise UsageProblem(
            f"--gate {text!r}: no metric {name.strip()!r} for a {task} blueprint; use one of {known}"
        )
    try:
        threshold = float(value)
    except ValueError:
        raise UsageProblem(f"--gate {text!r}: {value.strip()!r} is not a number") from None
    if not math.isfinite(threshold):
        raise UsageProblem(f"--gate {text!r}: the threshold must be finite")
    return Gate(metric, ">=" if op == ">=" else "<=", threshold)


def gates_for(overrides: Sequence[str], task: Task) -> list[Gate]:
    """The default gates of the task, each replaced by an override of the same metric; new ones appended."""
    gates = {gate.metric: gate for gate in DEFAULT_GATES[_kind(task)]}
    for text in overrides:
        gate = parse_gate(text, task)
        gates[gate.metric] = gate
    return list(gates.values())


def evaluate_gates(gates: Sequence[Gate], metrics: Mapping[str, float]) -> list[dict[str, Any]]:
    """Each gate with the measured value (None when undefined) and whether it passed.

    >>> evaluate_gates([Gate("auc", ">=", 0.62)], {"auc": 0.7})
    [{'metric': 'auc', 'op': '>=', 'threshold': 0.62, 'value': 0.7, 'passed': True}]
    """
    results = []
    for gate in gates:
        value = metrics.get(gate.metric)
        results.append({**asdict(gate), "value": value, "passed": gate.passes(value)})
    return results


# -- running and reporting ---------------------------------------------------------------------------


def progress_callback(bar: Any, total: int) -> Callable[[int, int], None]:
    """A replay progress callback that moves ``bar`` at most ~200 times, whatever the row count."""
    step = max(1, total // 200)
    shown = 0

    def update(done: int, _total: int) -> None:
        nonlocal shown
        if done - shown >= step or done >= total:
            bar.update(done - shown)
            shown = done

    return update


def metrics_table(report: ReplayReport, task: Task, gate_results: Sequence[dict[str, Any]]) -> str:
    """The metrics the task shows (and any other gated one), each with its gate and verdict."""
    shown = {key: (label, fmt) for key, label, fmt in SHOWN[_kind(task)]}
    by_metric = {result["metric"]: result for result in gate_results}
    rows: list[tuple[str, ...]] = [("metric", "value", "gate", "result")]
    for key in [*shown, *(metric for metric in by_metric if metric not in shown)]:
        label, fmt = shown.get(key, (key, "{:.4g}"))
        value, result = report.metrics.get(key), by_metric.get(key)
        if value is None and result is None:
            continue
        cell = "undefined" if value is None or not math.isfinite(value) else fmt.format(value)
        if result is None:
            rows.append((label, cell, "", ""))
        else:
            verdict = "pass" if result["passed"] else "FAIL"
            rows.append((label, cell, f"{result['op']} {result['threshold']:g}", verdict))
    return "\n".join(_table(rows))


def replay_summary(report: ReplayReport, file: Path) -> str:
    errors = ""
    if report.n_errors:
        reasons = ", ".join(f"{reason}: {n}" for reason, n in sorted(report.errors_by_reason.items()))
        errors = f", {report.n_errors} dead-lettered ({reasons})"
    return (
        f"{report.blueprint} on {file.name}: {report.n_rows} rows, {report.n_scored} scored, "
        f"{report.n_learned} labels learned{errors}, in {report.seconds:.2f} s"
    )


def nothing_to_evaluate(report: ReplayReport, blueprint: Blueprint[Any, Any]) -> str | None:
    """Why the replay leaves nothing to measure (no row scored, or no label learned), or None.

    Names each dead-letter reason with its count and its first error (which gives the column and row):
    ``0 of 592 rows scored: 592 wrong_type (column 'Date', row 0: '1998 Q1' is not a timestamp ...)``.
    """
    if report.n_scored and report.n_learned:
        return None
    reasons = "; ".join(
        f"{n} {reason} ({report.first_error_by_reason.get(reason, 'no example kept')})"
        for reason, n in sorted(report.errors_by_reason.items(), key=lambda item: -item[1])
    )
    if not report.n_rows:
        return "the file has no rows"
    if not report.n_scored:
        return f"0 of {report.n_rows} rows scored: {reasons}"
    dead = f"; {report.n_errors} dead-lettered: {reasons}" if reasons else ""
    label = blueprint.label.column
    if label is None:
        outcome = f"no prediction was settled by a later row ({blueprint.label.rule or blueprint.label.description})"
    else:
        outcome = (
            f"the file has no usable outcome (label column {label.name!r}, or one of: "
            f"{', '.join(label.synonyms)}; on the command line: --map {label.name}=<column>)"
        )
    return f"{report.n_scored} of {report.n_rows} rows scored, but no labels were learned: {outcome}{dead}"


def _cell(value: float | None, fmt: str) -> str:
    return "undefined" if value is None or not math.isfinite(value) else fmt.format(value)


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.insert(1, "-" * max(len(line) for line in lines))
    return lines


def baselines_table(comparison: BinaryComparison | ForecastComparison, report: ReplayReport) -> str:
    """The baselines beside the blueprint's figures on the same rows, and the ratio that says how it fares."""
    from tracer.online_models.baselines import BinaryComparison

    metrics = report.metrics
    if isinstance(comparison, BinaryComparison):
        c = comparison
        rows: list[tuple[str, ...]] = [
            ("model", "AUC", "accuracy", "rows", "note"),
            ("blueprint (progressive)", _cell(metrics.get("auc"), "{:.4f}"),
             _cell(metrics.get("accuracy"), "{:.4f}"), str(report.n_learned), "whole file"),
        ]  # fmt: skip
        for figures in (c.blueprint, c.base_rate, c.batch):
            note = figures.note or ("last 30%, still learning" if figures is c.blueprint else "")
            rows.append((figures.name, _cell(figures.auc, "{:.4f}"), _cell(figures.accuracy, "{:.4f}"),
                         str(c.n_test), note))  # fmt: skip
        ratio = c.auc_ratio
        head = (
            f"Baselines on the last 30% of the labelled rows in replay order ({c.n_test} rows; "
            f"the batch model is fitted on the first {c.n_train}, on {len(c.columns)} columns):"
        )
        tail = f"blueprint AUC / batch AUC on the last 30%: {_cell(ratio, '{:.3f}')}"
        return "\n".join([head, *_table(rows), tail])
    f = comparison
    rows = [
        ("model", "MAE", "MAPE", "rows", "note"),
        ("blueprint (progressive)", _cell(metrics.get("mae"), "{:.4g}"), _cell(metrics.get("mape"), "{:.2%}"),
         str(report.n_learned), "whole file"),
    ]  # fmt: skip
    for errors in (f.blueprint, f.naive, f.seasonal_naive):
        note = errors.note or ("same rows as the baselines" if errors is f.blueprint else "")
        rows.append(
            (errors.name, _cell(errors.mae, "{:.4g}"), _cell(errors.mape, "{:.2%}"), str(f.n_rows), note)
        )
    best = f.best_baseline
    head = (
        f"Baselines, one step ahead in each series, on the {f.n_rows} scored rows whose series has "
        f"{f.min_history} earlier value(s) (season length {f.season_length}, from {f.season_source}):"
    )
    tail = f"blueprint MAPE / better baseline MAPE ({best.name if best else 'none'}): {_cell(f.mape_ratio, '{:.3f}')}"
    return "\n".join([head, *_table(rows), tail])


def columns_summary(
    resolution: ColumnResolution, time_formats: Mapping[str, str], context: ContextProfile | None
) -> str:
    """Which column fed each input (and why, where no name said so), how dates were read, and what
    the context learned from and left out.

    >>> from tracer.blueprints.inputs import resolve_columns
    >>> from tracer.blueprints.recipes.revenue_forecast import RevenueForecast
    >>> resolution = resolve_columns(RevenueForecast, ["Month", "Visitors"], numeric_columns=["Visitors"])
    >>> print(columns_summary(resolution, {"Month": "auto"}, None))
    columns: revenue <- Visitors (the only numeric column); date <- Month (dates: auto)
    """
    parts = []
    for name, column in resolution.columns.items():
        if column is None:
            continue
        why = " (the only numeric column)" if name in resolution.chosen else ""
        dates = f" (dates: {time_formats[column]})" if column in time_formats else ""
        parts.append(f"{name} <- {column}{why}{dates}")
    parts += [f"{name} <- {stand_in}({column})" for name, (stand_in, column) in resolution.stand_ins.items()]
    lines = ["columns: " + ("; ".join(parts) or "none of the inputs")]
    if context is not None:
        used = ", ".join(context.describe()["used"]) or "none"
        left = "; ".join(f"{column}: {why}" for column, why in context.left_out) or "none"
        lines.append(f"context: learned from {used}; left out {left}")
    return "\n".join(lines)
