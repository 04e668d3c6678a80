"""Drills on the sandbox (STORY-009). Reboots (playbooks/drills/reboot.yml), one drill for a replica and an app host
in turn under load: both come back with every service and no manual step, the load balancer serves every request;
the primary database is refused. An app host cut off the network under load (playbooks/drills/isolate.yml): no request
fails, HostDown fires and resolves. The primary lost under load (playbooks/drills/failover.yml): db2 promoted, no write
the app acknowledged lost, the seconds of failed writes measured, PostgresqlDown fired, then db1 rejoined (the
alert resolved) and the sandbox failed back to its inventory's topology. Runs before test_golive.py, whose
checklist then sees the whole stack healthy."""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import cache
from pathlib import Path

import yaml
from paas_testlib import inventory_host, prometheus_query, run_playbook, said, ssh, steady_traffic, wait_for

ROOT = Path(__file__).resolve().parents[2]
KEY = str(ROOT / ".sandbox" / "ansible_ed25519")
LB = inventory_host("inventories/sandbox", "lb1")


@cache
def address(host: str) -> str:
    """A sandbox host's address (asked of the inventory once per host: the drills' waits poll with it)."""
    return inventory_host("inventories/sandbox", host)["ansible_host"]


APP1 = address("app1")
DB2 = address("db2")
MON1 = address("mon1")
SITE = LB["nginx_sites"][0]["server_names"][0]
VUS = 2   # k6's virtual users in the drills' traffic


def drill(hosts: str) -> subprocess.CompletedProcess:
    return run_playbook("inventories/sandbox", "drills/reboot.yml", "-e", f"drill_hosts={hosts}", timeout=1200)


def test_the_primary_database_is_not_rebooted_by_a_drill():
    refused = drill("db1")
    assert refused.returncode != 0
    assert "the primary database is not rebooted by a drill (db1)" in said(refused), refused.stdout[-2000:]
    assert "Reboot and wait" not in refused.stdout


def test_a_replica_and_an_app_host_rebooted_in_turn_under_load_lose_no_request_and_come_back():
    # One drill run for both, as the runbook's example (`drill_hosts=app1,db2`): one host at a time.
    with steady_traffic(LB["nginx_sites"][0]["server_names"][0], LB["ansible_host"], max_seconds=600) as traffic:
        time.sleep(3)
        result = drill("db2,app1")
        rebooted = time.time()
        time.sleep(20)   # traffic after the reboot too: the load balancer takes app1 back
    assert result.returncode == 0, result.stdout[-3000:]
    for host in ("db2", "app1"):
        assert f"{host}: answered" in result.stdout, result.stdout[-3000:]
    assert "systemd running" in result.stdout
    print(f"k6: {traffic.requests} requests during the reboot drill, {traffic.failed} failed")
    assert traffic.requests > 100 and traffic.failed == 0, traffic.output
    assert wait_for(lambda: streams_to("db1", "db2"), timeout=60, interval=2)
    assert_served_by(APP1, since=rebooted)


def assert_served_by(address: str, since: float) -> None:
    """The load balancer sent the app host at address requests it answered (200) after since."""
    log = ssh(LB["ansible_host"], "debian", KEY, "sudo -n tail -n 400 /var/log/nginx/access.json").stdout
    served = [json.loads(line) for line in log.splitlines() if f'"{address}:' in line]
    assert any(entry.get("status") == 200 and _epoch(entry) > since for entry in served), served[-3:]


def _epoch(entry: dict) -> float:
    """When nginx logged the request (the JSON log's ISO 8601 time)."""
    return datetime.fromisoformat(entry["time"]).timestamp()


def firing(alert: str, host: str) -> list[dict]:
    """The alert's series firing in the sandbox's Prometheus for host (its instance label names the host or
    its address)."""
    series = prometheus_query(MON1, KEY, f'ALERTS{{alertname="{alert}",alertstate="firing"}}')
    return [a["metric"] for a in series if a["metric"].get("instance", "").split(":")[0] in {host, address(host)}]


def test_cutting_off_the_primary_database_or_for_too_short_a_time_is_refused():
    refused = run_playbook("inventories/sandbox", "drills/isolate.yml", "-e", "drill_hosts=db1",
                           "-e", "drill_isolate_seconds=5")
    assert refused.returncode != 0
    assert "the primary database is not cut off by this drill (db1)" in said(refused), refused.stdout[-2000:]
    assert "drill_isolate_seconds must be a whole number of seconds from 10 to 1800 (got 5)" in said(refused)
    assert "Cut the host off" not in refused.stdout


def test_an_app_host_cut_off_under_load_leaves_the_site_serving_pages_and_serves_again():
    # A request sent to app1 on a kept-alive connection just as it is cut off gets no answer: nginx gives it
    # proxy_read_timeout (60 s), then retries it on app2 if app1 had not begun to answer (k6 waits longer than
    # that: slow, not failed), or fails it if app1's answer was cut off midway (nginx cannot resend a half-read
    # answer). So at most the request each virtual user has in flight at the cut fails; every later one is
    # served by app2 (a new connection to app1 fails over within the 5-s connect timeout).
    with steady_traffic(SITE, LB["ansible_host"], max_seconds=600, vus=VUS, TIMEOUT="75s") as traffic, \
            ThreadPoolExecutor(1) as pool:
        time.sleep(3)
        began = time.time()
        drill = pool.submit(run_playbook, "inventories/sandbox", "drills/isolate.yml",
                            "-e", "drill_hosts=app1", "-e", "drill_isolate_seconds=180")
        fired = wait_for(lambda: drill.done() or firing("HostDown", "app1"), timeout=240, interval=5) \
            and not drill.done()
        print(f"HostDown for app1 firing: {fired}, {time.time() - began:.0f} s after the drill began")
        result = drill.result(timeout=900)
        healed = time.time()
        time.sleep(20)   # traffic after the drill too: the load balancer takes app1 back
    assert result.returncode == 0, result.stdout[-3000:]
    assert "isolation drill: app1 was cut off for" in said(result), result.stdout[-2000:]
    print(f"k6: {traffic.requests} requests while app1 was cut off, {traffic.failed} failed, "
          f"the slowest {traffic.slowest:.1f} s")
    assert fired, "HostDown did not fire for app1 while it was cut off"
    assert traffic.requests > 100 and traffic.failed <= VUS, traffic.output
    assert_served_by(APP1, since=healed)
    assert wait_for(lambda: not firing("HostDown", "app1"), timeout=120, interval=5)
    print(f"HostDown for app1 resolved {time.time() - healed:.0f} s after the network came back")


# --- the primary lost under load, then the rejoin and the way back (keep last: they move the primary) -----------

def regrouped_inventory(primary: str, replica: str) -> str:
    """The sandbox's inventory edited as the failover runbook says (primary in db_primary, replica in db_replica),
    its group_vars and vault the sandbox's own. Under .sandbox/, so that the inventory's sandbox_dir
    (inventory_dir/../../.sandbox) is still the sandbox's."""
    data = yaml.safe_load((ROOT / "inventories/sandbox/hosts.yml").read_text())
    groups = data["all"]["children"]
    hosts = {**groups["db_primary"]["hosts"], **groups["db_replica"]["hosts"]}
    groups["db_primary"]["hosts"], groups["db_replica"]["hosts"] = {primary: hosts[primary]}, {replica: hosts[replica]}
    inventory = ROOT / ".sandbox" / f"inventory-{primary}-primary"
    inventory.mkdir(exist_ok=True)
    (inventory / "hosts.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    if not (inventory / "group_vars").exists():
        (inventory / "group_vars").symlink_to(ROOT / "inventories/sandbox/group_vars")
    return str(inventory.relative_to(ROOT))


def streams_to(primary: str, replica: str) -> bool:
    """Whether replica streams from primary (pg_stat_replication on the primary)."""
    query = "SELECT application_name || ':' || state FROM pg_stat_replication"
    out = ssh(address(primary), "debian", KEY,
              f'sudo -n -u postgres psql -XAtc "{query}"').stdout
    return f"{replica}:streaming" in out.split()


def test_a_failover_drill_naming_no_replica_is_refused_before_any_change():
    refused = run_playbook("inventories/sandbox", "drills/failover.yml", "-e", "db_failover_promote=db1")
    assert refused.returncode != 0
    assert "failover drill: give -e db_failover_promote=HOST, one of the db_replica hosts (db2)" in said(refused)
    assert "Stop PostgreSQL as a failure would" not in refused.stdout


def test_a_primary_lost_under_load_fails_over_losing_no_acknowledged_write_and_pages():
    run = f"failover-drill-{uuid.uuid4().hex[:8]}"
    with steady_traffic(SITE, LB["ansible_host"], max_seconds=600, script="write-traffic.js", RUN=run) as traffic:
        time.sleep(5)
        began = time.time()
        result = run_playbook("inventories/sandbox", "drills/failover.yml", "-e", "db_failover_promote=db2")
        ended = time.time()
        time.sleep(20)   # writes after the drill too: through pgbouncer on db1 to db2
    assert result.returncode == 0, result.stdout[-3000:]
    report = re.search(r"failover drill: (.*? WAL)\.", said(result)).group(1).replace("''", "'")   # unwrapped
    assert "lacked 0 bytes" in report, report
    acknowledged = [w for w in traffic.log if w["acknowledged"]]
    failed = [w for w in traffic.log if not w["acknowledged"]]
    assert any(w["ended"] / 1000 < began for w in acknowledged), traffic.log[:5]
    assert any(w["started"] / 1000 > ended for w in acknowledged), traffic.log[-5:]   # writes resumed
    # Writes failed only while the drill ran (from the primary's loss until pgbouncer took db2; pgbouncer tries
    # the server again pgbouncer_server_login_retry, 2 s, after its last failed login).
    assert all(began <= w["started"] / 1000 <= ended + 5 for w in failed), failed[:5]
    seconds = (max(w["ended"] for w in failed) - min(w["started"] for w in failed)) / 1000 if failed else 0
    print(f"{report}\nk6: {len(traffic.log)} writes, {len(acknowledged)} acknowledged, {len(failed)} failed "
          f"over {seconds:.1f} s; the drill ran {ended - began:.1f} s")
    # Every write the app acknowledged is on the new primary.
    out = ssh(DB2, "debian", KEY, f"sudo -n -u postgres psql -d portfolio_sandbox -XAt -v run='{run}'",
              stdin="SELECT name FROM portfolios WHERE name LIKE :'run' || ' %';", timeout=30)
    assert out.returncode == 0, out.stderr
    missing = {w["name"] for w in acknowledged} - set(out.stdout.splitlines())
    assert not missing, sorted(missing)
    # The old primary is fenced (masked), and the alert for it fires (pg_up == 0 for a minute).
    assert wait_for(lambda: firing("PostgresqlDown", "db1"), timeout=180, interval=5), \
        prometheus_query(MON1, KEY, "ALERTS")
    print(f"PostgresqlDown firing for db1 {time.time() - began:.0f} s after the drill began")


def in_recovery(host: str) -> str:
    """pg_is_in_recovery() on host: 't' on a standby, 'f' on a primary, '' when PostgreSQL does not answer."""
    return ssh(address(host), "debian", KEY,
               'sudo -n -u postgres psql -XAtc "SELECT pg_is_in_recovery()"').stdout.strip()


def test_the_lost_primary_rejoins_its_alert_resolves_and_the_sandbox_fails_back():
    began = time.time()
    try:
        # Fired already when the test above ran to its end; the rejoin would end the alert before it could page.
        assert wait_for(lambda: firing("PostgresqlDown", "db1"), timeout=180, interval=5)

        # The alert paged (Alertmanager's stand-in PagerDuty on mon1 recorded it) while db1 was still down:
        # Alertmanager holds a new group for group_wait (30 s) first, and an alert resolved within that wait
        # never pages, so the rejoin waits for the page.
        def paged() -> bool:
            out = ssh(MON1, "debian", KEY, "sudo -n cat /var/lib/sandbox-alert-receiver/hooks.jsonl").stdout
            pages = [json.dumps(r["body"]) for r in map(json.loads, out.splitlines()) if r["path"] == "/pagerduty"]
            return any('"trigger"' in page and "PostgresqlDown" in page
                       and any(name in page for name in ("db1", address("db1"))) for page in pages)

        assert wait_for(paged, timeout=120, interval=5)
        print(f"PostgresqlDown for db1 paged {time.time() - began:.0f} s after this test began")
        rejoined = run_playbook(regrouped_inventory("db2", "db1"), "db-rejoin.yml", "-e", "db_rejoin_host=db1")
        assert rejoined.returncode == 0, rejoined.stdout[-3000:]
        assert wait_for(lambda: streams_to("db2", "db1"), timeout=60, interval=2)
        print(f"db1 rejoined and streaming from db2 after {time.time() - began:.0f} s")
        assert wait_for(lambda: not firing("PostgresqlDown", "db1"), timeout=120, interval=5)
        print(f"PostgresqlDown for db1 resolved {time.time() - began:.0f} s after this test began")
    finally:
        # Back to the inventory's topology (db1 primary, db2 streaming from it) whatever failed above, when
        # db2 is the primary and db1 its standby: the later tests and the next site.yml expect it.
        if in_recovery("db2") == "f" and in_recovery("db1") == "t":
            back = run_playbook(regrouped_inventory("db2", "db1"), "db-failover.yml", "-e", "db_failover_promote=db1")
            assert back.returncode == 0, back.stdout[-3000:]
            rejoined = run_playbook("inventories/sandbox", "db-rejoin.yml", "-e", "db_rejoin_host=db2")
            assert rejoined.returncode == 0, rejoined.stdout[-3000:]
    assert wait_for(lambda: streams_to("db1", "db2"), timeout=60, interval=2)
    assert wait_for(lambda: not firing("PostgresqlDown", "db1") and not firing("PostgresqlDown", "db2"),
                    timeout=120, interval=5)
    print(f"back to db1 primary, db2 streaming: {time.time() - began:.0f} s after the first rejoin began")
