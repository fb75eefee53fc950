"""A scored micro-batch's explanations, read once from the linear model's matrices, for the outputs
built row by row.

Many recipes name the features pushing a score up (their risk vectors or drivers) in ``postprocess``,
one row at a time, through :func:`~tracer.blueprints.tasks.pushing_features`, which asks the model to
explain that row again (``contributions`` and ``scaled_values``: the row's transform, a dict per row).
When a batch was just scored on the linear route, the model already holds the same figures for every
row as matrices (``explained_block``). Inside :func:`explaining_batch`, :func:`explained_row` answers
for a row of that batch from them: each row's ``(share, feature, above its usual)`` with a positive
share, ranked once, then cut at the caller's ``min_logit``. The figures are the row-by-row ones to
within float rounding (``tests/test_linear_rows.py``), as churn's ``postprocess_many`` reads them.

A row is recognised by identity (the very dict in the batch), so any other row, another model, a
batch the model did not just score or a model that learned since falls back to the row's own
explanation. The batch is held per thread, for the duration of the ``with`` block only.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np

from tracer.blueprints.protocols import offers_block_explaining

if TYPE_CHECKING:  # base imports this module, for its default ``postprocess_many``
    from tracer.blueprints.base import Features, OnlineModel

__all__ = ["Ranked", "explained_row", "explaining_batch"]

Ranked = list[tuple[float, str, bool]]
"""``(share, feature, above its usual)``, largest first, as ``pushing_features`` ranks them."""


class _Batch:
    """The batch being explained; its rows are ranked on the first question (a recipe that names no
    drivers never asks)."""

    __slots__ = ("_index", "_ranked", "model", "rows")

    def __init__(self, rows: Sequence[Features], model: OnlineModel) -> None:
        self.rows = rows
        self.model = model
        self._index: dict[int, int] | None = None
        self._ranked: list[Ranked] | None = None

    def position(self, features: Features) -> int | None:
        """Where ``features`` (that very dict) is in the batch, if it is."""
        if self._index is None:
            self._index = {id(row): position for position, row in enumerate(self.rows)}
        position = self._index.get(id(features))
        return position if position is not None and self.rows[position] is features else None

    def ranked(self, position: int) -> Ranked | None:
        if self._ranked is None:
            ranked = _ranked_rows(self.rows, self.model)
            if ranked is None:  # the model learned since, or scored other rows: each row explains itself
                self._index = {}
                return None
            self._ranked = ranked
        return self._ranked[position]


_current = threading.local()


def _ranked_rows(rows: Sequence[Features], model: OnlineModel) -> list[Ranked] | None:
    """Each row's features with a positive share, ranked; None if the model holds no block for ``rows``."""
    block = model.explained_block(rows) if offers_block_explaining(model) else None
    if block is None:
        return None
    pushing: list[Ranked] = [[] for _ in rows]
    at, columns = np.nonzero(block.shares > 0.0)
    if len(at):
        shares = block.shares[at, columns].tolist()
        rising = (block.scaled[at, columns] > 0).tolist()
        numeric = block.numeric
        for r, c, share, up in zip(at.tolist(), columns.tolist(), shares, rising, strict=True):
            pushing[r].append((share, numeric[c], up))
    for r, feature, share in block.one_hot:
        if share > 0.0:  # a string feature has no scaled value: never "above its usual"
            pushing[r].append((share, feature, False))
    for ranked in pushing:
        if len(ranked) > 1:
            ranked.sort(reverse=True)
    return pushing


@contextmanager
def explaining_batch(rows: Sequence[Features], model: OnlineModel) -> Iterator[None]:
    """While inside, :func:`explained_row` answers for the rows of ``rows`` (just scored by ``model``
    with ``predict_rows(rows)``, that very sequence) from the model's matrices."""
    previous = getattr(_current, "batch", None)
    explains = offers_block_explaining(model)
    _current.batch = _Batch(rows, model) if explains else None
    try:
        yield
    finally:
        _current.batch = previous


def explained_row(features: Features, model: OnlineModel, min_logit: float) -> Ranked | None:
    """``pushing_features(features, model, min_logit)`` from the batch being explained, or None when
    ``features`` is no row of it (or ``min_logit`` is not positive): then the row explains itself."""
    batch: _Batch | None = getattr(_current, "batch", None)
    if batch is None or batch.model is not model or not min_logit > 0.0:
        return None
    position = batch.position(features)
    if position is None:
        return None
    ranked = batch.ranked(position)
    if ranked is None:
        return None
    cut = 0
    while cut < len(ranked) and ranked[cut][0] >= min_logit:
        cut += 1
    return ranked[:cut]
