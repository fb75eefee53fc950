"""``tracer report DEPLOYMENT --out report.html``: a running deployment's report, from its worker's HTTP API.

It reads ``GET /deployments/{id}/report`` (:mod:`tracer.agents.api.report_views`) from the worker at
``--url`` (``TRACER_URL``, by default http://127.0.0.1:6066) with the API key ``--api-key``
(``TRACER_API_KEY``; else the development key a ``tracer worker --dev`` generated on this machine) and
writes the self-contained HTML page (:func:`tracer.agents.report.write_report`). The worker and the key
are found as :mod:`tracer.agents.cli_http` says.

Exit codes: 0 written; 1 the worker answered an error (its message is printed: an unknown
deployment, one another worker owns, a wrong key); 2 no worker answers at the URL.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import click

from tracer.agents.cli_http import call, worker_options

__all__ = ["report_command"]


@click.command("report")
@click.argument("deployment")
@click.option(
    "--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Where the HTML report goes [default: reports/report-<deployment>.html].",
)  # fmt: skip
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the report's data (the API's JSON) to this file.")  # fmt: skip
@worker_options
def report_command(
    deployment: str, out: Path | None, url: str, api_key: str | None, json_out: Path | None
) -> None:
    """Write a running DEPLOYMENT's report as one self-contained HTML file: its metric over events,
    calibration (or forecast against actual), lift and gains, drift alerts on the timeline and
    shadow agreement over time, from the worker's HTTP API."""
    from tracer.agents.report import ReportData, write_report

    body = call(url, "GET", f"/deployments/{quote(deployment, safe='')}/report", api_key)
    try:
        data = ReportData.model_validate_json(body)
    except ValueError as error:
        raise click.ClickException(f"the worker's answer is not a report: {error}") from None
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_bytes(body)
    path = write_report(data, out or Path("reports") / f"report-{deployment}.html")
    click.echo(
        f"{deployment}: {data.events} events, {data.labels} labels, {len(data.points)} curve points, "
        f"{len(data.alerts)} drift alerts, {len({m.shadow for m in data.agreement})} shadows; report written to {path}"
    )
