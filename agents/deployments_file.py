"""Load and check ``deployments.yaml``: the deployments a worker runs.

An invalid spec is refused at start-up with an error that names the file, the deployment and the
field, e.g. ``deployments.yaml: deployments[1] (churn).params.predictionWindow: ...``.

    deployments:
      - id: churn
        blueprint: customer_churn
        params: {churnDefinition: cancelled_subscription, predictionWindow: 30_days}
        input_topics: [crm.customers]
        key_field: customer_id
        column_mapping: {last_activity_date: last_login}
        labels: {mode: delayed, ttl_seconds: 86400}
    composites:
      - designation: retention
        components: [churn]                 # deployment ids, or blueprint ids each run by one deployment
        objective: minimize_churn_loss
        overrides: {monthly_value: 80}      # the objective's documented assumptions, changed

A composite is refused like a deployment, naming the field (``composites[0] (retention).components[1]:
...``): an unknown blueprint or deployment, entities that don't match, an objective that needs a
component it lacks, an unknown override.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tracer.blueprints import registry
from tracer.blueprints.errors import BlueprintNotFound, ParameterError
from tracer.online_models.composite import CompositeError, resolve
from tracer.schemas import DeploymentSpec
from tracer.schemas.composites import CompositeSpec

__all__ = ["DeploymentsFileError", "check_spec", "load_composites", "load_deployments"]


class DeploymentsFileError(ValueError):
    """The deployments file is invalid; the message names the file, the deployment and the field."""


def check_spec(spec: DeploymentSpec) -> list[str]:
    """Problems of a well-formed spec against its blueprint, each as ``field: message``."""
    try:
        blueprint = registry.get(spec.blueprint)
    except BlueprintNotFound as error:
        return [f"blueprint: {error}"]
    problems = []
    try:
        blueprint.resolve_params(spec.params)
    except ParameterError as error:
        problems.append(f"params: {error}")
    inputs = {spec_input.name for spec_input in blueprint.inputs()}
    for name in spec.column_mapping:
        if name not in inputs:
            problems.append(
                f"column_mapping.{name}: {blueprint.id} has no input {name!r}; inputs: {', '.join(sorted(inputs))}"
            )
    for index, shadow in enumerate(spec.shadows):
        try:
            blueprint.resolve_params({**spec.params, **shadow.params})
        except ParameterError as error:
            problems.append(f"shadows[{index}].params: {error}")
        if shadow.model is not None and shadow.model not in blueprint.challenger_models:
            offered = ", ".join(blueprint.challenger_models) or "none"
            problems.append(
                f"shadows[{index}].model: {blueprint.id} offers no model {shadow.model!r}; it offers: {offered}"
            )
    if spec.labels.mode == "self" and not blueprint.self_labelling:
        labelling = ", ".join(b for b in registry.ids() if registry.get(b).self_labelling) or "none"
        problems.append(
            f"labels.mode: 'self' needs a self-labelling blueprint ({labelling}); {blueprint.id} is not one"
        )
    return problems


def _read(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise DeploymentsFileError(f"{path}: {error}") from error


def load_composites(path: Path, deployments: list[DeploymentSpec]) -> list[CompositeSpec]:
    """The file's ``composites:`` (none if absent), each checked against the file's ``deployments``;
    raise DeploymentsFileError listing all problems."""
    document = _read(path)
    entries = document.get("composites") if isinstance(document, dict) else None
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise DeploymentsFileError(f"{path}: 'composites:' must be a list")
    running = {spec.id: spec for spec in deployments}
    specs, problems = [], []
    for index, entry in enumerate(entries):
        name = entry.get("designation") if isinstance(entry, dict) else None
        label = f"composites[{index}]" + (f" ({name})" if name else "")
        try:
            spec = CompositeSpec.model_validate(entry)
            resolve(spec, running, registry.ids())
        except ValidationError as error:
            for detail in error.errors(include_url=False):
                where = ".".join(str(part) for part in detail["loc"]) or "entry"
                problems.append(f"{label}.{where}: {detail['msg']}")
            continue
        except CompositeError as error:
            problems.append(f"{label}.{error}")
            continue
        specs.append(spec)
    if problems:
        raise DeploymentsFileError(f"{path}: invalid composite:\n  " + "\n  ".join(problems))
    return specs


def load_deployments(path: Path) -> list[DeploymentSpec]:
    """Parse and check every deployment in ``path``; raise DeploymentsFileError listing all problems."""
    document = _read(path)
    if not isinstance(document, dict) or not isinstance(document.get("deployments"), list):
        raise DeploymentsFileError(f"{path}: expected a top-level 'deployments:' list")
    specs: list[DeploymentSpec] = []
    problems: list[str] = []
    seen: set[str] = set()
    for index, entry in enumerate(document["deployments"]):
        label = f"deployments[{index}]" + (
            f" ({entry.get('id')})" if isinstance(entry, dict) and entry.get("id") else ""
        )
        try:
            spec = DeploymentSpec.model_validate(entry)
        except ValidationError as error:
            for detail in error.errors(include_url=False):
                where = ".".join(str(part) for part in detail["loc"]) or "entry"
                problems.append(f"{label}.{where}: {detail['msg']}")
            continue
        if spec.id in seen:
            problems.append(f"{label}.id: duplicate deployment id {spec.id!r}")
        seen.add(spec.id)
        problems.extend(f"{label}.{problem}" for problem in check_spec(spec))
        specs.append(spec)
    if problems:
        raise DeploymentsFileError(f"{path}: invalid deployment spec:\n  " + "\n  ".join(problems))
    return specs
