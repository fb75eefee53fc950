"""What scoring produces: a :class:`Scored` row, and the :class:`Captured` features a label is learned from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel

from tracer.blueprints.base import Features

__all__ = ["Captured", "RowId", "Scored"]

OutputT = TypeVar("OutputT", bound=BaseModel)
RowId = int | str | None
"""Where a row came from (a position, an index label, an offset), used to say where an error is."""


@dataclass(slots=True)
class Captured:
    """The features a prediction was made from, kept under its key until its label arrives."""

    key: str
    features: Features
    score: float
    time_s: float | None
    model_version: int


@dataclass(slots=True)
class Scored(Generic[OutputT]):
    """One scored record: the output, the raw score, the features captured, and any label it carries.

    ``revealed`` holds ``(prediction_key, label)`` pairs this record settles for earlier predictions.
    """

    key: str
    output: OutputT
    features: Features
    score: float
    label: float | None
    time_s: float | None
    row: RowId = None
    revealed: tuple[tuple[str, float], ...] = ()
