"""Reboot drills on the sandbox (playbooks/drills/reboot.yml, STORY-009): a replica and an app host come back
with every service and no manual step; the load balancer serves every request while the app host is down; the
primary database is refused. Runs before test_golive.py, whose checklist then sees the whole stack healthy."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import datetime
from pathlib import Path

from paas_testlib import inventory_host, run_playbook, said, ssh, steady_traffic, wait_for

ROOT = Path(__file__).resolve().parents[2]
KEY = str(ROOT / ".sandbox" / "ansible_ed25519")
LB = inventory_host("inventories/sandbox", "lb1")
DB1 = inventory_host("inventories/sandbox", "db1")["ansible_host"]
APP1 = inventory_host("inventories/sandbox", "app1")["ansible_host"]


def drill(hosts: str) -> subprocess.CompletedProcess:
    return run_playbook("inventories/sandbox", "drills/reboot.yml", "-e", f"drill_hosts={hosts}", timeout=1200)


def test_the_primary_database_is_not_rebooted_by_a_drill():
    refused = drill("db1")
    assert refused.returncode != 0
    assert "the primary database is not rebooted by a drill (db1)" in said(refused), refused.stdout[-2000:]
    assert "Reboot and wait" not in refused.stdout


def test_a_rebooted_replica_comes_back_streaming():
    result = drill("db2")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "db2: answered" in result.stdout and "systemd running" in result.stdout

    def streaming() -> bool:
        out = ssh(DB1, "debian", KEY, "sudo -n -u postgres psql -XAtc "
                  "\"SELECT application_name || ':' || state FROM pg_stat_replication\"").stdout
        return "db2:streaming" in out.split()

    assert wait_for(streaming, timeout=60, interval=2)


def test_an_app_host_rebooted_under_load_loses_no_request_and_serves_again():
    with steady_traffic(LB["nginx_sites"][0]["server_names"][0], LB["ansible_host"], max_seconds=600) as traffic:
        time.sleep(3)
        result = drill("app1")
        rebooted = time.time()
        time.sleep(20)   # traffic after the reboot too: the load balancer takes app1 back
    assert result.returncode == 0, result.stdout[-3000:]
    assert "app1: answered" in result.stdout and "systemd running" in result.stdout
    print(f"k6: {traffic.requests} requests during the reboot drill, {traffic.failed} failed")
    assert traffic.requests > 100 and traffic.failed == 0, traffic.output
    # app1 answered requests the load balancer sent it after the reboot.
    log = ssh(LB["ansible_host"], "debian", KEY, "sudo -n tail -n 400 /var/log/nginx/access.json").stdout
    served = [json.loads(line) for line in log.splitlines() if f'"{APP1}:' in line]
    assert any(entry.get("status") == 200 and _epoch(entry) > rebooted for entry in served), served[-3:]


def _epoch(entry: dict) -> float:
    """When nginx logged the request (the JSON log's ISO 8601 time)."""
    return datetime.fromisoformat(entry["time"]).timestamp()
