"""The Grafana dashboards the project ships (roles/prometheus/files/dashboards) are well-formed for
provisioning: a stable uid, unique panel ids, panels inside Grafana's 24-column grid, every query
on the dashboard's Prometheus data source variable. (Their queries are checked against a running
Prometheus in the prometheus role's scenario.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from paas_testlib import promql_metric_names

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "roles" / "prometheus" / "files" / "dashboards").glob("*.json"))


def test_there_are_dashboards():
    assert DASHBOARDS


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_a_dashboard_is_well_formed_for_provisioning(path):
    dashboard = json.loads(path.read_text())
    assert dashboard["uid"] == path.stem and dashboard["title"] and dashboard["schemaVersion"] >= 36
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    panels = dashboard["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["title"] and panel["targets"], panel["id"]
        assert panel["datasource"]["uid"] == "${datasource}"
        for target in panel["targets"]:
            assert target["expr"].strip() and target["refId"], panel["title"]
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_panels_do_not_overlap(path):
    cells = set()
    for panel in json.loads(path.read_text())["panels"]:
        x, y, w, h = (panel["gridPos"][k] for k in ("x", "y", "w", "h"))
        mine = {(column, line) for column in range(x, x + w) for line in range(y, y + h)}
        assert not cells & mine, f"{panel['title']} overlaps another panel"
        cells |= mine


@pytest.mark.parametrize(("expr", "names"), [
    ("sum by (instance) (rate(pg_stat_database_xact_commit[5m]))", {"pg_stat_database_xact_commit"}),
    ('rate(nginx_http_requests_total{job="nginx_log", status=~"5.."}[5m]) / 0.001', {"nginx_http_requests_total"}),
    ("http:request_errors:ratio_rate1h / 0.001", set()),
    ("(time() - max by (instance, repo) (pgbackrest_backup_last_completion_timestamp_seconds)) / 3600",
     {"pgbackrest_backup_last_completion_timestamp_seconds"}),
    ("redis_memory_used_bytes / on (instance) group_left redis_memory_max_bytes > 1e3",
     {"redis_memory_used_bytes", "redis_memory_max_bytes"}),
    ("histogram_quantile(0.95, sum by (le) (rate(nginx_http_request_duration_seconds_bucket[5m])))",
     {"nginx_http_request_duration_seconds_bucket"}),
])
def test_the_metric_names_of_a_query_are_found(expr, names):
    assert promql_metric_names(expr) == names


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_panel_reads_a_metric_or_a_recording_rule(path):
    for panel in json.loads(path.read_text())["panels"]:
        for target in panel.get("targets", []):
            assert promql_metric_names(target["expr"]) or ":" in target["expr"], panel["title"]
