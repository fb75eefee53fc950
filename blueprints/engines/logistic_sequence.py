"""Learn a run of rows one by one through ``ScaleAndEncode() | LogisticRegression(SGD)``, exactly as
that pipeline's ``learn_one`` would learn them, in one pass.

Row-by-row SGD can't be vectorised (each step starts from the previous one's weights), so the work
that can be hoisted out of the loop is: the weights leave River's ``VectorDict`` for a plain dict for
the whole run and go back once; the learning rates, the loss's weights, the L2 factor and the
clipping bound are read once; no per-row pipeline, mask, gradient vector or optimizer dispatch.
What stays is the arithmetic itself, written in the order River writes it, so every float comes
out the same, bit for bit (tested against River's own ``learn_one``):

1. the scaler's running count, mean and variance of each numeric feature (Welford, as River's
   ``StandardScaler.learn_one``), then the row scaled with them (``(x - mean) / var ** 0.5``, 0 when
   the variance is 0) after the string features' one-hot columns;
2. the logit: the weights' dot product with the scaled row, in its key order, plus the intercept;
3. the log loss's gradient at that logit (River's ``Log.gradient``, its ±18 cut-offs included),
   clipped;
4. the intercept steps by the intercept learning rate; each weight of the row's features by the
   learning rate times (value × gradient + L2 × weight).

Only the exact configuration is taken this way (:func:`learns_exactly`): a constant-rate plain SGD,
no L1, zero-initialised weights, the log loss, an unwindowed scaler. Anything else is learned by the
pipeline itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from river import linear_model, optim, utils

from tracer.blueprints.base import Features

if TYPE_CHECKING:
    from tracer.blueprints.engines.scale_encode import RiverX, ScaleAndEncode

__all__ = ["learn_in_order", "learns_exactly"]


def learns_exactly(route: ScaleAndEncode, glm: Any) -> bool:
    """Whether :func:`learn_in_order` reproduces ``learn_one`` of ``route | glm`` for this configuration."""
    optimizer, scaler = glm.optimizer, route.scaler
    return (
        type(glm) is linear_model.LogisticRegression
        and type(optimizer) is optim.SGD
        and type(optimizer.lr) is optim.schedulers.Constant
        and type(glm.intercept_lr) is optim.schedulers.Constant
        and type(glm.loss) is optim.losses.Log
        and type(glm.initializer) is optim.initializers.Zeros
        and glm.l1 == 0
        and getattr(scaler, "window_size", None) is None
        and getattr(scaler, "with_std", False) is True
    )


def learn_in_order(
    route: ScaleAndEncode,
    glm: Any,
    rows: Sequence[Features],
    ys: Sequence[bool],
    split: Callable[[Features], tuple[RiverX, RiverX]],
) -> None:
    """``learn_one(row, y)`` of ``route | glm`` for each row in order; ``split`` gives a row's
    (numeric, string) features as ``ScaleAndEncode.split_one`` does. Check :func:`learns_exactly` first."""
    scaler: Any = route.scaler  # River's StandardScaler: a Counter and two defaultdicts, updated in place
    counts, means, variances = scaler.counts, scaler.means, scaler.vars
    optimizer, loss = glm.optimizer, glm.loss
    weights: dict[Any, float] = glm._weights.to_dict()
    intercept: float = glm.intercept
    rate = optimizer.learning_rate
    intercept_rate = glm.intercept_lr.get(optimizer.n_iterations)
    l2, clip = glm.l2, glm.clip_gradient
    positive, negative = loss.weight_pos, loss.weight_neg
    exp, get = math.exp, weights.get
    for x, y in zip(rows, ys, strict=True):
        numeric, categorical = split(x)
        z: RiverX = {f"{key}_{label}": 1 for key, label in categorical.items()} if categorical else {}
        logit = 0.0
        for key in z:
            logit += get(key, 0.0)  # a one-hot value is 1
        for key, value in numeric.items():  # a feature's statistics are its own: update, then scale
            n = counts[key] + 1
            counts[key] = n
            old_mean = means[key]
            mean = means[key] = old_mean + (value - old_mean) / n
            variance = variances[key] = (
                variances[key] + ((value - old_mean) * (value - mean) - variances[key]) / n
            )
            scaled = z[key] = (value - mean) / variance**0.5 if variance else 0.0
            logit += get(key, 0.0) * scaled
        if len(z) != len(numeric) + len(categorical):  # a numeric feature named like a one-hot column:
            logit = 0.0  # it took that column's place in z, so sum in z's order after all
            for key, value in z.items():
                logit += get(key, 0.0) * value
        logit += intercept
        sign, weight = (1, positive) if y else (-1, negative)
        margin = logit * sign
        if margin > 18.0:
            gradient = weight * exp(-margin) * -sign
        elif margin < -18.0:
            gradient = weight * -sign
        else:
            gradient = weight * -sign / (exp(margin) + 1.0)
        gradient = float(max(min(gradient, clip), -clip))
        intercept -= intercept_rate * gradient
        for key, value in z.items():
            old = get(key, 0.0)
            weights[key] = old - rate * (value * gradient + l2 * old)
    glm.intercept = intercept
    glm._weights = utils.VectorDict(weights)
    optimizer.n_iterations += len(rows)
