"""A log line repeated during a broker outage is written once a minute with its count (issue 24, part 4)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from mode.utils.logging import ExtensionFormatter

from tracer.agents import log_throttle
from tracer.agents.log_throttle import RepeatFilter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Lines(logging.Handler):
    """Keeps the formatted lines it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def lines(clock: FakeClock) -> Iterator[Lines]:
    handler = Lines()
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    handler.addFilter(RepeatFilter(window_s=60.0, clock=clock))
    logger = logging.getLogger("throttle-test")
    logger.addHandler(handler)
    logger.propagate = False
    yield handler
    logger.removeHandler(handler)
    logger.propagate = True


def test_an_error_repeated_all_through_an_outage_writes_a_line_a_minute(
    clock: FakeClock, lines: Lines
) -> None:
    connection = logging.getLogger("throttle-test.conn")
    for _ in range(3 * 60 * 128):  # three minutes at 128 errors a second (1/128 s adds up exactly)
        connection.error("Unable connect to node with id %s: %s", 1, "Connect call failed")
        clock.now += 1 / 128
    assert lines.lines[0] == "throttle-test.conn ERROR Unable connect to node with id 1: Connect call failed"
    assert len(lines.lines) == 3
    assert lines.lines[1].endswith("Connect call failed [repeated 7,679 times in the last 60 s]")


def test_kinds_are_logger_level_and_template(clock: FakeClock, lines: Lines) -> None:
    coordinator = logging.getLogger("throttle-test.coordinator")
    for node in range(5):
        coordinator.error("Unable connect to node with id %s", node)  # one template: one kind
        coordinator.warning("Unable connect to node with id %s", node)  # another level
        coordinator.error(f"metadata request to node {node} failed")  # formatted by the caller
    logging.getLogger("throttle-test.other").error("Unable connect to node with id %s", 9)
    assert lines.lines == [
        "throttle-test.coordinator ERROR Unable connect to node with id 0",
        "throttle-test.coordinator WARNING Unable connect to node with id 0",
        "throttle-test.coordinator ERROR metadata request to node 0 failed",
        "throttle-test.other ERROR Unable connect to node with id 9",
    ]


def test_a_kind_seen_again_after_a_quiet_window_is_written_without_a_count(
    clock: FakeClock, lines: Lines
) -> None:
    logger = logging.getLogger("throttle-test")
    logger.error("broker down")
    clock.now += 61
    logger.error("broker down")
    logger.critical("broker down")
    logger.critical("broker down")
    assert lines.lines == ["throttle-test ERROR broker down"] * 2 + ["throttle-test CRITICAL broker down"] * 2


def test_a_count_formats_with_fausts_formatter_at_every_handler(clock: FakeClock) -> None:
    """Faust's (mode's) formatter rewrites ``record.args``; the root may have several handlers."""
    shared = RepeatFilter(window_s=60.0, clock=clock)
    handlers = [Lines(), Lines()]
    logger = logging.getLogger("throttle-test.mode")
    for handler in handlers:
        handler.setFormatter(ExtensionFormatter(fmt="%(levelname)s %(message)s"))
        handler.addFilter(shared)
        logger.addHandler(handler)
    logger.propagate = False
    try:
        for _ in range(3):
            logger.error("Heartbeat failed: %s", "50% lost")
            clock.now += 30
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
        logger.propagate = True
    for handler in handlers:
        assert [line.split(" ", 1)[1] for line in handler.lines] == [
            "Heartbeat failed: 50% lost",
            "Heartbeat failed: 50% lost [repeated 1 times in the last 60 s]",
        ]


def test_install_puts_one_filter_on_the_root_handlers() -> None:
    root = logging.getLogger()
    handler = Lines()
    root.addHandler(handler)
    try:
        installed = log_throttle.install()
        assert log_throttle.install() is installed
        assert [f for f in handler.filters if isinstance(f, RepeatFilter)] == [installed]
    finally:
        root.removeHandler(handler)
        for other in root.handlers:
            other.removeFilter(installed)
