"""The paced load of the latency runs: a feeder writes ``key<TAB>value`` lines on time into kcat.

The load generator shares the machine with the system it measures. ``tracer produce --rate`` sends
each record through aiokafka from Python: at 9,000 churn events/s it took 24-32% of a core on the
2-core bench machine, CPU the worker, its router and the broker then lacked. kcat (librdkafka, in C)
with the same 5 ms linger and ``acks=all`` takes 4-7% there, and this feeder 1-3% (``/proc`` CPU
times of each process over 2 s of paced load, dev harness). The records are the ones ``tracer
produce`` would send (:func:`~tracer.agents.replay.read_records`: the same values, the same keys),
and librdkafka stamps each with the time it was handed the line, as the source timestamp the latency
is measured from.

Without kcat on the PATH, :func:`paced_load` falls back to ``tracer produce --rate`` and says so.

Run as a script, it is the feeder: ``python bench/paced_load.py FILE KEY_COLUMN RATE``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tracer.agents.replay import read_records

__all__ = ["LINGER_MS", "PacedLoad", "feed", "paced_load"]

LINGER_MS = 5
"""kcat's producer linger: the same as ``tracer produce``'s."""
TICK_S = 0.002
"""How often the feeder writes the lines that are due."""


@dataclass
class PacedLoad:
    """The processes writing a paced load (the feeder and kcat, or ``tracer produce``)."""

    processes: list[subprocess.Popen[bytes]]
    tool: str

    def wait(self, timeout: float) -> None:
        """Wait until every process has exited (the whole file is sent and acknowledged)."""
        deadline = time.monotonic() + timeout
        for process in self.processes:
            process.wait(timeout=max(deadline - time.monotonic(), 0.0))


def paced_load(
    broker: str, file: Path, topic: str, key: str, log: Path, rate: float, fallback: Sequence[str]
) -> PacedLoad:
    """Send ``file`` to ``topic`` at ``rate`` records/s, keyed by column ``key``: through kcat when it is
    installed, else with the ``fallback`` command (``tracer produce ... --rate``)."""
    kcat = shutil.which("kcat")
    with log.open("ab") as out:
        if kcat is None:
            return PacedLoad(
                [subprocess.Popen(list(fallback), stdout=out, stderr=subprocess.STDOUT)], "tracer produce"
            )
        feeder = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), str(file), key, f"{rate:.3f}"],
            stdout=subprocess.PIPE, stderr=out,
        )  # fmt: skip
        sender = subprocess.Popen(
            [kcat, "-P", "-b", broker, "-t", topic, "-K", "\t", "-X", f"linger.ms={LINGER_MS}", "-X", "acks=all"],
            stdin=feeder.stdout, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    assert feeder.stdout is not None
    feeder.stdout.close()  # kcat holds the pipe now: it sees the end when the feeder exits
    return PacedLoad([feeder, sender], "kcat")


def feed(file: Path, key: str, rate: float, out: BinaryIO) -> int:
    """Write each record of ``file`` as ``key<TAB>value`` once it is due at ``rate`` per second; returns
    how many. Lines are prepared first, so the paced loop only slices and writes."""
    lines = [
        (record.key or b"") + b"\t" + record.value + b"\n" for record in read_records(file, key_column=key)
    ]
    if any(b"\n" in line[:-1] or line.count(b"\t") > 1 for line in lines):
        raise ValueError(
            f"{file}: a key or value holds a tab or a newline; kcat's line format cannot carry it"
        )
    started, sent = time.perf_counter(), 0
    while sent < len(lines):
        due = min(len(lines), int((time.perf_counter() - started) * rate) + 1)
        if due > sent:
            out.write(b"".join(lines[sent:due]))
            out.flush()
            sent = due
        time.sleep(TICK_S)
    return sent


if __name__ == "__main__":
    feed(Path(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.stdout.buffer)
