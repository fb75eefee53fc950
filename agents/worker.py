"""Run a Faust app as a worker in this process."""

from __future__ import annotations

import faulthandler
import gc
import logging
import sys

import faust
from faust.worker import Worker
from mode import Service

from tracer.agents import log_throttle

__all__ = ["STOP_DEADLINE_S", "import_pandas_without_arrow", "quiet_garbage_collector", "run_worker"]


GC_YOUNG_THRESHOLD = 20_000
"""Allocations between young collections (CPython's default is 700)."""


def quiet_garbage_collector() -> None:
    """Collect once, freeze what survives (it is never scanned again), and collect the young less often."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


def import_pandas_without_arrow() -> None:
    """Import pandas so that it does not load pyarrow; call it before anything imports pandas.

    pandas 3 imports pyarrow when it is installed, only to back its string dtype with Arrow. That
    costs the worker about 33 MB resident (measured: 213 -> 180 MB once its modules are imported),
    and nothing the worker does needs Arrow: strings then use pandas' own Python storage, with the
    same values and missing-value semantics. pyarrow stays installed and importable afterwards; a
    parquet upload loads it when it reads the file. Does nothing if pandas is already imported.
    """
    if "pandas" in sys.modules or "pyarrow" in sys.modules:
        return
    sys.modules["pyarrow"] = None  # type: ignore[assignment]  # import pyarrow raises ImportError
    try:
        import pandas  # noqa: F401
    finally:
        del sys.modules["pyarrow"]


STOP_DEADLINE_S = 45.0
"""A stop that has not ended the process this long after it began ends it: every thread's stack is
written to stderr and the process exits with status 1. A clean stop takes 1.4-1.5 s (README); the model
state does not depend on it (a restart restores the last checkpoint and replays the gap, as after
``kill -9``), so a stuck stop is cut short and made visible rather than left hanging."""


class _Worker(Worker):
    """Faust's worker, with a deadline on its stop and repeated log lines collapsed."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        super().on_setup_root_logger(logger, level)
        log_throttle.install()

    async def on_stop(self) -> None:
        faulthandler.dump_traceback_later(STOP_DEADLINE_S, exit=True)
        await super().on_stop()


def run_worker(app: faust.App, *services: Service, loglevel: str = "warning") -> None:
    """Run ``app`` until SIGINT/SIGTERM.

    aiokafka and Faust log every sent message at debug level; building those records cost about
    12% of a relay's CPU in a profile, so their loggers are held at WARNING whatever the root level.

    Garbage collection: everything alive once the worker is built (modules, classes, the app) is
    frozen out of the collector's scans, and young collections run less often. A full collection
    walks every tracked object; before this, with the libraries imported and a churn model's state,
    one took up to 120 ms, and those pauses were the worker's p99 latency. Model state is mostly
    dicts and tuples of numbers, which reference counting frees without the collector.

    A stop has a deadline (:data:`STOP_DEADLINE_S`). While the broker is down, a log line repeated
    (aiokafka's and our own connection errors) is written once a minute with its count
    (:mod:`tracer.agents.log_throttle`).
    """
    for name in ("aiokafka", "faust.transport", "faust.topics"):
        logging.getLogger(name).setLevel(logging.WARNING)
    quiet_garbage_collector()
    _Worker(app, *services, loglevel=loglevel, quiet=True, redirect_stdouts=False).execute_from_commandline()
