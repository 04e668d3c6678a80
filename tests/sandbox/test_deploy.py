"""STORY-004 on the sandbox: the demo app deployed by Kamal (`make sandbox-deploy` ran
playbooks/deploy.yml), served through the load balancer; a deploy and a rollback
under steady k6 traffic lose no request; the app's log lines reach the log host
filed by host and role (and `kamal app logs` still reads them); a broken release fails its deploy, the
running version keeps serving and the deploy lock is released; a version missing
from the registry is refused before anything changes.

Runs after the sandbox suite's deploy step (scripts/test-all.py). Talks only to
the sandbox's own containers.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest
from paas_testlib import (
    SANDBOX_SITE_CA,
    inventory_host,
    inventory_vault,
    psql_command,
    received_logs_command,
    run_playbook,
    ssh,
    steady_traffic,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "reports" / "deploys.jsonl"


LB = inventory_host("inventories/sandbox", "lb1")
LB_IP = LB["ansible_host"]
NAME = LB["nginx_sites"][0]["server_names"][0]


def curl(path: str, *args: str) -> tuple[int, dict, str]:
    """One request to the site through the LB (its name pinned to the LB's address, as a browser would
    reach it through DNS); returns status, headers (lower-case) and body."""
    result = subprocess.run(
        ["curl", "-sS", "--max-time", "20", "--cacert", SANDBOX_SITE_CA, "--resolve", f"{NAME}:443:{LB_IP}", "-D", "-",
         *args, f"https://{NAME}{path}"], capture_output=True, timeout=30, check=False)
    head, _, body = result.stdout.decode(errors="replace").partition("\r\n\r\n")
    lines = head.split("\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0].startswith("HTTP/") else 0
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, body


def served_version() -> str:
    status, headers, _ = curl("/up")
    return headers.get("x-app-version", "") if status == 200 else ""


def playbook(name: str, *args: str) -> subprocess.CompletedProcess:
    return run_playbook("inventories/sandbox", name, *args)


def last_report() -> dict:
    return json.loads(REPORT.read_text().strip().splitlines()[-1])


@pytest.fixture(scope="module")
def v1() -> str:
    version = served_version()
    assert version, "the sandbox deploy step left no app serving"
    return version


def test_the_demo_app_is_served_through_the_load_balancer(v1):
    status, headers, body = curl("/portfolios")
    assert status == 200 and "<h1>Portfolios</h1>" in body
    assert headers["x-app-version"] == v1
    assert headers["strict-transport-security"].startswith("max-age=63072000")   # nginx in front
    status, _, body = curl("/stats")
    stats = json.loads(body)
    assert status == 200 and stats["cache"] == "ok" and stats["version"] == v1


def test_a_form_post_creates_a_portfolio_and_the_job_role_works_the_queue(tmp_path, v1):
    jar = str(tmp_path / "cookies")
    _, _, form = curl("/portfolios/new", "-c", jar)
    token = re.search(r'name="authenticity_token" value="([^"]+)"', form).group(1)
    name = f"Portfolio {uuid.uuid4().hex[:8]}"
    data = urllib.parse.urlencode({"authenticity_token": token, "portfolio[name]": name, "portfolio[owner]": "ada"})
    # A 422 here would mean X-Forwarded-Proto did not reach Rails (CSRF origin check behind TLS).
    status, headers, _ = curl("/portfolios", "-b", jar, "-c", jar, "--data", data)
    assert status == 302, status
    page = urllib.parse.urlparse(headers["location"]).path
    _, _, show = curl(page, "-b", jar, "-c", jar)
    token = re.search(r'name="authenticity_token" value="([^"]+)"', show.split("Add a project")[1]).group(1)
    image = tmp_path / "cover.txt"
    image.write_text("a cover image stand-in\n")
    status, _, _ = curl(f"{page}/projects", "-b", jar, "-c", jar, "-F", f"authenticity_token={token}",
                        "-F", "project[title]=Bridge", "-F", f"project[image]=@{image}")
    assert status == 302
    # Active Storage kept the file on the app host's volume; the Sidekiq job (job role) tallied the project.
    assert wait_for(lambda: 'id="projects-count">1<' in curl(page, "-b", jar)[2], 60, 2)
    assert "(image: cover.txt)" in curl(page, "-b", jar)[2]


def kamal(*args: str) -> subprocess.CompletedProcess:
    """The pinned kamal, in the sandbox's generated app configuration (as an operator runs it)."""
    return subprocess.run([str(ROOT / ".venv/bin/kamal"), *args, "-d", "sandbox"], cwd=ROOT / ".sandbox" / "app",
                          capture_output=True, text=True, timeout=120, check=False)


def test_the_access_log_and_the_apps_lines_reach_the_log_host_by_host_and_role_and_kamal_still_reads_them(v1):
    # nginx logs each request as JSON, Rails its path; the web containers write to journald as portfolio-web,
    # the hosts' rsyslog forwards both, the log host files them under /var/log/remote/<host>/<program>.log.
    marker = f"logcheck{uuid.uuid4().hex[:12]}"
    for _ in range(6):
        assert curl(f"/portfolios?{marker}=1")[0] == 200
    monitoring = inventory_host("inventories/sandbox", "mon1")["ansible_host"]
    key = str(ROOT / ".sandbox" / "ansible_ed25519")

    def senders(program: str, text: str) -> set[str]:
        found = ssh(monitoring, "debian", key, "sudo -n " + received_logs_command(program, text)).stdout.split()
        return {path.split("/")[-2].split(".")[0] for path in found}   # <host>[.domain]/<program>.log

    assert wait_for(lambda: senders("portfolio-web", marker), timeout=60, interval=3)
    assert wait_for(lambda: senders("nginx_access", marker) == {"lb1"}, timeout=30, interval=3)
    assert senders("portfolio-web", marker) <= {"app1", "app2"}
    # The job role (on app2 only) files its own: Sidekiq's lines (its start, each job) are INFO lines.
    assert senders("portfolio-job", "INFO") == {"app2"}
    shown = kamal("app", "logs", "-r", "web", "--since", "10m", "--grep", marker)
    assert marker in shown.stdout, shown.stdout[-2000:] + shown.stderr[-2000:]


def test_deploy_and_rollback_under_traffic_lose_no_request(v1):
    v2 = f"v2-{uuid.uuid4().hex[:6]}"
    with steady_traffic(NAME, LB_IP, max_seconds=420) as traffic:
        time.sleep(5)
        deploy = playbook("deploy.yml", "-e", f"version={v2}")
        assert deploy.returncode == 0
        assert served_version() == v2
        deployed = last_report()
        assert deployed["result"] == "deployed" and deployed["previous_version"] == v1
        rollback = playbook("rollback.yml", "-e", f"version={v1}")
        assert rollback.returncode == 0
        assert served_version() == v1
        rolled = last_report()
        assert rolled["result"] == "rolled back"
        time.sleep(5)
    print(f"k6: {traffic.requests} requests, {traffic.failed} failed; deploy {deployed['deploy_seconds']} s, "
          f"rollback {rolled['rollback_seconds']} s")
    assert traffic.requests > 200, traffic.output
    assert traffic.failed == 0, traffic.output
    assert float(deployed["deploy_seconds"]) < 600      # the brief: deploy under 10 minutes
    assert float(rolled["rollback_seconds"]) < 120     # the brief: rollback under 2 minutes


def test_a_broken_release_fails_its_deploy_and_the_running_version_keeps_serving(v1):
    broken = f"broken-{uuid.uuid4().hex[:6]}"
    result = playbook("deploy.yml", "-e", f"version={broken}", "-e", '{"build_args": {"BROKEN": "1"}}')
    assert result.returncode != 0
    assert f"Deploy of {broken} failed" in result.stdout
    assert served_version() == v1
    report = last_report()
    assert report["version"] == broken and report["result"].startswith("failed")
    lock = kamal("lock", "status")
    assert "There is no deploy lock" in lock.stdout, lock.stdout + lock.stderr


def test_a_version_missing_from_the_registry_is_refused_before_any_change(v1):
    result = playbook("deploy.yml", "-e", "version=no-such-version", "-e", "build=false")
    assert result.returncode != 0
    assert "version no-such-version of" in result.stdout and "is not in the registry" in result.stdout
    assert "TASK [Kamal deploy" not in result.stdout
    assert served_version() == v1


def test_the_app_reaches_pgbouncer_over_tls_it_verifies(v1):
    # DATABASE_URL asks libpq for sslmode=verify-full against the internal CA (mounted into the app's
    # containers): the app serving at all shows the verification passed; pgbouncer shows the sessions.
    assert curl("/portfolios")[0] == 200   # reads the database: the web container holds a connection
    db1 = inventory_host("inventories/sandbox", "db1")
    apps = {inventory_host("inventories/sandbox", name)["private_ip"] for name in ("app1", "app2")}
    password = inventory_vault("inventories/sandbox")["vault_pgbouncer_stats_password"]
    query = psql_command(db1["private_ip"], "pgbouncer", "pgbouncer_stats", "SHOW CLIENTS", options="-A -F '|'")
    result = ssh(db1["ansible_host"], "debian", str(ROOT / ".sandbox" / "ansible_ed25519"), query,
                 stdin=password + "\n")
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.strip().splitlines()
    columns = header.split("|")
    clients = [dict(zip(columns, row.split("|"), strict=False)) for row in rows if "|" in row]
    from_apps = [c for c in clients if c.get("addr") in apps and c.get("user") == "portfolio"]
    assert from_apps, clients
    assert all(c["tls"].startswith("TLSv1.3") for c in from_apps), from_apps
