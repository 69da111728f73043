"""deploy/grafana: provisioning that loads the dashboard, panels that query real metrics."""

from __future__ import annotations

import json
import re

import pytest
from deploy_support import DEPLOY, KNOWN_SERIES, load_yaml, promql_metric_names, walk_panels

GRAFANA = DEPLOY / "grafana"
REQUIRED_METRICS = {
    "feedline_http_requests_total",
    "feedline_http_request_duration_seconds_bucket",
    "feedline_feed_requests_total",
    "feedline_outbox_backlog",
    "feedline_fanout_queue_depth",
    "feedline_fanout_delivery_lag_seconds_bucket",
}


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads((GRAFANA / "dashboards/feedline.json").read_text())


@pytest.fixture(scope="module")
def datasource_uid() -> str:
    (source,) = load_yaml(GRAFANA / "provisioning/datasources/prometheus.yml")["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    return source["uid"]


def queries(dashboard: dict) -> list[tuple[str, str]]:
    found = []
    for panel in walk_panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            found.append((panel["title"], target["expr"]))
    for variable in dashboard["templating"]["list"]:
        # label_values(metric, label): only the metric is a series name.
        match = re.fullmatch(r"label_values\((\w+),\s*\w+\)", variable["query"]["query"])
        assert match, f"${variable['name']}: unexpected query"
        found.append((f"${variable['name']}", match[1]))
    return found


def test_dashboard_has_identity_and_unique_panel_ids(dashboard):
    assert dashboard["uid"] and dashboard["title"]
    ids = [panel["id"] for panel in walk_panels(dashboard["panels"])]
    assert len(ids) == len(set(ids))


def test_every_panel_queries_the_provisioned_datasource(dashboard, datasource_uid):
    for panel in walk_panels(dashboard["panels"]):
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == datasource_uid, panel["title"]
        assert panel["targets"], f"{panel['title']} has no query"
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == datasource_uid


def test_queries_use_only_exported_metrics(dashboard):
    for title, expr in queries(dashboard):
        names = promql_metric_names(expr)
        assert names, f"{title}: no metric in {expr}"
        assert names <= KNOWN_SERIES, f"{title}: unknown {sorted(names - KNOWN_SERIES)}"


def test_dashboard_covers_requests_feed_outbox_queues_and_lag(dashboard):
    used = set()
    for _, expr in queries(dashboard):
        used |= promql_metric_names(expr)
    assert REQUIRED_METRICS <= used, sorted(REQUIRED_METRICS - used)


def test_panels_do_not_overlap(dashboard):
    taken: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells


def test_dashboard_provider_loads_json_files(dashboard):
    (provider,) = load_yaml(GRAFANA / "provisioning/dashboards/feedline.yml")["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/etc/grafana/dashboards"
