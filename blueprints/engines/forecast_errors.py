"""What a forecaster knows about its own errors, per series: one-step and window totals, and a covariate
correction learned from them.

* **one-step errors** feed a smoothed mean square; scaled to a window of ``n`` steps as for simple
  exponential smoothing (``Σ_{j<n} (1 + αj)²``, in closed form), they size the interval until enough
  windows have closed;
* **window errors**: realised totals over a window against the total forecast when it opened (one
  window opens every tenth of a window's rows, so they overlap but stay cheap);
* the **covariate correction** ``× (1 + θ · surprise)``: the relative one-step error is regressed (ridge,
  prior θ ~ N(0, 1)) on the covariate's surprise, its relative deviation from its own Holt forecast,
  so a jump in, say, active customers moves the forecast before the smoothed level catches up.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

__all__ = ["ErrorTracker"]

_MAX_SURPRISE = 0.5  # the covariate's relative surprise, clamped
_ALPHA, _BETA = 0.1, 0.01  # the covariate's Holt smoothing, and the α the one-step scaling assumes
_ERROR_MEMORY = 100  # error statistics weigh roughly the last this many errors
_MIN_WINDOWS = 10  # closed windows before their errors replace the one-step estimate
_WINDOWS_PER_SPAN = 3  # windows opened per window length of rows


def _steps_in(steps: float) -> int:
    return max(1, math.ceil(steps))


@dataclass(slots=True, eq=False)
class ErrorTracker:
    """One series' forecast errors and covariate correction."""

    n_errors: int = 0
    mean_sq_error_1: float = 0.0
    cum_value: float = 0.0
    pending: deque[tuple[float, float, float]] = field(default_factory=deque)  # (closes after, forecast, cum)
    n_windows: int = 0
    mean_sq_error_window: float = 0.0
    covariate_holt: tuple[float, float] | None = None  # (level, slope)
    su_u: float = 0.0
    su_r: float = 0.0
    mean_sq_relative_error: float = 0.0

    def add(self, y: float) -> None:
        """Count a learned value into the running total the windows are measured on."""
        self.cum_value += y

    def due_window(self, n_learned: int, window_steps: float) -> bool:
        """Whether a window opens after this row."""
        return n_learned % max(1, round(window_steps / _WINDOWS_PER_SPAN)) == 0

    def open_window(self, closes_after: float, forecast_total: float) -> None:
        """A window of rows up to clock ``closes_after``, forecast to total ``forecast_total``."""
        self.pending.append((closes_after, forecast_total, self.cum_value))

    def close_windows(self, clock: float) -> None:
        """Close the windows that end before a row at ``clock`` (called before that row is added)."""
        while self.pending and self.pending[0][0] < clock:
            _, forecast_total, cum_at_start = self.pending.popleft()
            error = self.cum_value - cum_at_start - forecast_total
            self.n_windows += 1
            weight = max(1.0 / self.n_windows, 1.0 / _ERROR_MEMORY)
            self.mean_sq_error_window += weight * (error * error - self.mean_sq_error_window)

    def rms(self, window_steps: float) -> float:
        """RMS error of a total over ``window_steps`` periods: realised windows, else scaled one-step errors."""
        whole = _steps_in(window_steps)
        if self.n_windows >= _MIN_WINDOWS:
            return math.sqrt(self.mean_sq_error_window) * window_steps / whole
        n, a = float(whole), _ALPHA
        factor = n + a * n * (n - 1.0) + a * a * (n - 1.0) * n * (2.0 * n - 1.0) / 6.0  # Σ (1 + αj)²
        return math.sqrt(self.mean_sq_error_1 * factor) * window_steps / whole

    def one_step(self, y: float, base: float, covariate: float | None) -> None:
        """Learn from the one-step error of forecast ``base`` (before correction) for value ``y``."""
        error = y - base * self.covariate_factor(covariate)
        self.n_errors += 1
        weight = max(1.0 / self.n_errors, 1.0 / _ERROR_MEMORY)
        self.mean_sq_error_1 += weight * (error * error - self.mean_sq_error_1)
        if covariate is None or covariate <= 0:
            return
        expected = self.covariate_expected()
        if expected is not None and abs(base) > 1e-9:
            # clamped as covariate_factor clamps it: a covariate far from its forecast (or a tiny,
            # subnormal forecast) must not overflow the regression's sums
            surprise = min(max(covariate / expected - 1.0, -_MAX_SURPRISE), _MAX_SURPRISE)
            relative_error = y / base - 1.0
            decay = 1.0 - 1.0 / _ERROR_MEMORY
            self.su_u = decay * self.su_u + surprise * surprise
            self.su_r = decay * self.su_r + surprise * relative_error
            self.mean_sq_relative_error += weight * (relative_error**2 - self.mean_sq_relative_error)
        level, slope = self.covariate_holt or (covariate, 0.0)
        new_level = _ALPHA * covariate + (1.0 - _ALPHA) * (level + slope)
        self.covariate_holt = (new_level, _BETA * (new_level - level) + (1.0 - _BETA) * slope)

    def covariate_expected(self) -> float | None:
        """The covariate's own Holt forecast, if positive."""
        if self.covariate_holt is None or sum(self.covariate_holt) <= 0:
            return None
        return sum(self.covariate_holt)

    def covariate_factor(self, covariate: float | None) -> float:
        """``1 + θ · surprise``: the relative change the covariate's surprise implies for the value.

        θ is the least-squares slope of the relative one-step error on the covariate's relative
        surprise, shrunk by a N(0, 1) prior (the mean squared relative error is the ridge term).
        """
        expected = self.covariate_expected()
        if covariate is None or expected is None or self.su_u <= 0.0:
            return 1.0
        surprise = min(max(covariate / expected - 1.0, -_MAX_SURPRISE), _MAX_SURPRISE)
        theta = self.su_r / (self.su_u + self.mean_sq_relative_error)
        return min(max(1.0 + theta * surprise, 0.5), 1.5)
