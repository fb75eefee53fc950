"""Custom Prometheus collectors behind :class:`~tracer.agents.metrics.TracerMetrics`.

They are kept apart from the metric names and labels, which live in :mod:`tracer.agents.metrics`:

- :class:`BatchHistogram` (with one :class:`HistogramChild` per label set) takes a whole batch of
  observations at once: it buckets them with :func:`bisect.bisect_left` and takes its lock once per
  batch, instead of once per observation, which keeps histogram work off the per-event hot path;
- :class:`CheckpointAgeCollector` reports ``tracer_checkpoint_age_seconds`` at scrape time, so the
  age grows between checkpoints without anything updating it.

Both register themselves in the :class:`~prometheus_client.CollectorRegistry` they are given.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Final, cast

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

__all__ = ["BatchHistogram", "CheckpointAgeCollector", "HistogramChild"]

_go_float = cast(Callable[[float], str], floatToGoString)  # the `le` spelling prometheus_client uses


class HistogramChild:
    """One label set of a :class:`BatchHistogram`: per-bucket counts and a sum, updated per batch."""

    __slots__ = ("_bounds", "_counts", "_lock", "_sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self._bounds = bounds
        self._counts = [0] * len(bounds)
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe_many(self, values: Sequence[float]) -> None:
        """Add a batch of observations; NaN and infinities are dropped so the sum stays finite."""
        if not values:
            return
        total = sum(values)
        if not math.isfinite(total):
            values = [value for value in values if math.isfinite(value)]
            total = sum(values)
        bounds = self._bounds
        increments = [0] * len(bounds)
        for value in values:
            increments[bisect.bisect_left(bounds, value)] += 1
        with self._lock:
            counts = self._counts
            for index, increment in enumerate(increments):
                if increment:
                    counts[index] += increment
            self._sum += total

    def snapshot(self) -> tuple[list[int], float]:
        """Return the non-cumulative bucket counts and the sum, read together."""
        with self._lock:
            return list(self._counts), self._sum


class BatchHistogram:
    """A histogram collector whose children take a whole batch of observations at once."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        buckets: Sequence[float],
        registry: CollectorRegistry,
    ) -> None:
        if list(buckets) != sorted(buckets) or not all(math.isfinite(bound) for bound in buckets):
            raise ValueError(f"histogram {name}: buckets must be finite and ascending, got {buckets!r}")
        self._name = name
        self._documentation = documentation
        self._labelnames = tuple(labelnames)
        self._bounds = (*(float(bound) for bound in buckets), math.inf)
        self._le = [_go_float(bound) for bound in self._bounds]
        self._children: dict[tuple[str, ...], HistogramChild] = {}
        self._lock = threading.Lock()
        registry.register(self)

    def labels(self, *labelvalues: str) -> HistogramChild:
        """Return the child for these label values (in ``labelnames`` order), creating it once."""
        child = self._children.get(labelvalues)
        if child is None:
            if len(labelvalues) != len(self._labelnames):
                raise ValueError(
                    f"histogram {self._name}: expected labels {self._labelnames}, got {labelvalues}"
                )
            with self._lock:
                child = self._children.setdefault(labelvalues, HistogramChild(self._bounds))
        return child

    def describe(self) -> Iterable[Metric]:
        """Name the series this collector produces, so the registry can refuse duplicates."""
        return [HistogramMetricFamily(self._name, self._documentation, labels=self._labelnames)]

    def collect(self) -> Iterable[Metric]:
        """Yield the histogram with cumulative buckets, as Prometheus expects."""
        family = HistogramMetricFamily(self._name, self._documentation, labels=self._labelnames)
        with self._lock:
            children = list(self._children.items())
        for labelvalues, child in children:
            counts, total = child.snapshot()
            cumulative = 0
            buckets: list[tuple[str, float]] = []
            for le, count in zip(self._le, counts, strict=True):
                cumulative += count
                buckets.append((le, cumulative))
            family.add_metric(list(labelvalues), buckets, total)
        return [family]


class CheckpointAgeCollector:
    """Reports ``tracer_checkpoint_age_seconds`` at scrape time, so the age grows between checkpoints."""

    name: Final = "tracer_checkpoint_age_seconds"
    documentation: Final = "Seconds since the deployment last wrote a checkpoint (or started, if it has not)."

    def __init__(self, clock: Callable[[], float], registry: CollectorRegistry) -> None:
        self._clock = clock
        self._last_checkpoint: dict[str, float] = {}
        registry.register(self)

    def start(self, deployment: str) -> None:
        """Start the clock for a deployment that has not checkpointed yet."""
        self._last_checkpoint.setdefault(deployment, self._clock())

    def written(self, deployment: str) -> None:
        """Reset the age of a deployment to zero."""
        self._last_checkpoint[deployment] = self._clock()

    def forget(self, deployment: str) -> None:
        """Stop reporting a deployment."""
        self._last_checkpoint.pop(deployment, None)

    def describe(self) -> Iterable[Metric]:
        """Name the series this collector produces."""
        return [GaugeMetricFamily(self.name, self.documentation, labels=["deployment"])]

    def collect(self) -> Iterator[Metric]:
        """Yield the age of every known deployment's last checkpoint."""
        now = self._clock()
        family = GaugeMetricFamily(self.name, self.documentation, labels=["deployment"])
        for deployment, written_at in list(self._last_checkpoint.items()):
            family.add_metric([deployment], max(0.0, now - written_at))
        yield family
