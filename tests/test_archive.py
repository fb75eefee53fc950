"""The archive as a whole: every blueprint is found by ``tracer analyze`` on its own sample, browsed by
category in the CLI, and shows the figures ``bench/quality.py`` measured (shipped, not typed by hand)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from click.testing import CliRunner

from tracer.agents.api.catalog import blueprint_details
from tracer.agents.cli import main
from tracer.blueprints import registry
from tracer.blueprints.actions import PROTOCOLS
from tracer.blueprints.analysis import analyze
from tracer.blueprints.base import Blueprint
from tracer.blueprints.performance import measured, measured_on, shipped
from tracer.online_models import Deployment, Scored

FINANCIAL_RISK = {
    "payment_default",
    "fraud_detection",
    "cash_flow_forecast",
    "insurance_claims",
    "portfolio_risk",
}


@pytest.mark.parametrize("blueprint", registry.list(), ids=lambda blueprint: blueprint.id)
def test_analyze_ranks_each_blueprint_first_on_its_own_sample(blueprint: type[Blueprint[Any, Any]]) -> None:
    suggestions = analyze({f"{blueprint.id}.csv": blueprint().sample(1500, 5)})
    assert suggestions[0].blueprint == blueprint.id, suggestions[:3]
    assert suggestions[0].compatibility > suggestions[1].compatibility


def test_every_blueprint_is_in_one_of_the_five_categories() -> None:
    assert registry.categories() == list(registry.CATEGORIES)
    assert {blueprint.category for blueprint in registry.list()} <= set(registry.CATEGORIES)


def test_the_cli_lists_a_category() -> None:
    result = CliRunner().invoke(main, ["blueprints", "list", "--category", "financial_risk", "--json"])
    assert result.exit_code == 0, result.output
    assert {summary["id"] for summary in json.loads(result.output)["blueprints"]} == FINANCIAL_RISK
    text = CliRunner().invoke(main, ["blueprints", "list", "--category", "financial_risk"]).output
    assert all(blueprint_id in text for blueprint_id in FINANCIAL_RISK) and "5 blueprints" in text


def test_the_cli_refuses_an_unknown_category_or_id_with_the_known_ones() -> None:
    result = CliRunner().invoke(main, ["blueprints", "list", "--category", "retail"])
    assert result.exit_code == 2 and "ecommerce_retail" in result.output
    result = CliRunner().invoke(main, ["blueprints", "show", "churn"])
    assert result.exit_code == 2 and "customer_churn" in result.output


def test_the_cli_shows_a_blueprint_whole() -> None:
    result = CliRunner().invoke(main, ["blueprints", "show", "payment_default"])
    assert result.exit_code == 0, result.output
    for expected in ("Payment Default Risk", "annual_income", "default_probability", "recommended_protocol",
                     "modeldata::credit_data (real)", "batch gradient boosting"):  # fmt: skip
        assert expected in result.output, expected


@pytest.mark.parametrize("blueprint", registry.list(), ids=lambda blueprint: blueprint.id)
def test_every_blueprint_ships_measured_figures(blueprint: type[Blueprint[Any, Any]]) -> None:
    figures = measured(blueprint.id)
    assert figures, f"no figure for {blueprint.id}: run `python bench/quality.py` and commit measured.json"
    for figure in figures:
        assert math.isfinite(figure.value) and math.isfinite(figure.baseline_value) and figure.baseline
        assert figure.met is None or figure.target
    assert [doc.dataset for doc in blueprint_details(blueprint.id).performance] == [
        f.dataset for f in figures
    ]
    assert measured_on()


def test_measured_figures_name_registered_blueprints() -> None:
    named = {figure.blueprint for figure in shipped()}
    assert named <= set(registry.ids()), named - set(registry.ids())
    assert measured("no_such_blueprint") == ()


@pytest.mark.parametrize("blueprint", registry.list(), ids=lambda blueprint: blueprint.id)
def test_every_recommended_protocol_is_in_the_archive_vocabulary(
    blueprint: type[Blueprint[Any, Any]],
) -> None:
    deployment: Deployment[Any] = Deployment(blueprint)
    scored: list[Scored[Any]] = []
    original = deployment.score_records

    def keep(items: Any) -> Any:
        results = original(items)
        scored.extend(result for result in results if isinstance(result, Scored))
        return results

    deployment.score_records = keep  # type: ignore[method-assign]
    deployment.replay(blueprint().sample(600, 4))
    named = set()
    for item in scored:
        for field, value in item.output.model_dump().items():
            if "protocol" in field:
                named.update(value if isinstance(value, list) else [value])
    assert named <= set(PROTOCOLS), named - set(PROTOCOLS)
