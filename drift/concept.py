"""Concept drift: a rise in the model's error once labels arrive, found by ADWIN with a warning zone.

Two ADWIN detectors (``river.drift.ADWIN``) watch the same error stream. The strict one (``delta``) confirms
drift; the loose one (``warning_delta``) opens a *warning zone* first, the way DDM's warning level does,
which the ``retrain`` reaction uses to start a background model. Only a *rise* in error counts: ADWIN also
flags drops (a model that is learning), and those restart the windows without an alert.

Why ADWIN and not DDM for 0/1 errors (figures from ``bench/drift.py``, changes after 20k stable errors):
DDM compares against the error rate since its last reset, so its delay grows with the stable period
(10% -> 20%: 1,372 events on average against ADWIN's 297), and it raised 8 to 58 false alarms per ten
runs at low error rates, where ADWIN raised none in 700k stationary errors.

Regression errors are absolute errors. ADWIN's bound assumes values in about ``[0, 1]``, so they are divided
by the mean absolute error of the first ``calibration_events`` errors (and clipped at ``error_clip``);
statistics in alerts are converted back to the error's own units.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from river import drift as river_drift

__all__ = ["ErrorDriftConfig", "ErrorDriftDetector", "Outcome", "adwin_bound"]

Outcome = Literal["binary", "regression"]
FloatArray = npt.NDArray[np.float64]

_MIN_SUBWINDOW = 5
"""River's ADWIN ``min_window_length``: the smallest sub-window it tests."""
_HISTORY = 4096
"""Latest errors kept to report the split of a detection."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorDriftConfig:
    """Settings of an :class:`ErrorDriftDetector`."""

    delta: float = 0.002
    """ADWIN confidence for confirmed drift (smaller: fewer false alarms, later detection)."""
    warning_delta: float | None = 0.05
    """ADWIN confidence for the warning zone; ``None`` turns the warning zone off."""
    warning_timeout_events: int = 1000
    """A warning not confirmed by drift within this many errors clears."""
    clock: int = 32
    """ADWIN checks for a cut every this many errors."""
    calibration_events: int = 200
    """Regression only: errors used to set the scale, after start and after every detected change."""
    error_clip: float = 10.0
    """Regression only: scaled errors above this are clipped, so one outlier cannot fire an alarm."""
    alert_on_improvement: bool = False
    """Also report a significant *drop* in error as drift."""

    def __post_init__(self) -> None:
        if not 0.0 < self.delta < 1.0:
            raise ValueError(f"ErrorDriftConfig.delta must be in (0, 1), got {self.delta}")
        if self.warning_delta is not None and not self.delta < self.warning_delta < 1.0:
            raise ValueError(
                f"ErrorDriftConfig.warning_delta must be in (delta, 1) so warnings come before drift, "
                f"got {self.warning_delta} with delta={self.delta}; or set it to None"
            )
        for name in ("warning_timeout_events", "clock", "calibration_events"):
            if getattr(self, name) < 1:
                raise ValueError(f"ErrorDriftConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not self.error_clip > 0.0:
            raise ValueError(f"ErrorDriftConfig.error_clip must be > 0, got {self.error_clip}")


def adwin_bound(n_reference: int, n_current: int, variance: float, delta: float) -> float:
    """ADWIN's cut threshold ``epsilon`` for two sub-windows (Bifet and Gavaldà 2007, as in River).

    The means of the sub-windows differ significantly when their gap exceeds this value; ``variance`` is
    the variance of the whole window.

    >>> round(adwin_bound(1000, 200, 0.09, 0.002), 4)
    0.1348
    """
    reference = np.array([n_reference], dtype=np.float64)
    current = np.array([n_current], dtype=np.float64)
    return float(_adwin_bounds(reference, current, variance, delta, n_reference + n_current)[0])


def _adwin_bounds(
    n_reference: FloatArray, n_current: FloatArray, variance: float, delta: float, width: int
) -> FloatArray:
    delta_prime = math.log(2.0 * math.log(max(width, 3)) / delta)
    m_recip = 1.0 / np.maximum(n_reference - _MIN_SUBWINDOW + 1, 1.0) + 1.0 / np.maximum(
        n_current - _MIN_SUBWINDOW + 1, 1.0
    )
    bounds: FloatArray = np.sqrt(2.0 * m_recip * variance * delta_prime) + 2.0 / 3.0 * delta_prime * m_recip
    return bounds


class _Window:
    """One ADWIN plus the running sums needed to tell a rise from a drop when it cuts.

    With ``history`` > 0 it also keeps the latest errors, to report the most significant split exactly
    (River's ADWIN cuts on bucket boundaries and does not expose the split it tested).
    """

    __slots__ = ("_recent", "adwin", "delta", "n", "total", "total_sq")

    def __init__(self, delta: float, clock: int, history: int = 0) -> None:
        self.delta = delta
        self.adwin: Any = river_drift.ADWIN(delta=delta, clock=clock)  # type: ignore[no-untyped-call]
        self._recent: deque[float] | None = deque(maxlen=history) if history else None
        self.n = 0
        self.total = 0.0
        self.total_sq = 0.0

    def update(self, x: float) -> bool:
        self.n += 1
        self.total += x
        self.total_sq += x * x
        if self._recent is not None:
            self._recent.append(x)
        # ``ADWIN.update`` without its wrapper (half of this call's time): river 0.26 (pinned) resets a
        # detector that flagged drift on its next value, then updates its Rust window
        adwin = self.adwin
        if adwin._drift_detected:
            adwin._reset()
        detected: bool = adwin._helper.update(x)
        adwin._drift_detected = detected
        return detected

    def rose(self) -> bool:
        """After a cut: whether the newer part of the window has the higher mean."""
        n_current = int(self.adwin.width)
        current_total = float(self.adwin.total)
        n_reference = self.n - n_current
        rose = (
            n_reference > 0
            and n_current > 0
            and current_total / n_current > (self.total - current_total) / n_reference
        )
        return rose

    def best_split(self, rise: bool) -> tuple[int, int, float, float]:
        """After a cut: the split of the window where the change is most significant.

        Returns (reference size, current size, change of the mean, ADWIN bound for that split), the
        change being current minus reference. Needs ``history``.
        """
        assert self._recent is not None
        recent = np.fromiter(reversed(self._recent), dtype=np.float64, count=len(self._recent))
        n_current = np.arange(1, recent.size + 1, dtype=np.float64)
        current_total = np.cumsum(recent)
        n_reference = self.n - n_current
        valid = (n_current >= _MIN_SUBWINDOW) & (n_reference >= _MIN_SUBWINDOW)
        if not valid.any():
            valid = n_reference >= 1
        n_current, current_total, n_reference = n_current[valid], current_total[valid], n_reference[valid]
        change = current_total / n_current - (self.total - current_total) / n_reference
        mean = self.total / self.n
        variance = max(self.total_sq / self.n - mean * mean, 0.0)
        bound = _adwin_bounds(n_reference, n_current, variance, self.delta, self.n)
        margin = (change if rise else -change) - bound
        best = int(np.argmax(margin))
        return int(n_reference[best]), int(n_current[best]), float(change[best]), float(bound[best])

    def restart_sums(self) -> None:
        """River's ADWIN restarts from the next value on after a cut; follow it."""
        self.n, self.total, self.total_sq = 0, 0.0, 0.0
        if self._recent is not None:
            self._recent.clear()


class ErrorDriftDetector:
    """Concept drift on a stream of prediction errors: ``update(error)``, then read the flags.

    ``outcome='binary'``: ``error`` is 1 (or ``True``) for a wrong prediction and 0 for a right one.
    ``outcome='regression'``: ``error`` is the prediction error; its absolute value is used.
    NaN, infinity, ``None`` and non-numbers are skipped.

    After ``update``, ``drift_detected`` is true on the error at which a rise was confirmed and
    ``warning_detected`` while the warning zone is open. On a detection ``statistic`` is the rise of the
    mean error (current minus reference sub-window), ``threshold`` ADWIN's bound for those sub-windows, and
    ``reference_events`` / ``current_events`` their sizes.

    >>> import random
    >>> rng = random.Random(1)
    >>> detector = ErrorDriftDetector("binary")
    >>> errors = [rng.random() < 0.1 for _ in range(3000)] + [rng.random() < 0.3 for _ in range(3000)]
    >>> [i for i, wrong in enumerate(errors) if detector.update(wrong)]
    [3135]
    """

    __slots__ = (
        "_calibration_left",
        "_calibration_total",
        "_drift",
        "_scale",
        "_warning",
        "_warning_age",
        "config",
        "current_events",
        "drift_detected",
        "outcome",
        "reference_events",
        "statistic",
        "threshold",
        "warning_detected",
    )

    def __init__(self, outcome: Outcome = "binary", config: ErrorDriftConfig | None = None) -> None:
        if outcome not in ("binary", "regression"):
            raise ValueError(f"outcome must be 'binary' or 'regression', got {outcome!r}")
        self.outcome: Outcome = outcome
        self.config = config if config is not None else ErrorDriftConfig()
        self.reset()

    def reset(self) -> None:
        """Forget all errors seen (for instance after the live model was replaced)."""
        self.drift_detected = False
        self.warning_detected = False
        self.statistic = 0.0
        self.threshold = 0.0
        self.reference_events = 0
        self.current_events = 0
        self._restart_windows()

    def _restart_windows(self) -> None:
        config = self.config
        self._drift = _Window(config.delta, config.clock, history=_HISTORY)
        self._warning = (
            _Window(config.warning_delta, config.clock) if config.warning_delta is not None else None
        )
        self._warning_age = 0
        self.warning_detected = False
        self._scale = 1.0
        self._calibration_left = config.calibration_events if self.outcome == "regression" else 0
        self._calibration_total = 0.0

    @property
    def calibrating(self) -> bool:
        """Whether the detector is still measuring the error scale (regression) and cannot fire yet."""
        return self._calibration_left > 0

    def update(self, error: float | bool) -> bool:
        """Add one error; return ``drift_detected`` (``warning_detected`` is readable afterwards)."""
        self.drift_detected = False
        if (error is True or error is False) and self.outcome == "binary":
            x = 1.0 if error else 0.0  # a classifier's error, the usual case
        else:
            scaled = self._scaled(error)
            if scaled is None:
                return False
            x = scaled
        warning = self._warning
        if warning is not None:
            if warning.update(x):
                self.warning_detected = warning.rose()
                warning.restart_sums()
                self._warning_age = 0
            elif self.warning_detected:
                self._warning_age += 1
                if self._warning_age > self.config.warning_timeout_events:
                    self.warning_detected = False
        if self._drift.update(x):
            return self._on_cut()
        return False

    def _scaled(self, error: float | bool) -> float | None:
        """What the windows take for ``error``; None for a value skipped (not finite, or calibrating)."""
        try:
            if not math.isfinite(error):
                return None
        except (TypeError, OverflowError):
            return None
        if self.outcome == "binary":
            return min(max(float(error), 0.0), 1.0)
        absolute = abs(float(error))
        if self._calibration_left:
            self._calibration_left -= 1
            self._calibration_total += absolute
            if not self._calibration_left:
                mean_absolute = self._calibration_total / self.config.calibration_events
                self._scale = mean_absolute if mean_absolute > 0.0 else 1.0
            return None
        return min(absolute / self._scale, self.config.error_clip)

    def _on_cut(self) -> bool:
        window = self._drift
        rise = window.rose()
        if rise or self.config.alert_on_improvement:
            n_reference, n_current, change, bound = window.best_split(rise)
            self.drift_detected = True
            self.statistic = change * self._scale
            self.threshold = bound * self._scale
            self.reference_events = n_reference
            self.current_events = n_current
        window.restart_sums()
        if self.outcome == "regression":
            # The error's scale has changed: measure it again and restart both windows in the new units.
            self._restart_windows()
        elif rise and self.config.warning_delta is not None:
            # The warning zone ends with the confirmed drift; watch the new concept from scratch.
            self._warning = _Window(self.config.warning_delta, self.config.clock)
            self._warning_age = 0
            self.warning_detected = False
        return self.drift_detected
