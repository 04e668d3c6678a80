"""The go-live checklist (playbooks/go-live-check.yml, STORY-009) on the converged sandbox, and alert delivery.

Runs after test_backup.py (the restore drills it runs are what the checklist reads) and test_drift.py
(its last, clean drift check is published): pytest runs the files in name order."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from paas_testlib import inventory_host, prometheus_query, run_playbook, ssh, wait_for

ROOT = Path(__file__).resolve().parents[2]
KEY = str(ROOT / ".sandbox" / "ansible_ed25519")
REPORT = ROOT / "reports" / "go-live-sandbox.txt"
MON1 = inventory_host("inventories/sandbox", "mon1")["ansible_host"]
LB1 = inventory_host("inventories/sandbox", "lb1")["ansible_host"]
# Every kind of check the sandbox's topology calls for (filter_plugins/golive.py).
CHECKS = {"monitoring", "probes", "certificates", "database backups", "database restore drill", "file backups",
          "file restore drill", "replication", "alert routing", "firing alerts", "drift", "dns"}


def rows() -> list[list[str]]:
    """The report's rows as [status, check, subject+detail]: columns are padded with two or more spaces."""
    lines = REPORT.read_text().splitlines()[1:-1]
    return [[cell.strip() for cell in line.split("  ") if cell.strip()] for line in lines]


def prometheus(expr: str) -> list[dict]:
    """An instant query to the sandbox's Prometheus (it listens on mon1's loopback)."""
    return prometheus_query(MON1, KEY, expr)


def amtool(arguments: str):
    """amtool against the sandbox's Alertmanager (on mon1's loopback)."""
    return ssh(MON1, "debian", KEY, f"amtool --alertmanager.url=http://127.0.0.1:9093 {arguments}")


def drill_alert(name: str, ends_in: float):
    """Send a critical drill alert named name that ends ends_in seconds from now (negative: resolved)."""
    end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + ends_in))
    return amtool(f"alert add alertname={name} severity=critical instance=sandbox-test --annotation=summary=drill "
                  f"--end={end}")


def load_balancer_errors() -> tuple[list[dict], list[dict], list[dict]]:
    """lb1's 5xx answers, split into the blackbox probes' /up finding no app on any upstream (from nginx's
    start in the converge until the first deploy), the writes failed while test_drills.py's failover drill
    moved the primary (its k6 names itself in the user agent), and any other."""
    log = ssh(LB1, "debian", KEY, "sudo -n sh -c 'zcat -f /var/log/nginx/access.json*'", timeout=60).stdout
    errors = [json.loads(line) for line in log.splitlines() if '"status":5' in line]
    no_app = [e for e in errors if e["uri"] == "/up" and e["user_agent"].startswith("Blackbox Exporter")
              and set(e["upstream_status"].split(", ")) == {"502"}]
    drill = [e for e in errors if e["user_agent"].startswith("k6 failover drill")]
    return no_app, drill, [e for e in errors if e not in no_app and e not in drill]


def test_the_go_live_check_passes_on_the_converged_sandbox():
    no_app, drill, others = load_balancer_errors()
    assert not others, others[:5]
    if no_app or drill:
        # A real burn of the error budget (the HttpError* alerts fire while it is inside their windows, up to 6
        # hours): the probes got 502 from the site until the app was first deployed, and writes failed while the
        # failover drill moved the primary. Acknowledged as an operator would, with a silence and its reason,
        # which the checklist lists instead of failing on.
        reasons = [f"{len(no_app)} probes got 502 before the first deploy"] if no_app else []
        reasons += [f"{len(drill)} writes failed during the failover drill"] if drill else []
        silenced = amtool("silence add 'alertname=~HttpError.*' --duration=6h --author=tests/sandbox/test_golive.py "
                          f"--comment='{'; '.join(reasons)}'")
        assert silenced.returncode == 0, silenced.stderr
    # test_drift.py's last, clean result reaches Prometheus at its next scrape of mon1's node exporter.
    assert wait_for(lambda: prometheus("max(paas_drift_changes) == 0"), timeout=120, interval=5), \
        prometheus("paas_drift_changes")
    result = run_playbook("inventories/sandbox", "go-live-check.yml")
    assert result.returncode == 0, result.stdout[-6000:]
    table = rows()
    assert {row[1] for row in table} == CHECKS, REPORT.read_text()
    assert not [row for row in table if row[0] == "FAIL"], REPORT.read_text()
    # Named subjects, not only counts: each replica, each repository, each site name.
    text = REPORT.read_text()
    for subject in ("db2", "main 1", "main 2", "app1 local", "app1 offsite", "portfolio.sandbox.internal",
                    "severity=critical", "lb1 portfolio"):
        assert subject in text, text
    assert "pagerduty_configs" in text
    # No unit failed on any host (auditd, which cannot run in a container, is left off, not failed).
    assert not [row for row in table if "HostSystemdUnitFailed" in row[2]], text


def test_a_certificate_inside_the_limit_fails_the_go_live_check_by_name():
    # The site's certificate (the internal CA's, a year) is not valid for 400 more days.
    result = run_playbook("inventories/sandbox", "go-live-check.yml", "-e", "golive_certificate_min_days=400")
    assert result.returncode != 0, result.stdout[-3000:]
    assert "go-live check failed: certificates" in result.stdout, result.stdout[-3000:]
    failed = [row for row in rows() if row[0] == "FAIL"]
    assert failed and {row[1] for row in failed} == {"certificates"}, REPORT.read_text()


def test_a_critical_alert_pages_and_reaches_the_chat_in_the_sandbox():
    name = f"SandboxDrill{uuid.uuid4().hex[:8]}"
    added = drill_alert(name, ends_in=300)
    assert added.returncode == 0, added.stderr

    def received() -> list[dict]:
        out = ssh(MON1, "debian", KEY, "sudo -n cat /var/lib/sandbox-alert-receiver/hooks.jsonl").stdout
        return [r for r in map(json.loads, out.splitlines()) if name in json.dumps(r["body"])]

    # Alertmanager waits group_wait (30 s) before the first notification of a group.
    assert wait_for(lambda: {r["path"] for r in received()} >= {"/pagerduty", "/chat"}, timeout=120, interval=5), \
        received()
    paged = next(r for r in received() if r["path"] == "/pagerduty")
    assert paged["body"]["routing_key"] == "sandbox-demo-pagerduty-routing-key"
    # Resolved again (an alert whose end has passed), so no later check sees it firing.
    resolved = drill_alert(name, ends_in=-1)
    assert resolved.returncode == 0, resolved.stderr
