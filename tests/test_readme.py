"""Examples run: the deployments shown in the README and in examples/ are valid as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tracer.agents.deployments_file import DeploymentsFileError, check_spec, load_deployments
from tracer.schemas import DeploymentSpec

ROOT = Path(__file__).resolve().parent.parent


def test_readme_deployments_are_valid() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    assert blocks, "the README shows a deployments example"
    for block in blocks:
        for entry in yaml.safe_load(block)["deployments"]:
            assert check_spec(DeploymentSpec.model_validate(entry)) == []


def test_example_deployments_load() -> None:
    assert [spec.id for spec in load_deployments(ROOT / "examples" / "deployments.yaml")] == [
        "churn",
        "market-direction",
    ]


def _refusal(tmp_path: Path, deployments: str) -> str:
    """The error ``load_deployments`` gives for a file holding ``deployments``."""
    path = tmp_path / "deployments.yaml"
    path.write_text("deployments:\n" + deployments)
    with pytest.raises(DeploymentsFileError) as raised:
        load_deployments(path)
    return str(raised.value)


def test_an_invalid_spec_is_refused_naming_the_field(tmp_path: Path) -> None:
    message = _refusal(
        tmp_path,
        "  - {id: churn, blueprint: customer_churn, input_topics: [t], key_field: k,"
        " params: {predictionWindow: 45_days}}\n"
        "  - {id: Bad Id, blueprint: customer_churn, input_topics: [t], key_field: k}\n"
        "  - {id: x, blueprint: no_such_blueprint, input_topics: [t], key_field: k}\n",
    )
    assert "deployments[0] (churn).params: customer_churn: parameter predictionWindow='45_days'" in message
    assert "deployments[1] (Bad Id).id: String should match pattern" in message
    assert "deployments[2] (x).blueprint: no blueprint 'no_such_blueprint'" in message


def test_a_shadow_naming_an_unknown_model_or_a_bad_param_is_refused_naming_the_field(tmp_path: Path) -> None:
    message = _refusal(
        tmp_path,
        "  - {id: churn, blueprint: customer_churn, input_topics: [t], key_field: k,"
        " shadows: [{name: forest, model: random_forest}, {name: wide, params: {predictionWindow: 45_days}},"
        " {name: tree, model: hoeffding_tree}]}\n",
    )
    assert (
        "deployments[0] (churn).shadows[0].model: customer_churn offers no model 'random_forest'; "
        "it offers: hoeffding_tree" in message
    )
    assert (
        "deployments[0] (churn).shadows[1].params: customer_churn: parameter predictionWindow='45_days'"
        in message
    )
    assert "shadows[2]" not in message
