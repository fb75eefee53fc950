"""What each blueprint measured in ``bench/quality.py``, shipped with the package, never typed by hand.

``python bench/quality.py`` runs every blueprint on real public data (and, where none ships in a
package, on its generator against a known ceiling) and writes its figures to ``measured.json``
beside this module; the archive (``GET /blueprints/{id}``, ``tracer blueprints show``) reads them
from here. A figure is the dataset it ran on, whether the data is real or generated, the metric
values with the baseline computed in the same run, and the verdict against the target.

>>> figures = measured("payment_default")
>>> all(figure.data in ("real", "generated") for figure in figures)
True
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

__all__ = ["MEASURED_FILE", "Measured", "measured", "measured_on", "shipped", "write_measured"]

MEASURED_FILE = "measured.json"


@dataclass(frozen=True)
class Measured:
    """One figure of ``bench/quality.py``: a blueprint on one dataset, against a baseline."""

    blueprint: str
    dataset: str
    data: Literal["real", "generated"]
    metric: str
    """What ``value`` is: ``progressive AUC``, ``one-step MAPE``..."""
    value: float
    baseline: str
    """What it was set against, measured in the same run: ``batch gradient boosting``, ``naive``..."""
    baseline_value: float
    ratio: float
    target: str
    """The target for ``ratio``, e.g. ``>= 0.97``; empty where the figure is shown for context only."""
    met: bool | None
    """Whether ``ratio`` meets ``target``; None without a target."""
    extra: Mapping[str, float] = field(default_factory=dict)
    """Further figures of the same run (µs per event, a second metric...)."""


@functools.cache
def _load() -> tuple[str, tuple[Measured, ...]]:
    source = resources.files("tracer.blueprints").joinpath(MEASURED_FILE)
    if not source.is_file():
        return "", ()
    document: dict[str, Any] = json.loads(source.read_text(encoding="utf-8"))
    return str(document.get("measured_on", "")), tuple(Measured(**figure) for figure in document["figures"])


def measured(blueprint_id: str) -> tuple[Measured, ...]:
    """The figures ``bench/quality.py`` last measured for ``blueprint_id`` (empty if none)."""
    return tuple(figure for figure in _load()[1] if figure.blueprint == blueprint_id)


def shipped() -> tuple[Measured, ...]:
    """Every figure the package ships."""
    return _load()[1]


def measured_on() -> str:
    """When the shipped figures were measured (ISO date; empty if none ship)."""
    return _load()[0]


def write_measured(path: Path, figures: Sequence[Measured], measured_on: str, command: str) -> None:
    """Write ``figures`` as the package's ``measured.json`` (sorted, so a re-run diffs cleanly)."""
    ordered = sorted(figures, key=lambda figure: (figure.blueprint, figure.data, figure.dataset))
    document = {
        "command": command,
        "measured_on": measured_on,
        "figures": [{**asdict(figure), "extra": dict(figure.extra)} for figure in ordered],
    }
    path.write_text(json.dumps(document, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    _load.cache_clear()
