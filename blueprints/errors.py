"""Errors a person can act on. The whole tree, drawn once:

    TracerError
    ├── BlueprintNotFound        no blueprint has that id (names the ones that exist)
    ├── ParameterError           a blueprint parameter is unknown or has a value it doesn't allow
    └── InputError               a record or a dataset doesn't fit the blueprint's inputs
        ├── MissingInputsError   required inputs absent (names each, with the synonyms looked for)
        └── InvalidValueError    a value has the wrong type or isn't finite (names column, row, value)

Every ``InputError`` carries a :class:`~tracer.schemas.ReasonCode`, so the streaming layer turns it
into a dead letter without parsing messages.
"""

from __future__ import annotations

from collections.abc import Sequence

from tracer.schemas import ReasonCode

__all__ = [
    "BlueprintNotFound",
    "InputError",
    "InvalidValueError",
    "MissingInputsError",
    "ParameterError",
    "TracerError",
]


class TracerError(Exception):
    """Base class of every error Tracer raises on purpose."""


class BlueprintNotFound(TracerError, KeyError):
    """No blueprint is registered under this id."""

    def __init__(self, blueprint_id: str, known: Sequence[str]) -> None:
        self.blueprint_id = blueprint_id
        super().__init__(f"no blueprint {blueprint_id!r}; known blueprints: {', '.join(sorted(known))}")

    def __str__(self) -> str:
        return str(self.args[0])


class ParameterError(TracerError, ValueError):
    """A parameter is unknown to the blueprint, or has a value it doesn't allow."""


class InputError(TracerError, ValueError):
    """A record or dataset doesn't fit the blueprint's inputs."""

    reason: ReasonCode = ReasonCode.INVALID_VALUE


class MissingInputsError(InputError):
    """Required inputs are absent. ``missing`` maps each input to the column names that were looked for."""

    reason = ReasonCode.MISSING_FIELD

    def __init__(self, blueprint_id: str, missing: dict[str, Sequence[str]]) -> None:
        self.missing = {name: tuple(looked_for) for name, looked_for in missing.items()}
        lines = [f"  - {name} (looked for: {', '.join(cols)})" for name, cols in self.missing.items()]
        super().__init__(
            f"{blueprint_id}: missing required input(s):\n" + "\n".join(lines) + "\n"
            "Rename a column, or map it with column_mapping={'<input>': '<your column>'}."
        )


class InvalidValueError(InputError):
    """A value has the wrong type or is not finite. Names the column, the row and the value."""

    def __init__(
        self,
        column: str,
        value: object,
        expected: str,
        *,
        row: int | str | None = None,
        reason: ReasonCode = ReasonCode.WRONG_TYPE,
    ) -> None:
        self.column, self.value, self.expected, self.row = column, value, expected, row
        self.reason = reason
        where = f"column {column!r}" + (f", row {row}" if row is not None else "")
        super().__init__(f"{where}: {value!r} is not {expected}")
