"""Run a Faust app as a worker in this process."""

from __future__ import annotations

import logging

import faust
from faust.worker import Worker
from mode import Service

__all__ = ["run_worker"]


def run_worker(app: faust.App, *services: Service, loglevel: str = "warning") -> None:
    """Run ``app`` until SIGINT/SIGTERM.

    aiokafka and Faust log every sent message at debug level; building those records cost about
    12% of a relay's CPU in a profile, so their loggers are held at WARNING whatever the root level.
    """
    for name in ("aiokafka", "faust.transport", "faust.topics"):
        logging.getLogger(name).setLevel(logging.WARNING)
    Worker(app, *services, loglevel=loglevel, quiet=True, redirect_stdouts=False).execute_from_commandline()
