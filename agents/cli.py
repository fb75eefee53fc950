"""The ``tracer`` command line (click, like Faust's own CLI)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from tracer import KAFKA_VERSION, __version__
from tracer.agents.kafka_local import KafkaError, LocalKafka

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tracer")
def main() -> None:
    """Tracer: score every event on your Kafka topics with a ready-made blueprint, and keep learning."""


# -- tracer kafka ---------------------------------------------------------------------------------

port_option = click.option(
    "--port", default=9092, show_default=True, help="Broker port; the controller uses port+1."
)


@main.group()
def kafka() -> None:
    """A local single-node Apache Kafka (KRaft) on 127.0.0.1, from Maven Central. No Docker needed."""


@kafka.command("start")
@port_option
@click.option("--timeout", default=90.0, show_default=True, help="Seconds to wait for the broker to answer.")
def kafka_start(port: int, timeout: float) -> None:
    """Start the broker (idempotent) and wait until it answers."""
    try:
        status = LocalKafka(port).start(timeout_s=timeout)
    except KafkaError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Kafka {KAFKA_VERSION}: {status.describe()}")


@kafka.command("stop")
@port_option
def kafka_stop(port: int) -> None:
    """Stop the broker this tool started on PORT (never any other process)."""
    stopped = LocalKafka(port).stop()
    click.echo("stopped" if stopped else "not running")


@kafka.command("status")
@port_option
def kafka_status(port: int) -> None:
    """Say whether our broker runs and answers; exit 1 if it doesn't."""
    status = LocalKafka(port).status()
    click.echo(status.describe())
    sys.exit(0 if status.answers else 1)


# -- tracer schemas -------------------------------------------------------------------------------


@main.group()
def schemas() -> None:
    """The wire schemas."""


@schemas.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def schemas_export(directory: Path) -> None:
    """Write one JSON Schema file per message type into DIRECTORY."""
    from tracer.schemas import export_json_schemas

    for path in export_json_schemas(directory):
        click.echo(path)


# -- tracer pipe ----------------------------------------------------------------------------------


@main.command()
@click.option("--broker", envvar="TRACER_KAFKA_BOOTSTRAP", default="127.0.0.1:9092", show_default=True)
@click.option("--source", default=None, help="Input topic [default: tracer.market.snapshots].")
@click.option("--sink", default=None, help="Output topic [default: tracer.market.snapshots.valid].")
@click.option("--dlq", default=None, help="Dead-letter topic [default: tracer.dlq].")
@click.option("--app-id", default="tracer-pipe", show_default=True)
def pipe(broker: str, source: str | None, sink: str | None, dlq: str | None, app_id: str) -> None:
    """Validate market snapshots: valid ones to SINK, everything else to the dead-letter topic."""
    from tracer.agents.app import make_app
    from tracer.agents.settings import Settings
    from tracer.agents.snapshot_pipe import attach_snapshot_pipe
    from tracer.agents.topics import ensure_topics
    from tracer.agents.worker import run_worker

    settings = Settings.from_env(broker=broker, app_id=app_id, web_enabled=False)
    names = settings.topics
    source, sink, dlq = source or names.snapshots, sink or names.snapshots_valid, dlq or names.dlq
    asyncio.run(
        ensure_topics(
            broker, {source: settings.partitions, sink: settings.partitions, dlq: settings.partitions}
        )
    )
    app = make_app(settings)
    attach_snapshot_pipe(app, source=source, sink=sink, dlq=dlq)
    run_worker(app)


# -- tracer worker --------------------------------------------------------------------------------


@main.command()
@click.option(
    "--deployments", "deployments_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
    help="YAML file of deployments; published to tracer.registry. Without it, the registry's deployments run.",
)  # fmt: skip
@click.option("--broker", envvar="TRACER_KAFKA_BOOTSTRAP", default="127.0.0.1:9092", show_default=True)
@click.option(
    "--app-id",
    default="tracer",
    show_default=True,
    help="Consumer-group prefix; workers with one id share work.",
)
@click.option("--web-port", type=int, default=6066, show_default=True, help="HTTP API and /ml/metrics port.")
@click.option("--partitions", type=int, default=4, show_default=True, help="Partitions of Tracer's topics.")
@click.option(
    "--dev", is_flag=True, default=False,
    help="Development mode (also TRACER_DEV=1): keys not configured are generated into ~/.local/state/tracer.",
)  # fmt: skip
def worker(
    deployments_file: Path | None, broker: str, app_id: str, web_port: int, partitions: int, dev: bool
) -> None:
    """Start a worker: route, score and learn every deployment's events, and serve the HTTP API.

    It needs TRACER_CHECKPOINT_SECRET and TRACER_API_KEYS (or their _FILE variants), or --dev."""
    from tracer.agents.worker import import_pandas_without_arrow

    import_pandas_without_arrow()
    from tracer.agents.runtime import start_worker

    try:
        start_worker(
            broker=broker,
            app_id=app_id,
            web_port=web_port,
            partitions=partitions,
            deployments_file=deployments_file,
            dev=dev,
        )
    except ValueError as error:
        raise click.ClickException(str(error)) from error


# -- tracer produce / tail / demo -----------------------------------------------------------------

broker_option = click.option(
    "--broker", envvar="TRACER_KAFKA_BOOTSTRAP", default="127.0.0.1:9092", show_default=True
)


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--topic", required=True, help="Topic to write to.")
@click.option("--rate", type=float, default=None, help="Messages per second (default: as fast as possible).")
@click.option("--key", "key_column", default=None, help="Column whose value keys each message.")
@broker_option
def produce(file: Path, topic: str, rate: float | None, key_column: str | None, broker: str) -> None:
    """Replay a CSV or JSONL FILE into a topic, with a progress bar. Doubles as the backtest tool."""
    from tracer.agents.replay import produce_file, read_records
    from tracer.agents.topics import missing_topics
    from tracer.agents.worker import quiet_garbage_collector

    try:
        records = read_records(file, key_column=key_column)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    if asyncio.run(missing_topics(broker, [topic])):  # else the producer waits 40 s for it, then fails
        raise click.ClickException(
            f"topic {topic!r} does not exist on {broker}: start the worker whose deployments read it, or "
            "create it first with `tracer topics create --deployments FILE`"
        )
    # A paced replay stamps each message when it is sent: a collector pause before the batch goes out
    # would look like latency downstream (full collections over the loaded file took up to ~150 ms).
    quiet_garbage_collector()
    with click.progressbar(length=len(records), label=f"{file.name} → {topic}", file=sys.stderr) as bar:
        sent = asyncio.run(produce_file(broker, topic, records, rate_per_s=rate, on_progress=bar.update))
    click.echo(f"{sent} messages acknowledged by {broker}")


@main.command()
@click.argument("topic")
@click.option("--from-beginning/--from-end", default=True, show_default=True)
@click.option("-n", "--max-messages", type=int, default=None, help="Stop after this many messages.")
@click.option(
    "--idle-timeout", type=float, default=None, help="Stop after this many seconds without messages."
)
@broker_option
def tail(
    topic: str, from_beginning: bool, max_messages: int | None, idle_timeout: float | None, broker: str
) -> None:
    """Pretty-print the messages of TOPIC."""
    from tracer.agents.replay import tail_topic

    asyncio.run(
        tail_topic(
            broker, topic, click.echo, from_beginning=from_beginning, max_messages=max_messages,
            idle_timeout_s=idle_timeout,
        )
    )  # fmt: skip


@main.command()
@port_option
@click.option(
    "--rate", type=float, default=600.0, show_default=True, help="Replay rate, messages per second."
)
@click.option("--stream", type=click.Choice(["business", "crypto"]), default="business", show_default=True,
              help="business: customer churn and market direction; crypto: the five crypto_defi blueprints.")  # fmt: skip
def demo(port: int, rate: float, stream: str) -> None:
    """Start a local Kafka and a worker; deploy each blueprint trained on a bundled history (upload,
    replay-train, with progress); replay the live streams; show predictions and drift alerts; stop
    cleanly with a summary (every input's fate, live quality next to a baseline, the shadow, the
    alerts) and the path of an HTML report of the run."""
    from tracer.agents.demo import run_demo

    summary = run_demo(port=port, rate_per_s=rate, emit=click.echo, stream=stream)
    sys.exit(0 if summary.conserved else 1)


def _register_commands() -> None:
    from tracer.agents.cli_blueprints import blueprints
    from tracer.agents.cli_composite import composite
    from tracer.agents.cli_dlq import dlq
    from tracer.agents.cli_evaluate import analyze_command, eval_command
    from tracer.agents.cli_registry import models, promote
    from tracer.agents.cli_report import report_command
    from tracer.agents.cli_topics import topics

    main.add_command(blueprints)
    main.add_command(topics)
    main.add_command(dlq)
    main.add_command(composite)
    main.add_command(models)
    main.add_command(promote)
    main.add_command(eval_command, "eval")
    main.add_command(analyze_command, "analyze")
    main.add_command(report_command, "report")


_register_commands()

if __name__ == "__main__":  # pragma: no cover
    main()
