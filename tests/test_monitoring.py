"""The monitoring assets agree with the code: alert rules, their unit tests, the dashboard, compose.

- ``promtool`` checks the rules and the Prometheus config, and runs ``rules_test.yml``.
- Every metric name in an alert rule or a dashboard query is one ``agents/metrics.py`` exports.
- The dashboard has the seed-002 panels and Tracer's own, and its queries parse as PromQL.
- ``docker-compose.yml`` runs the Kafka version Tracer is tested against, with the local broker's settings.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

import tracer
from tracer.agents.kafka_local import BROKER_SETTINGS
from tracer.agents.metrics import UNROUTED_DEPLOYMENT, TracerMetrics

ROOT = Path(__file__).resolve().parents[1]
PROMETHEUS_DIR = ROOT / "monitoring" / "prometheus"
RULES = PROMETHEUS_DIR / "rules.yml"
RULES_TEST = PROMETHEUS_DIR / "rules_test.yml"
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
GRAFANA_DIR = ROOT / "monitoring" / "grafana"
DASHBOARD = GRAFANA_DIR / "dashboards" / "tracer.json"
COMPOSE = ROOT / "docker-compose.yml"

# Series Prometheus makes itself rather than scraping them from Tracer.
SYNTHETIC_SERIES = {"up"}

REQUIRED_PANELS = {
    # seed 002
    "Prediction requests/s",
    "Latency p95 (ms)",
    "Model version",
    "Success rate (%)",
    "Prediction score distribution",
    # Tracer
    "Consumer lag (messages)",
    "Dead letters by reason",
    "Drift alerts",
    "Shadow agreement",
    "Checkpoint age (s)",
}

# Broker properties docker-compose shares with the local broker (`tracer kafka start`).
EXPECTED_BROKER_SETTINGS = {"process.roles": "broker,controller", **BROKER_SETTINGS}


# -- helpers ----------------------------------------------------------------------------------

PROMQL_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
    "and", "or", "unless", "offset", "atan2", "inf", "nan",
}  # fmt: skip


def promql_metric_names(expr: str) -> set[str]:
    """The metric names an expression selects: identifiers that are not calls, keywords or labels."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals (label values, regexes)
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range and subquery durations
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    names = set()
    for match in re.finditer(r"(?<![\w:.$])([A-Za-z_:][\w:]*)(\s*\()?", expr):
        word, is_call = match.group(1), match.group(2)
        if not is_call and word.lower() not in PROMQL_KEYWORDS:
            names.add(word)
    return names


def load_yaml(path: Path) -> Any:
    with path.open() as f:
        return yaml.safe_load(f)


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(RULES)["groups"] for rule in group["rules"] if "alert" in rule]


def dashboard() -> dict[str, Any]:
    with DASHBOARD.open() as f:
        loaded: dict[str, Any] = json.load(f)
    return loaded


def dashboard_exprs() -> list[tuple[str, str]]:
    """(panel title, PromQL) for every query of every panel."""
    return [
        (panel["title"], target["expr"]) for panel in dashboard()["panels"] for target in panel["targets"]
    ]


def as_promql(grafana_expr: str) -> str:
    """A Grafana query with its template variables replaced, so promtool can parse it."""
    return (
        grafana_expr.replace("$__rate_interval", "1m")
        .replace("$__interval", "1m")
        .replace("$__range", "1h")
        .replace("$deployment", ".*")
    )


def exported_names() -> set[str]:
    """Every family and sample name a TracerMetrics exposes once each of its metrics has a value."""
    metrics = TracerMetrics()
    metrics.register_deployment("churn", model_version=1)
    metrics.record_batch(
        "churn",
        "crm.customers",
        consumed=3,
        predicted=2,
        dead_lettered_by_reason={"scoring_error": 1},
        latencies_ms=[1.0, 2.0],
        scores=[0.1, 0.9],
        model_errors_by_type={"ValueError": 1},
    )
    metrics.record_batch(UNROUTED_DEPLOYMENT, "crm.customers", consumed=1, predicted=0,
                         dead_lettered_by_reason={"not_json": 1})  # fmt: skip
    metrics.record_model_error("churn", "KeyError")
    metrics.set_consumer_lags({("crm.customers", 0): 5})
    metrics.record_labels("churn", joined=1, expired=1)
    metrics.record_drift_alert("churn", "data", "adwin")
    metrics.set_shadow_agreement("churn", "arf", 0.9)
    metrics.record_checkpoint("churn")
    names = set()
    for family in text_string_to_metric_families(metrics.render().decode()):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
    return names


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = load_yaml(COMPOSE)
    return loaded


def broker_properties(environment: dict[str, Any]) -> dict[str, str]:
    """apache/kafka's env-to-property rule: drop KAFKA_, ``___`` is ``-``, ``__`` is ``_``, ``_`` is ``.``."""
    properties = {}
    for key, value in environment.items():
        if key.startswith("KAFKA_"):
            name = key.removeprefix("KAFKA_").lower()
            name = name.replace("___", "-").replace("__", "\0").replace("_", ".").replace("\0", "_")
            properties[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return properties


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool missing: apt-get install prometheus")
    return path


def run_promtool(promtool: str, *args: str | Path) -> None:
    result = subprocess.run(
        [promtool, *map(str, args)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, (
        f"promtool {' '.join(map(str, args))} failed:\n{result.stdout}{result.stderr}"
    )


# -- the helper itself ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (le) (rate(a_bucket{x="y"}[5m]))', {"a_bucket"}),
        (
            "histogram_quantile(0.95, sum by (deployment, le) (rate(a_bucket[$__rate_interval]))) > 80",
            {"a_bucket"},
        ),
        ("x / on (deployment) group_left (shadow) y > 0.1", {"x", "y"}),
        ("(increase(c_total[10m]) > 0) or (c_total unless c_total offset 10m)", {"c_total"}),
        ('up{job="tracer"} == bool 0', {"up"}),
        ('{__name__="ignored"}', set()),
    ],
)
def test_promql_metric_names(expr: str, names: set[str]) -> None:
    assert promql_metric_names(expr) == names


# -- Prometheus -------------------------------------------------------------------------------


def test_promtool_checks_the_rules(promtool: str) -> None:
    run_promtool(promtool, "check", "rules", RULES)


def test_promtool_runs_the_rule_unit_tests(promtool: str) -> None:
    run_promtool(promtool, "test", "rules", RULES_TEST)


def test_promtool_checks_the_prometheus_config(promtool: str) -> None:
    run_promtool(promtool, "check", "config", PROMETHEUS_CONFIG)


def test_the_dashboard_queries_parse_as_promql(promtool: str, tmp_path: Path) -> None:
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:panel_{i}", "expr": as_promql(expr)}
                    for i, (_, expr) in enumerate(dashboard_exprs())
                ],
            }
        ]
    }
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump(rules))
    run_promtool(promtool, "check", "rules", path)


def test_every_alert_has_severity_summary_and_description() -> None:
    for rule in alert_rules():
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]


def test_the_seed_002_and_tracer_alerts_are_defined() -> None:
    severities: dict[str, set[str]] = {}
    for rule in alert_rules():
        severities.setdefault(rule["alert"], set()).add(rule["labels"]["severity"])
    assert severities["MLPredictLatencyP95High"] == {"warning", "critical"}
    assert {
        "MLErrorSpike",
        "MLNoPredictions",
        "MLModelErrorsHigh",
        "TracerDriftAlert",
        "TracerShadowAgreementLow",
        "TracerDeadLettersHigh",
        "TracerConsumerLagHigh",
        "TracerCheckpointStale",
    } <= set(severities)


def test_every_alert_has_a_unit_test() -> None:
    tested = {
        case["alertname"]
        for test in load_yaml(RULES_TEST)["tests"]
        for case in test.get("alert_rule_test", [])
    }
    assert {rule["alert"] for rule in alert_rules()} <= tested


def test_rule_metric_names_are_exported_by_tracer() -> None:
    exported = exported_names() | SYNTHETIC_SERIES
    for rule in alert_rules():
        used = promql_metric_names(rule["expr"])
        assert used, f"{rule['alert']}: found no metric name in {rule['expr']!r}"
        assert used <= exported, f"{rule['alert']} uses {sorted(used - exported)}, not in agents/metrics.py"


def test_rule_unit_tests_use_exported_series() -> None:
    exported = exported_names() | SYNTHETIC_SERIES
    for test in load_yaml(RULES_TEST)["tests"]:
        for series in test["input_series"]:
            name = series["series"].split("{", 1)[0]
            assert name in exported, f"rules_test.yml feeds {name}, which agents/metrics.py does not export"


def test_prometheus_scrapes_the_tracer_worker() -> None:
    config = load_yaml(PROMETHEUS_CONFIG)
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "tracer"
    assert job["metrics_path"] == "/ml/metrics"
    assert job["static_configs"][0]["targets"] == ["tracer:6066"]
    assert config["rule_files"] == ["rules.yml"]
    assert (PROMETHEUS_CONFIG.parent / "rules.yml").is_file()


# -- Grafana ----------------------------------------------------------------------------------


def test_dashboard_has_the_required_panels() -> None:
    titles = [panel["title"] for panel in dashboard()["panels"]]
    assert set(titles) >= REQUIRED_PANELS, f"missing panels: {sorted(REQUIRED_PANELS - set(titles))}"
    assert len(titles) == len(set(titles)), "panel titles must be unique"


def test_dashboard_metric_names_are_exported_by_tracer() -> None:
    exported = exported_names()
    for title, expr in dashboard_exprs():
        used = promql_metric_names(expr)
        assert used, f"panel {title!r}: found no metric name in {expr!r}"
        assert used <= exported, f"panel {title!r} uses {sorted(used - exported)}, not in agents/metrics.py"
    for variable in dashboard()["templating"]["list"]:
        match = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", variable["definition"])
        assert match, variable["definition"]
        assert match.group(1) in exported


def test_dashboard_layout_and_datasource() -> None:
    board = dashboard()
    datasources = load_yaml(GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml")["datasources"]
    (datasource,) = datasources
    assert datasource["url"] == "http://prometheus:9090"
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    cells: dict[tuple[int, int], str] = {}
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == datasource["uid"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == datasource["uid"], panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                other = cells.setdefault((x, y), panel["title"])
                assert other == panel["title"], f"panels {other!r} and {panel['title']!r} overlap"
    by_title = {panel["title"]: panel for panel in board["panels"]}
    assert by_title["Latency p95 (ms)"]["fieldConfig"]["defaults"]["unit"] == "ms"
    assert by_title["Success rate (%)"]["fieldConfig"]["defaults"]["unit"] == "percent"
    assert by_title["Prediction score distribution"]["type"] == "heatmap"


def test_grafana_provisioning_matches_the_compose_mounts() -> None:
    providers = load_yaml(GRAFANA_DIR / "provisioning" / "dashboards" / "tracer.yml")["providers"]
    mounts = compose()["services"]["grafana"]["volumes"]
    assert f"./monitoring/grafana/dashboards:{providers[0]['options']['path']}:ro" in mounts
    assert "./monitoring/grafana/provisioning:/etc/grafana/provisioning:ro" in mounts


# -- docker-compose ---------------------------------------------------------------------------


def test_compose_kafka_is_the_tested_version() -> None:
    image = compose()["services"]["kafka"]["image"]
    assert image == f"apache/kafka:{tracer.KAFKA_VERSION}"


def test_compose_kafka_settings_match_the_local_broker() -> None:
    properties = broker_properties(compose()["services"]["kafka"]["environment"])
    assert {key: properties.get(key) for key in EXPECTED_BROKER_SETTINGS} == EXPECTED_BROKER_SETTINGS


def test_compose_kafka_is_single_node_kraft_reachable_from_host_and_containers() -> None:
    services = compose()["services"]
    properties = broker_properties(services["kafka"]["environment"])
    assert properties["node.id"] == "1"
    assert properties["controller.quorum.voters"] == "1@kafka:9093"
    assert properties["controller.listener.names"] == "CONTROLLER"
    listeners = dict(item.split("://") for item in properties["listeners"].split(","))
    advertised = dict(item.split("://") for item in properties["advertised.listeners"].split(","))
    assert listeners == {"PLAINTEXT": ":9092", "INTERNAL": ":19092", "CONTROLLER": ":9093"}
    assert advertised == {"PLAINTEXT": "localhost:9092", "INTERNAL": "kafka:19092"}
    assert "9092:9092" in services["kafka"]["ports"]
    assert "healthcheck" in services["kafka"]

    tracer_command = " ".join(services["tracer"]["command"])
    broker = re.search(r"--broker (\S+)", tracer_command)
    assert broker and broker.group(1) == advertised["INTERNAL"]
    assert services["tracer"]["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_compose_tracer_serves_what_prometheus_scrapes() -> None:
    services = compose()["services"]
    tracer_command = " ".join(services["tracer"]["command"])
    port = re.search(r"--web-port (\d+)", tracer_command)
    assert port and port.group(1) == "6066"
    assert "6066:6066" in services["tracer"]["ports"]
    target = load_yaml(PROMETHEUS_CONFIG)["scrape_configs"][0]["static_configs"][0]["targets"][0]
    assert target == f"tracer:{port.group(1)}"


def test_compose_bind_mounts_exist_in_the_repository() -> None:
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"service {name} mounts {source}, which does not exist"
