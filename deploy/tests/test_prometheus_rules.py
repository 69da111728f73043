"""deploy/prometheus: scrape targets, alert rules that parse and name only real metrics, and
the rules' own promtool unit tests."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from deploy_support import DEPLOY, KNOWN_SERIES, PROCESSES, load_yaml, promql_metric_names

PROMETHEUS = DEPLOY / "prometheus"
REQUIRED_ALERTS = {
    # topic of the brief -> the metric its alert must watch
    "high 5xx rate": "feedline_http_requests_total",
    "p99 latency": "feedline_http_request_duration_seconds_bucket",
    "queue depth / DLQ": "feedline_fanout_queue_depth",
    "outbox backlog": "feedline_outbox_backlog",
    "dependency down": "feedline_dependency_up",
    "fan-out delivery lag": "feedline_fanout_delivery_lag_seconds_bucket",
}


def rules() -> list[dict]:
    groups = load_yaml(PROMETHEUS / "alerts.yml")["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_metric_name_extraction_ignores_functions_labels_and_durations():
    expr = """
      histogram_quantile(0.99, sum by (service, le) (
        rate(feedline_http_request_duration_seconds_bucket{route!~"/healthz|up"}[5m] offset 1h)))
      > 1 and on (service) absent(feedline_outbox_backlog) or vector(1e3)
    """
    assert promql_metric_names(expr) == {
        "feedline_http_request_duration_seconds_bucket",
        "feedline_outbox_backlog",
    }


def test_scrape_configuration_covers_the_five_processes_on_their_ports():
    config = load_yaml(PROMETHEUS / "prometheus.yml")
    targets = {
        job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]]
        for job in config["scrape_configs"]
    }
    for folder, process in PROCESSES.items():
        assert targets[folder] == [f"{folder}:{process.port}"]
    for rule_file in config["rule_files"]:
        assert (PROMETHEUS / rule_file).is_file()


def test_every_alert_is_complete_and_uniquely_named():
    names = [rule["alert"] for rule in rules()]
    assert len(names) == len(set(names))
    for rule in rules():
        assert rule["labels"]["severity"] in {"page", "ticket"}, rule["alert"]
        assert rule.get("for"), f"{rule['alert']} fires on a single evaluation"
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]


@pytest.mark.parametrize("rule", rules(), ids=lambda r: r["alert"])
def test_alert_expressions_use_only_exported_metrics(rule):
    names = promql_metric_names(rule["expr"])
    assert names, f"{rule['alert']} selects no metric"
    assert names <= KNOWN_SERIES, f"unknown metrics: {sorted(names - KNOWN_SERIES)}"


@pytest.mark.parametrize("topic", list(REQUIRED_ALERTS))
def test_each_required_condition_has_an_alert(topic):
    metric = REQUIRED_ALERTS[topic]
    assert any(metric in promql_metric_names(rule["expr"]) for rule in rules()), topic


def test_dead_letter_queue_alert_fires_on_any_message():
    (rule,) = [r for r in rules() if "dlq" in r["expr"] and "> 0" in r["expr"]]
    assert "feedline_fanout_queue_depth" in rule["expr"]


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    return subprocess.run(
        [binary, *args], capture_output=True, text=True, timeout=60, cwd=PROMETHEUS
    )


def test_promtool_accepts_the_configuration_and_rules():
    for args in (("check", "config", "prometheus.yml"), ("check", "rules", "alerts.yml")):
        result = promtool(*args)
        assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_pass_their_promtool_unit_tests():
    result = promtool("test", "rules", "alerts.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
