"""A single-node Apache Kafka broker in KRaft mode on 127.0.0.1, without Docker.

The runtime classpath is Apache Kafka's own ``org.apache.kafka:kafka_2.13`` artifact and its
dependencies from Maven Central, fetched once with ``mvn dependency:copy-dependencies`` into a
user cache folder. The broker's data, configuration, log and pid file live in a folder of their
own, one per port.

Lifecycle of ``start``:

1. Refuse clearly if ``java`` is missing, or ``mvn`` is missing and the jars are not cached yet.
2. If our pid file names a live broker of ours that answers, do nothing (``start`` is idempotent).
3. Refuse clearly if the port or the controller port is taken by another process.
4. Fetch the jars if the cache lacks them; write ``server.properties``.
5. Format the storage the first time (``kafka.tools.StorageTool format``).
6. Start ``kafka.Kafka`` detached, record its pid, and wait until it answers a metadata request.

``stop`` ends only the process named by our pid file, and only if its command line is our
broker's: first SIGTERM (a clean shutdown), then SIGKILL after a grace period.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from tracer import KAFKA_VERSION

BROKER_JVM_OPTIONS = (
    "-Xms1g",
    "-Xmx1g",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:TieredStopAtLevel=1",
)
"""The JVM options of Kafka's own start script (``kafka-run-class.sh`` and ``kafka-server-start.sh``), and
the quick (C1) JIT compiler only. The full JIT's background compiles took the small machines' CPU
for minutes after each broker start: a fresh broker's first paced churn run had a p99 of 740 ms
(464 and 210 in the next runs) where a broker warmed by earlier runs had 38 ms; with C1 only, the
first run on a fresh broker had 53 ms. Tests, the demo and the benchmarks all start fresh brokers."""

__all__ = ["KafkaError", "LocalKafka", "broker_answers", "free_port", "free_port_pair"]

SCALA_VERSION = "2.13"
LOG4J_VERSION = "2.24.3"
"""The log4j2 version kafka_2.13 brings; the slf4j binding we add must match it."""

BROKER_SETTINGS: dict[str, str] = {
    "num.partitions": "4",
    "default.replication.factor": "1",
    "offsets.topic.replication.factor": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "group.initial.rebalance.delay.ms": "0",
    "auto.create.topics.enable": "false",
    "log.retention.hours": "168",
    "message.max.bytes": "1048588",
}
"""Settings docker-compose.yml keeps in step with (see tests/test_monitoring.py)."""

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.tracer</groupId><artifactId>kafka-runtime</artifactId><version>{kafka}</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_{scala}</artifactId>
      <version>{kafka}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId>
      <version>{log4j}</version></dependency>
  </dependencies>
</project>
"""

_LOG4J2 = """status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = warn
logger.org.name = org.apache.kafka
logger.org.level = warn
"""


class KafkaError(RuntimeError):
    """The local broker could not be fetched, started or stopped; the message says what to do."""


def _cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tracer"


def _data_root() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "tracer"


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def broker_answers(bootstrap: str, timeout_s: float = 3.0) -> bool:
    """True if the broker at ``bootstrap`` answers a metadata request within ``timeout_s``."""
    from aiokafka import AIOKafkaClient  # imported here: `tracer kafka status` stays fast

    quiet = logging.getLogger("aiokafka")  # a refused connection is the answer, not an error to log
    level, quiet.level = quiet.level, logging.CRITICAL

    async def probe() -> bool:
        client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
        try:
            await asyncio.wait_for(client.bootstrap(), timeout_s)
            return True
        except Exception:
            return False
        finally:
            await client.close()

    try:
        return asyncio.run(probe())
    finally:
        quiet.setLevel(level)


@dataclass(frozen=True)
class Status:
    """What ``tracer kafka status`` reports."""

    running: bool
    pid: int | None
    bootstrap: str
    answers: bool
    data_dir: Path

    def describe(self) -> str:
        """One line for a person."""
        if not self.running:
            return f"not running (data in {self.data_dir})"
        health = "answers metadata requests" if self.answers else "NOT answering yet"
        return f"running, pid {self.pid}, {self.bootstrap}, Kafka {KAFKA_VERSION}, {health}; data in {self.data_dir}"


class LocalKafka:
    """One local broker, identified by its port. See the module docstring for the lifecycle."""

    def __init__(self, port: int = 9092, *, data_dir: Path | None = None, cache_dir: Path | None = None):
        self.port = port
        self.controller_port = port + 1
        self.home = data_dir or _data_root() / f"kafka-{port}"
        self.libs = (cache_dir or _cache_root() / "kafka") / f"{KAFKA_VERSION}-{SCALA_VERSION}" / "libs"
        self.pid_file = self.home / "broker.pid"
        self.log_file = self.home / "broker.log"
        self.config_file = self.home / "server.properties"

    @property
    def bootstrap(self) -> str:
        """The bootstrap address clients use."""
        return f"127.0.0.1:{self.port}"

    # -- artifacts ----------------------------------------------------------------------------

    def fetch(self) -> Path:
        """Download Kafka's jars from Maven Central into the cache, once. Returns the folder."""
        done = self.libs / ".complete"
        if done.exists():
            return self.libs
        if shutil.which("mvn") is None:
            raise KafkaError(
                "Maven (mvn) is needed once to fetch Apache Kafka's jars from Maven Central: "
                "apt-get install maven"
            )
        work = self.libs.parent / "pom"
        work.mkdir(parents=True, exist_ok=True)
        (work / "pom.xml").write_text(
            _POM.format(kafka=KAFKA_VERSION, scala=SCALA_VERSION, log4j=LOG4J_VERSION)
        )
        command = [
            "mvn", "-q", "-B", "-f", str(work / "pom.xml"), "dependency:copy-dependencies",
            f"-DoutputDirectory={self.libs}", "-DincludeScope=runtime",
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise KafkaError(
                f"mvn could not fetch Kafka {KAFKA_VERSION}:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
            )
        done.write_text(KAFKA_VERSION)
        return self.libs

    # -- lifecycle ------------------------------------------------------------------------------

    def pid(self) -> int | None:
        """The pid of our running broker, or None. A stale pid file is removed."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if self._is_ours(pid):
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def _is_ours(self, pid: int) -> bool:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        return b"kafka.Kafka" in cmdline and str(self.config_file).encode() in cmdline

    def status(self) -> Status:
        """Whether our broker runs and answers."""
        pid = self.pid()
        answers = pid is not None and broker_answers(self.bootstrap)
        return Status(pid is not None, pid, self.bootstrap, answers, self.home)

    def start(self, *, timeout_s: float = 60.0) -> Status:
        """Start the broker if it isn't running, and wait until it answers. Idempotent."""
        java = shutil.which("java")
        if java is None:
            raise KafkaError("Java 17+ is needed to run Kafka: apt-get install openjdk-17-jre-headless")
        if self.pid() is not None:
            self._wait_until_answers(timeout_s)
            return self.status()
        for port in (self.port, self.controller_port):
            if not _port_free(port):
                raise KafkaError(
                    f"port {port} on 127.0.0.1 is taken by another process; "
                    f"choose another with --port (the controller uses port+1)"
                )
        libs = self.fetch()
        self._write_config()
        classpath = f"{libs}/*"
        if not (self.home / "data" / "meta.properties").exists():
            self._format(java, classpath)
        pid = os.posix_spawn(
            java,
            [java, *BROKER_JVM_OPTIONS, "-Djava.awt.headless=true",
             f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
             "-cp", classpath, "kafka.Kafka", str(self.config_file)],
            dict(os.environ),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, str(self.log_file), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
                (os.POSIX_SPAWN_DUP2, 1, 2),
            ],
            setsid=True,  # the broker outlives this process and ignores its terminal's signals
        )  # fmt: skip
        self.pid_file.write_text(str(pid))
        try:
            self._wait_until_answers(timeout_s, pid)
        except KafkaError:
            self.stop()
            raise
        return self.status()

    def stop(self, *, grace_s: float = 30.0) -> bool:
        """Stop our broker (never another process). Returns False if it wasn't running."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and self._alive(pid):
            time.sleep(0.2)
        if self._alive(pid):
            os.kill(pid, signal.SIGKILL)
            while self._alive(pid):
                time.sleep(0.05)
        self._reap(pid)
        self.pid_file.unlink(missing_ok=True)
        return True

    # -- helpers --------------------------------------------------------------------------------

    @staticmethod
    def _reap(pid: int) -> int | None:
        """Collect the exit status if the broker is our own child; None while it runs or if it isn't."""
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return None
        return os.waitstatus_to_exitcode(status) if done else None

    @staticmethod
    def _alive(pid: int) -> bool:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                return stat.read().split(") ", 1)[1][0] != "Z"
        except (OSError, IndexError):
            return False

    def _write_config(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.home / "data"),
            **BROKER_SETTINGS,
        }
        self.config_file.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
        (self.home / "log4j2.properties").write_text(_LOG4J2.format(log=self.home / "kafka-server.log"))

    def _format(self, java: str, classpath: str) -> None:
        cluster_id = uuid.uuid4().hex[:22]
        result = subprocess.run(
            [java, "-cp", classpath, f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
             "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(self.config_file)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise KafkaError(
                f"formatting Kafka storage in {self.home} failed:\n{result.stdout}{result.stderr}"
            )

    def _wait_until_answers(self, timeout_s: float, spawned: int | None = None) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if spawned is not None and not self._alive(spawned):
                code = self._reap(spawned)
                tail = self.log_file.read_text(errors="replace")[-3000:]
                raise KafkaError(f"Kafka exited with code {code} during start-up:\n{tail}")
            if broker_answers(self.bootstrap, timeout_s=2.0):
                return
            time.sleep(0.3)
        raise KafkaError(
            f"Kafka did not answer on {self.bootstrap} within {timeout_s:.0f} s; see {self.log_file}"
        )


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_port_pair() -> int:
    """A port P such that P and P+1 (a local broker's controller port) are both free on 127.0.0.1."""
    for _ in range(100):
        port = free_port()
        with socket.socket() as second:
            try:
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free pair of ports")
