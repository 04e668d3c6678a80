"""Behaviour of the prometheus role: targets scraped by inventory name, rules loaded and promtool-tested."""

from __future__ import annotations

import json
import re
import urllib.parse
from pathlib import Path

import pytest
from paas_testlib import wait_for

testinfra_hosts = ["ansible://prometheus-host"]
RULE_TESTS = sorted((Path(__file__).resolve().parents[1] / "rule_tests").glob("*_test.yml"))


def api(host, path: str) -> dict:
    """GET the Prometheus HTTP API on the host's loopback (where it listens)."""
    url = f"http://127.0.0.1:9090/api/v1/{path}"
    script = f"import urllib.request; print(urllib.request.urlopen('{url}', timeout=5).read().decode())"
    result = host.run(f'python3 -c "{script}"')
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)["data"]


def test_every_target_is_scraped_and_named_by_its_inventory_name(host):
    def healthy() -> dict:
        targets = api(host, "targets")["activeTargets"]
        return {(t["labels"]["job"], t["labels"]["instance"]): t["health"] for t in targets}

    wanted = {("node", "prometheus-host"): "up", ("prometheus", "prometheus-host"): "up"}
    assert wait_for(lambda: healthy() == wanted, timeout=30), healthy()


def test_a_node_metric_is_queryable_with_the_environment_label(host):
    # Named by the inventory name. Debian's package first starts Prometheus on its own example
    # configuration (a target localhost:9100) until the role's is in place, and that series can
    # stay queryable for the five-minute lookback: the query names the role's target.
    query = urllib.parse.quote('node_load1{job="node",instance="prometheus-host"}')
    assert wait_for(lambda: api(host, f"query?query={query}")["result"], timeout=30)
    config = api(host, "status/config")["yaml"]
    assert "environment: molecule" in config


def test_the_alert_rules_are_loaded(host):
    groups = api(host, "rules")["groups"]
    names = {rule["name"] for group in groups for rule in group["rules"]}
    assert {"HostDown", "HostDiskAlmostFull", "HostMemoryLow", "HostSystemdUnitFailed", "BackupTooOld",
            "BackupFailed", "WalArchivingCheckFailed"} <= names
    assert all(group["file"].startswith("/etc/prometheus/rules/") for group in groups)


def test_retention_and_listen_address_are_on_the_command_line(host):
    flags = api(host, "status/flags")
    assert flags["storage.tsdb.retention.time"] == "2d"
    assert flags["storage.tsdb.retention.size"] == "1GiB"   # Prometheus reads GB as 2^30 bytes
    assert flags["web.listen-address"] == "127.0.0.1:9090"
    assert not host.socket("tcp://0.0.0.0:9090").is_listening


@pytest.fixture(scope="module")
def rule_tests_on_host(host):
    """The rule test files, copied to the host in one module call (not one per file)."""
    copied = host.ansible("copy", f"src={RULE_TESTS[0].parent}/ dest=/opt/paas-rule-tests/ mode=0644", become=True,
                          check=False)
    assert not copied.get("failed"), copied
    return "/opt/paas-rule-tests"


@pytest.mark.parametrize("rule_test", RULE_TESTS, ids=lambda p: p.name)
def test_the_alert_rules_pass_their_promtool_tests(host, rule_tests_on_host, rule_test):
    result = host.run(f"promtool test rules {rule_tests_on_host}/{rule_test.name}")
    assert result.rc == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr



# Resolved: node_exporter's and alertmanager's scenarios are links to this one.
DASHBOARDS = sorted((Path(__file__).resolve().parents[3] / "files" / "dashboards").glob("*.json"))


def test_the_rule_tests_and_dashboards_are_found():
    assert RULE_TESTS, "no promtool rule test found"
    assert DASHBOARDS, "no dashboard found to check against Prometheus"


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda p: p.name)
def test_every_dashboard_query_is_accepted_by_prometheus(host, dashboard):
    # Prometheus parses each panel's expression (a typo, an unknown function: HTTP 400), and the
    # recorded series the panels read are rules this server loaded.
    recorded = {rule["name"] for group in api(host, "rules")["groups"] for rule in group["rules"]
                if rule["type"] == "recording"}
    panels = json.loads(dashboard.read_text())["panels"]
    exprs = [target["expr"] for panel in panels for target in panel.get("targets", [])]
    assert exprs
    for expr in exprs:
        quoted = urllib.parse.quote(expr, safe="")
        api(host, f"query?query={quoted}")
        for name in re.findall(r"\b[a-z]+:[a-z0-9_]+:[a-z0-9_]+\b", expr):
            assert name in recorded, f"{dashboard.name}: {name} is not a recording rule"
