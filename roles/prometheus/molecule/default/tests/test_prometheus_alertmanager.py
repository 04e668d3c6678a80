"""Behaviour of the alertmanager role: critical alerts page, every alert reaches the webhook, inhibition, no key
in the configuration. PagerDuty, Opsgenie and the webhook are one recording stand-in on the host
(tests/fixtures/alert_receiver.py)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from paas_testlib import wait_for

testinfra_hosts = ["ansible://prometheus-host"]
STUB = Path(__file__).resolve().parents[5] / "tests" / "fixtures" / "alert_receiver.py"
AMTOOL = "amtool --alertmanager.url=http://127.0.0.1:9093"


@pytest.fixture(scope="module", autouse=True)
def stub(host):
    host.run("rm -f /root/hooks.jsonl")
    copied = host.ansible("copy", f"src={STUB} dest=/root/alert_receiver.py mode=0644", become=True, check=False)
    assert not copied.get("failed"), copied
    assert host.run("systemd-run --unit=paas-hook-stub python3 /root/alert_receiver.py").rc == 0
    assert wait_for(lambda: host.socket("tcp://127.0.0.1:9999").is_listening, timeout=15)
    yield
    host.run("systemctl stop paas-hook-stub")


def received(host, path: str, alertname: str) -> list[dict]:
    """Requests to the stub at path that carry the alert."""
    lines = host.run("cat /root/hooks.jsonl 2>/dev/null").stdout.splitlines()
    return [r for r in map(json.loads, lines) if r["path"].startswith(path) and alertname in json.dumps(r["body"])]


def fire(host, alertname: str, severity: str, instance: str) -> None:
    result = host.run(f"{AMTOOL} alert add alertname={alertname} severity={severity} instance={instance} "
                      "--annotation=summary=test")
    assert result.rc == 0, result.stderr


def test_a_critical_alert_pages_both_services_and_reaches_the_webhook(host):
    name = f"PaasCritical{uuid.uuid4().hex[:8]}"
    fire(host, name, "critical", "db1")
    assert wait_for(lambda: received(host, "/pagerduty", name), timeout=30)
    assert wait_for(lambda: received(host, "/opsgenie", name), timeout=30)
    assert wait_for(lambda: received(host, "/chat", name), timeout=30)
    assert received(host, "/pagerduty", name)[0]["body"]["routing_key"] == "test-pagerduty-routing-key"
    assert received(host, "/opsgenie", name)[0]["authorization"] == "GenieKey test-opsgenie-api-key"


def test_a_warning_reaches_the_webhook_without_paging(host):
    name = f"PaasWarning{uuid.uuid4().hex[:8]}"
    fire(host, name, "warning", "app1")
    assert wait_for(lambda: received(host, "/chat", name), timeout=30)
    assert not received(host, "/pagerduty", name) and not received(host, "/opsgenie", name)


def test_a_critical_alert_silences_the_warnings_of_its_instance(host):
    critical, warning = (f"Paas{kind}{uuid.uuid4().hex[:8]}" for kind in ("Down", "Slow"))
    fire(host, critical, "critical", "redis1")
    assert wait_for(lambda: received(host, "/chat", critical), timeout=30)
    fire(host, warning, "warning", "redis1")
    # Another instance's warning with the same name is not silenced: once it arrives, redis1's would have too.
    fire(host, warning, "warning", "redis2")
    assert wait_for(lambda: received(host, "/chat", warning), timeout=30)
    chat = received(host, "/chat", warning)
    instances = {a["labels"]["instance"] for r in chat for a in r["body"]["alerts"]}
    assert instances == {"redis2"}


def test_the_keys_are_in_files_only_the_server_reads(host):
    config = host.file("/etc/prometheus/alertmanager.yml").content_string
    assert "test-pagerduty-routing-key" not in config and "test-opsgenie-api-key" not in config
    for name in ("pagerduty", "opsgenie"):
        key = host.file(f"/etc/prometheus/alertmanager-secrets/{name}")
        assert (key.user, key.group, key.mode) == ("root", "prometheus", 0o640)
    routes = host.run("amtool config routes test --config.file=/etc/prometheus/alertmanager.yml severity=critical")
    assert routes.stdout.split() == ["page,notify"] or routes.stdout.split() == ["page", "notify"], routes.stdout
