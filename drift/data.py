"""A windowed two-sample Kolmogorov-Smirnov test: data drift on one feature, prediction drift on scores.

The detector keeps a fixed *reference* window (the first ``reference_events`` finite values after it was
anchored) and a sliding *current* window (the latest ``window_events`` values). Every
``check_every_events`` values it computes the KS statistic ``D`` (the largest gap between the two
empirical CDFs, read at the reference's quantiles) and flags drift when ``D`` exceeds the asymptotic
critical value for ``alpha`` (and ``min_statistic``), widened for autocorrelated features. After a detection it re-anchors: the next values build a fresh reference, so one
shift gives one detection, not a stream of them. Nothing is random, so a stream always gives the same
detections.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from tracer.drift.stats import FloatArray, ks_critical_value, max_autocorrelation

__all__ = ["Detection", "WindowedKS", "WindowedKSConfig"]

_MAX_AUTOCORRELATION = 0.99


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowedKSConfig:
    """Settings of a :class:`WindowedKS` detector.

    With the defaults, ``bench/drift.py`` measured no false alarm over 300k stationary events on each of
    five kinds of feature (including a strongly autocorrelated one), and found a shift of half a standard
    deviation after 430 events on average (600 at most).

    >>> WindowedKSConfig(alpha=1e-4).threshold
    0.1407...
    """

    reference_events: int = 500
    """Finite values in the reference window (collected after each (re)anchoring)."""
    window_events: int = 500
    """Finite values in the sliding current window."""
    check_every_events: int = 100
    """Run the test every this many values once the current window is full."""
    alpha: float = 1e-5
    """Significance level of each test; many tests run per stream, so keep it small."""
    min_statistic: float = 0.1
    """Never flag a gap between the CDFs smaller than this, whatever the window sizes."""
    skip_first_events: int = 0
    """Ignore this many finite values after construction or :meth:`WindowedKS.reset` (model warm-up)."""
    quantiles: int = 100
    """Reference quantiles at which the two CDFs are compared (see :class:`WindowedKS`)."""
    autocorrelation_correction: bool = True
    """Widen the threshold by ``sqrt((1 + r) / (1 - r))``, ``r`` the reference's largest autocorrelation
    at lags 1 to 8 (``max_autocorrelation``: a stream interleaving entities shows it past lag 1).

    The KS test assumes independent values; a feature that moves slowly (a rolling volatility, an RSI)
    holds fewer independent values than its window, and without this correction it raises false alarms.
    """

    def __post_init__(self) -> None:
        for name in ("reference_events", "window_events", "check_every_events", "quantiles"):
            if getattr(self, name) < 1:
                raise ValueError(f"WindowedKSConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.check_every_events > self.window_events:
            raise ValueError(
                f"WindowedKSConfig.check_every_events ({self.check_every_events}) must not exceed "
                f"window_events ({self.window_events}); lower it or widen the window"
            )
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"WindowedKSConfig.alpha must be in (0, 1), got {self.alpha}")
        if not 0.0 <= self.min_statistic < 1.0:
            raise ValueError(f"WindowedKSConfig.min_statistic must be in [0, 1), got {self.min_statistic}")
        if self.skip_first_events < 0:
            raise ValueError(f"WindowedKSConfig.skip_first_events must be >= 0, got {self.skip_first_events}")

    @property
    def threshold(self) -> float:
        """The statistic above which a window is flagged, for independent values.

        ``max(critical value, min_statistic)``; with ``autocorrelation_correction`` a detector widens the
        critical value for each reference it anchors (see :attr:`WindowedKS.threshold`).
        """
        return self.threshold_for(0.0)

    def threshold_for(self, autocorrelation: float) -> float:
        """The threshold for a reference whose autocorrelation (:func:`max_autocorrelation`) is ``autocorrelation``."""
        critical = ks_critical_value(self.reference_events, self.window_events, self.alpha)
        if self.autocorrelation_correction:
            r = min(max(autocorrelation, 0.0), _MAX_AUTOCORRELATION)
            critical *= math.sqrt((1.0 + r) / (1.0 - r))
        return max(critical, self.min_statistic)


class Detection(NamedTuple):
    """One detection inside a batch: its row, and the statistic against the threshold then in force."""

    row: int
    statistic: float
    threshold: float


class WindowedKS:
    """Drift in the distribution of one numeric stream, River-style: ``update(x)``, then ``drift_detected``.

    NaN, infinity, ``None`` and non-numbers are skipped and do not count towards any window.

    The statistic is the KS distance evaluated just below and at each of the reference's ``quantiles``
    quantiles. That is exact for features with up to about that many distinct values and never larger
    than the exact statistic, so the critical value stays valid. :meth:`update` only queues the value;
    the queue is binned and counted with numpy each time it reaches the next check (or the end of the
    reference window), so single updates and :meth:`update_many` run the same code on the same chunks
    and give the same detections.

    >>> import random
    >>> rng = random.Random(7)
    >>> detector = WindowedKS()
    >>> stream = [rng.gauss(0, 1) for _ in range(2000)] + [rng.gauss(1, 1) for _ in range(2000)]
    >>> [i for i, x in enumerate(stream) if detector.update(x)]
    [2299]
    """

    __slots__ = (
        "_anchored",
        "_due",
        "_edges",
        "_n_current",
        "_n_reference",
        "_pending",
        "_reference",
        "_reference_cdf",
        "_ring",
        "_skip_left",
        "config",
        "drift_detected",
        "statistic",
        "threshold",
    )

    def __init__(self, config: WindowedKSConfig | None = None) -> None:
        self.config = config if config is not None else WindowedKSConfig()
        self._reference: FloatArray = np.empty(self.config.reference_events, dtype=np.float64)
        self._ring: npt.NDArray[np.intp] = np.zeros(self.config.window_events, dtype=np.intp)
        self._pending: list[float] = []
        self.drift_detected = False
        self.statistic = 0.0
        self.reset()

    def reset(self) -> None:
        """Forget everything, including the warm-up already skipped."""
        self._skip_left = self.config.skip_first_events
        self._pending.clear()
        self._reanchor()
        self.drift_detected = False
        self.statistic = 0.0
        self.threshold = self.config.threshold

    def _reanchor(self) -> None:
        self._n_reference = 0
        self._n_current = 0
        self._anchored = False
        self._edges: FloatArray = np.empty(0, dtype=np.float64)
        self._reference_cdf: FloatArray = np.empty(0, dtype=np.float64)
        self._set_due()

    def _set_due(self) -> None:
        """How many more values until something has to be computed (end of warm-up, reference, check)."""
        if self._skip_left:
            self._due = self._skip_left
        elif not self._anchored:
            self._due = self._reference.size - self._n_reference
        else:
            window, n_current = self.config.window_events, self._n_current
            if n_current < window:
                self._due = window - n_current
            else:
                every = self.config.check_every_events
                self._due = every - (n_current - window) % every

    @property
    def reference_events(self) -> int:
        """Values in the reference window now (``reference_events`` once it is complete)."""
        if self._anchored:
            return self._reference.size
        return self._n_reference + (0 if self._skip_left else len(self._pending))

    @property
    def current_events(self) -> int:
        """Values in the current window now."""
        if not self._anchored:
            return 0
        return min(self._n_current + len(self._pending), self.config.window_events)

    def update(self, x: float) -> bool:
        """Add one value; return ``drift_detected`` (also readable afterwards)."""
        self.drift_detected = False
        try:
            if not math.isfinite(x):
                return False
        except (TypeError, OverflowError):
            return False
        pending = self._pending
        pending.append(x)
        if len(pending) < self._due:
            return False
        chunk = np.array(pending, dtype=np.float64)
        pending.clear()
        return self._advance(chunk)

    def update_many(self, values: FloatArray) -> list[Detection]:
        """Add a batch of values; return a :class:`Detection` for each one.

        Gives exactly the detections that calling :meth:`update` on each value would. ``drift_detected``
        afterwards tells whether the last value triggered a detection.

        >>> import numpy as np
        >>> config = WindowedKSConfig(reference_events=50, window_events=50, check_every_events=10)
        >>> detector = WindowedKS(config)
        >>> detector.update_many(np.concatenate((np.zeros(100), np.ones(100), [np.nan])))
        [Detection(row=129, statistic=0.6, threshold=0.49...)]
        """
        self.drift_detected = False
        finite_index = np.flatnonzero(np.isfinite(values))
        finite = values[finite_index]
        hits: list[Detection] = []
        i, total = 0, finite.size
        # Bins of the rest of the batch, computed once while the reference's quantiles stay the same.
        binned: npt.NDArray[np.intp] | None = None
        binned_from = 0
        while i < total:
            pending = self._pending
            need = self._due - len(pending)
            if total - i < need:
                pending.extend(finite[i:].tolist())
                break
            chunk = finite[i : i + need]
            bins = None
            if pending:
                chunk = np.concatenate((np.array(pending, dtype=np.float64), chunk))
                pending.clear()
            elif self._anchored and not self._skip_left:
                if binned is None:
                    binned, binned_from = self._bins(finite[i:]), i
                bins = binned[i - binned_from : i - binned_from + need]
            i += need
            detected = self._advance(chunk, bins)
            if detected:
                hits.append(Detection(int(finite_index[i - 1]), self.statistic, self.threshold))
            if detected or not self._anchored:
                binned = None
        self.drift_detected = bool(hits) and hits[-1].row == values.size - 1
        return hits

    def _advance(self, chunk: FloatArray, bins: npt.NDArray[np.intp] | None = None) -> bool:
        """Apply exactly ``_due`` values (with their bins, if known); return whether a check found drift."""
        detected = False
        if self._skip_left:
            self._skip_left -= chunk.size
        elif not self._anchored:
            self._reference[self._n_reference : self._n_reference + chunk.size] = chunk
            self._n_reference += chunk.size
            if self._n_reference == self._reference.size:
                self._anchor()
        else:
            self._count(self._bins(chunk) if bins is None else bins)
            if self._n_current >= self.config.window_events:
                detected = self._test()
        self._set_due()
        self.drift_detected = detected
        return detected

    def _bins(self, values: FloatArray) -> npt.NDArray[np.intp]:
        """Bin ``2k`` holds values between quantile edges ``k - 1`` and ``k``; bin ``2k + 1`` equals edge ``k``."""
        edges = self._edges
        bins: npt.NDArray[np.intp] = edges.searchsorted(values, side="left")
        bins += edges.searchsorted(values, side="right")
        return bins

    def _count(self, bins: npt.NDArray[np.intp]) -> None:
        """Write ``bins`` into the ring that holds the current window's bins, oldest first out."""
        window, ring = self.config.window_events, self._ring
        start = self._n_current % window
        end = start + bins.size
        if end <= window:
            ring[start:end] = bins
        else:
            ring[start:] = bins[: window - start]
            ring[: end - window] = bins[window - start :]
        self._n_current += bins.size

    def _anchor(self) -> None:
        reference = self._reference
        quantiles = np.linspace(0.0, 1.0, self.config.quantiles + 1)
        self._edges = np.unique(np.quantile(reference, quantiles))
        n_bins = 2 * self._edges.size + 1
        reference_counts = np.bincount(self._bins(reference), minlength=n_bins)
        # In units of current-window counts, so a test is one cumulative sum and one subtraction.
        self._reference_cdf = np.cumsum(reference_counts, dtype=np.float64)
        self._reference_cdf *= self.config.window_events / reference.size
        self._anchored = True
        if self.config.autocorrelation_correction:
            self.threshold = self.config.threshold_for(max_autocorrelation(reference))

    def _test(self) -> bool:
        current_cdf = np.bincount(self._ring, minlength=self._reference_cdf.size).cumsum()
        self.statistic = float(np.abs(current_cdf - self._reference_cdf).max()) / self.config.window_events
        if self.statistic > self.threshold:
            self._reanchor()
            return True
        return False
