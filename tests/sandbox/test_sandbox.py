"""The converged sandbox behaves like the production topology, seen over SSH as an operator sees it.

Runs after `make sandbox` (scripts/test-all.py's sandbox suite does both).
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import subprocess
import uuid
from pathlib import Path

import pytest
from paas_testlib import (
    inventory_vault,
    prometheus_query,
    promql_metric_names,
    psql_command,
    python_command,
    received_logs_command,
    run_playbook,
    said,
    site_request,
    site_tls,
    ssh,
    tcp_probe_command,
    vault_args,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]
KEYS = ROOT / ".sandbox"


def _inventory() -> dict:
    sandbox = "inventories/sandbox"
    out = subprocess.run(["ansible-inventory", "-i", sandbox, *vault_args(sandbox), "--list"],
                         cwd=ROOT, check=True, capture_output=True, text=True, timeout=60).stdout
    return json.loads(out)


INVENTORY = _inventory()
HOSTVARS = INVENTORY["_meta"]["hostvars"]
HOSTS = sorted(HOSTVARS)
DOMAIN = "sandbox.internal"


def group(name: str) -> list[str]:
    return sorted(INVENTORY.get(name, {}).get("hosts", []))


def run_as(host: str, user: str, key: str, command: str, stdin: str | None = None):
    return ssh(HOSTVARS[host]["ansible_host"], user, str(KEYS / key), command, stdin=stdin)


def test_the_sandbox_has_the_eight_production_hosts():
    assert len(HOSTS) == 8
    assert len(group("web")) == 2


@pytest.mark.parametrize("host", HOSTS)
def test_ansible_reaches_each_host_over_ssh_and_becomes_root(host):
    result = run_as(host, "debian", "ansible_ed25519", "sudo -n id -u && hostname")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", host]


@pytest.mark.parametrize("host", HOSTS)
def test_admin_logs_in_with_key_and_sudo_asks_for_the_vault_password(host):
    no_password = run_as(host, "opsadmin", "admin_ed25519", "sudo -n true")
    assert no_password.returncode != 0
    assert "password is required" in no_password.stderr
    with_password = run_as(host, "opsadmin", "admin_ed25519", "echo sandbox-demo | sudo -S -p '' id -u")
    assert with_password.returncode == 0, with_password.stderr
    assert with_password.stdout.strip() == "0"


def test_a_wrong_sudo_password_is_refused():
    host = HOSTS[0]
    result = run_as(host, "opsadmin", "admin_ed25519", "echo wrong | sudo -S -p '' id -u")
    assert result.returncode != 0


@pytest.mark.parametrize("host", group("web"))
def test_app_hosts_resolve_the_data_tier_by_internal_name(host):
    for peer in group("db_primary") + group("redis"):
        result = run_as(host, "debian", "ansible_ed25519", f"getent hosts {peer}.{DOMAIN}")
        assert result.returncode == 0, result.stderr
        assert result.stdout.split()[0] == HOSTVARS[peer]["private_ip"]


@pytest.mark.parametrize("host", [h for h in HOSTS if h not in group("monitoring")])
def test_hosts_take_time_from_the_monitoring_host(host):
    source = HOSTVARS[group("monitoring")[0]]["private_ip"]

    def selected():
        out = run_as(host, "debian", "ansible_ed25519", "chronyc -n sources").stdout
        return any(line.startswith("^*") and source in line for line in out.splitlines())

    assert wait_for(selected, timeout=60, interval=3), run_as(host, "debian", "ansible_ed25519",
                                                               "chronyc -n sources").stdout


@pytest.mark.parametrize("host", [h for h in HOSTS if h not in group("monitoring")])
def test_every_host_forwards_its_logs_to_the_monitoring_host(host):
    loghost = group("monitoring")[0]
    marker = f"paas-sandbox-log-{host}-{uuid.uuid4().hex}"
    assert run_as(host, "debian", "ansible_ed25519", f"logger -t paas-sandbox-test {marker}").returncode == 0

    def received() -> list[str]:
        found = run_as(loghost, "debian", "ansible_ed25519",
                       "sudo -n " + received_logs_command("paas-sandbox-test", marker))
        return found.stdout.split()

    assert wait_for(received, timeout=60, interval=3)
    # /var/log/remote/<host>/<program>.log, named from the sending address.
    (path,) = received()
    assert path.split("/")[-2].split(".")[0] == host, path


def probe(source: str, target: str, port: int) -> str:
    out = run_as(source, "debian", "ansible_ed25519", tcp_probe_command(HOSTVARS[target]["private_ip"], port))
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.parametrize(
    ("source", "target", "port", "expected"),
    [
        # pgbouncer and PostgreSQL on the primary: app hosts reach pgbouncer, backup reaches PostgreSQL.
        ("app1", "db1", 6432, "open"),
        ("lb1", "db1", 6432, "timeout"),
        ("backup1", "db1", 5432, "open"),
        ("app1", "db1", 5432, "timeout"),
        ("app2", "redis1", 6379, "open"),
        ("app1", "redis1", 6380, "open"),
        ("db2", "redis1", 6379, "timeout"),
        # kamal-proxy (published by Docker) answers the load balancer, and nobody else.
        ("lb1", "app1", 80, "open"),
        ("db1", "app1", 80, "timeout"),
        ("lb1", "app2", 443, "timeout"),
        # The node exporter answers the monitoring host only; so does the Redis exporter.
        ("mon1", "db2", 9100, "open"),
        ("mon1", "redis1", 9121, "open"),
        ("mon1", "db1", 9127, "open"),
        ("app1", "db1", 9127, "timeout"),
        ("app1", "redis1", 9121, "timeout"),
        ("app1", "db2", 9100, "timeout"),
        # So does the PostgreSQL exporter on each database host.
        ("mon1", "db1", 9187, "open"),
        ("app1", "db2", 9187, "timeout"),
        # The central log host takes syslog from the inventory's hosts.
        ("db1", "mon1", 514, "open"),
        # The off-site backups' S3 API answers the database, backup and app hosts; its gRPC port nobody.
        ("db2", "backup1", 8333, "open"),
        ("app2", "backup1", 8333, "open"),
        ("lb1", "backup1", 8333, "timeout"),
        ("db1", "backup1", 18333, "timeout"),
        # restic's SFTP logins: the app hosts reach the backup host's SSH (in the sandbox every
        # host may, as the controller's subnet is the SSH source).
        ("app1", "backup1", 22, "open"),
    ],
)
def test_tier_firewall_allows_only_the_inventory_groups(source, target, port, expected):
    assert probe(source, target, port) == expected


def test_prometheus_on_the_monitoring_host_scrapes_every_host_by_name_over_tls():
    # Prometheus listens on mon1's loopback: ask it there, as an operator's SSH tunnel would.
    script = ("import json, urllib.request; targets = json.load(urllib.request.urlopen("
              "'http://127.0.0.1:9090/api/v1/targets', timeout=5))['data']['activeTargets']; "
              "print(json.dumps({t['labels']['job'] + ' ' + t['labels']['instance']: "
              "[t['health'], t['scrapeUrl'].split(':')[0]] for t in targets "
              "if t['labels']['job'] in ('node', 'postgres', 'pgbouncer', 'redis', 'nginx', 'nginx_log')}))")

    def health() -> dict:
        out = run_as(group("monitoring")[0], "debian", "ansible_ed25519", python_command(script))
        return json.loads(out.stdout) if out.returncode == 0 else {"error": out.stderr}

    # up over https: Prometheus verified each exporter's certificate against the internal CA.
    wanted = {f"node {host}": ["up", "https"] for host in HOSTS}
    wanted |= {f"postgres {host}": ["up", "https"] for host in group("db_primary") + group("db_replica")}
    wanted |= {f"pgbouncer {host}": ["up", "https"] for host in group("pgbouncer")}
    wanted |= {f"redis {host}": ["up", "https"] for host in group("redis")}     # one per instance, all alike
    wanted |= {f"{job} {host}": ["up", "https"] for job in ("nginx", "nginx_log") for host in group("lb")}
    assert wait_for(lambda: health() == wanted, timeout=60, interval=5), health()


def test_a_node_exporter_serves_tls_only_with_a_certificate_of_the_internal_ca():
    # From the monitoring host, as Prometheus: the system's trust store holds the internal CA.
    target = HOSTVARS["db2"]["private_ip"]
    script = ("import ssl, sys, urllib.request\n"
              "def fetch(url, **kw):\n"
              "    try:\n"
              "        return urllib.request.urlopen(url, timeout=5, **kw).read().decode()\n"
              "    except Exception as exc:\n"
              "        return 'refused: ' + type(exc).__name__\n"
              f"print(sum(line.startswith('node_load1 ') for line in fetch('https://{target}:9100/metrics')"
              ".splitlines()))\n"
              f"print(fetch('http://{target}:9100/metrics')[:40].replace(chr(10), ' '))\n"
              f"print(fetch('https://{target}:9100/metrics', context=ssl.create_default_context("
              "cafile='/etc/ssl/certs/ISRG_Root_X1.pem')))")
    out = run_as(group("monitoring")[0], "debian", "ansible_ed25519", python_command(script))
    verified, plain, other_ca = out.stdout.splitlines()[:3]
    assert verified == "1", out.stdout + out.stderr      # one node_load1 sample, read over verified TLS
    assert "node_load1" not in plain, plain          # no metrics over plain HTTP
    assert other_ca.startswith("refused: "), other_ca  # a client trusting another CA refuses the certificate


def prometheus_values(query: str, *labels: str) -> dict:
    """Prometheus's answer to an instant query (paas_testlib.prometheus_query): each series' values of
    labels (joined with /) -> its value; {"error": ...} when it could not ask, for a wait to retry."""
    monitoring = HOSTVARS[group("monitoring")[0]]["ansible_host"]
    try:
        series = prometheus_query(monitoring, str(KEYS / "ansible_ed25519"), query)
    except AssertionError as exc:
        return {"error": str(exc)}
    return {"/".join(r["metric"][k] for k in labels): r["value"][1] for r in series}


def test_prometheus_sees_each_database_server_through_its_exporter():
    # pg_up: the exporter on the host reached its server (an exporter alone would be `up`).
    expected = dict.fromkeys(group("db_primary") + group("db_replica"), "1")
    assert wait_for(lambda: prometheus_values("pg_up", "instance") == expected, timeout=90, interval=5), \
        prometheus_values("pg_up", "instance")


def test_prometheus_sees_pgbouncer_through_its_exporter():
    expected = dict.fromkeys(group("pgbouncer"), "1")
    assert wait_for(lambda: prometheus_values("pgbouncer_up", "instance") == expected, timeout=90, interval=5), \
        prometheus_values("pgbouncer_up", "instance")


def test_prometheus_sees_each_redis_instance_through_the_exporter():
    # redis_up per instance: the exporter on redis1 read it over TLS as the monitoring user.
    expected = {f"{host}/{name}": "1" for host in group("redis") for name in ("cache", "queue")}
    assert wait_for(lambda: prometheus_values("redis_up", "instance", "redis_instance") == expected,
                    timeout=90, interval=5), prometheus_values("redis_up", "instance", "redis_instance")


def test_prometheus_reads_each_load_balancers_counters_and_access_log():
    for _ in range(3):
        assert lb_request(443, "/up")[0] == 200
    expected = dict.fromkeys(group("lb"), "1")
    assert wait_for(lambda: prometheus_values("nginx_up", "instance") == expected, timeout=90, interval=5), \
        prometheus_values("nginx_up", "instance")
    # The access log's requests, counted by mtail: the /up answers above among them.
    assert wait_for(lambda: all(float(v) >= 3 for v in prometheus_values(
        'sum by (instance) (nginx_http_requests_total{job="nginx_log", status="200"})', "instance").values())
        and set(prometheus_values('up{job="nginx_log"}', "instance")) == set(group("lb")),
        timeout=90, interval=5), prometheus_values('nginx_http_requests_total{job="nginx_log"}', "instance", "status")


def test_every_metric_the_dashboards_read_is_provided_on_the_sandbox():
    # Each raw metric a dashboard panel reads (roles/prometheus/files/dashboards; recording rules are
    # checked in the prometheus scenario) has a series in Prometheus: a typo or a metric the exporters
    # do not provide would draw an empty panel.
    wanted: dict[str, str] = {}
    for path in sorted((ROOT / "roles" / "prometheus" / "files" / "dashboards").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                wanted.update(dict.fromkeys(promql_metric_names(target["expr"]), f"{path.name}: {panel['title']}"))
    assert wanted
    query = f'count by (__name__) ({{__name__=~"{"|".join(sorted(wanted))}"}})'

    def missing() -> dict[str, str]:
        found = prometheus_values(query, "__name__")
        return {name: where for name, where in wanted.items() if name not in found}
    assert wait_for(lambda: not missing(), timeout=60, interval=10), missing()


def test_every_probe_succeeds_with_certificates_far_from_their_end():
    # The site's /up through lb1 (its internal-CA certificate verified for the site's name), and a
    # TLS handshake with each Redis instance and the S3 endpoint, by host name.
    expected = {f"{lb} portfolio" for lb in group("lb")} | {f"{host} {name}" for host in group("redis")
                                                             for name in ("cache", "queue")}
    expected |= {f"{host} s3" for host in group("object_storage")}
    assert wait_for(lambda: prometheus_values("probe_success", "probe") == dict.fromkeys(expected, "1"),
                    timeout=90, interval=5), prometheus_values("probe_success", "probe")
    days_left = prometheus_values("(probe_ssl_earliest_cert_expiry - time()) / 86400", "probe")
    assert set(days_left) == expected and all(float(days) > 14 for days in days_left.values()), days_left


@pytest.mark.parametrize("host", HOSTS[:2])
def test_root_and_passwords_are_refused_over_ssh(host):
    root = run_as(host, "root", "ansible_ed25519", "true")
    assert root.returncode == 255
    assert "Permission denied" in root.stderr
    password = subprocess.run(
        ["ssh", "-o", "BatchMode=yes", "-o", "PubkeyAuthentication=no", "-o", "StrictHostKeyChecking=no",
         "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10",
         f"opsadmin@{HOSTVARS[host]['ansible_host']}", "true"],
        capture_output=True, text=True, timeout=30, check=False)
    assert "Permission denied (publickey)" in password.stderr


def test_ssh_sources_without_the_controllers_address_are_refused_before_any_change():
    # Ansible connects from the sandbox network's gateway; the hardening preflight reads that address from the
    # SSH session (as the login user: sudo drops SSH_CONNECTION) and refuses a firewall that would shut it out.
    sources = json.dumps({"hardening_firewall_ssh_sources": ["192.0.2.0/24"]})
    refused = run_playbook("inventories/sandbox", "infrastructure.yml", "--limit", "app1", "--check",
                           "--tags", "always", "-e", sources)
    assert refused.returncode != 0
    assert "does not include 10.80.0.1, the address Ansible connects from" in said(refused), refused.stdout[-3000:]


def test_refused_ssh_logins_are_counted_per_host_from_the_central_log():
    # The refused root logins just above, as the monitoring host's auth exporter counted them
    # from each host's forwarded sshd log.
    def counted() -> dict:
        return prometheus_values('sum by (host) (ssh_failed_logins_total{job="auth"})', "host")

    assert wait_for(lambda: all(float(counted().get(host, 0)) >= 1 for host in HOSTS[:2]), timeout=90,
                    interval=5), counted()


def test_app_query_is_answered_through_pgbouncer_on_the_primary():
    password = inventory_vault("inventories/sandbox")["vault_postgresql_app_password"]
    address = HOSTVARS["db1"]["private_ip"]
    query = psql_command(address, "portfolio_sandbox", "portfolio", "SELECT current_user, current_database()")
    result = run_as("db1", "debian", "ansible_ed25519", query, stdin=password + "\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "portfolio|portfolio_sandbox"


def test_the_replica_streams_from_the_primary():
    query = "sudo -n -u postgres psql -X -A -t -c 'SELECT application_name, state FROM pg_stat_replication'"
    result = run_as("db1", "debian", "ansible_ed25519", query)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["db2|streaming"]
    standby = run_as("db2", "debian", "ansible_ed25519",
                     "sudo -n -u postgres psql -X -A -t -c 'SELECT pg_is_in_recovery()'")
    assert standby.stdout.strip() == "t"


def redis_from_app(port: int, commands: str) -> str:
    """Send inline Redis commands (read from standard input: they may hold a password) from app1
    to redis1 over the private network, over TLS verified as the app does (the internal CA, which
    app1 trusts system-wide; the certificate must name the address); the replies."""
    address = HOSTVARS["redis1"]["private_ip"]
    script = ("import socket, ssl, sys, time\n"
              f"s = socket.create_connection(({address!r}, {port}), timeout=5)\n"
              f"s = ssl.create_default_context().wrap_socket(s, server_hostname={address!r})\n"
              "s.sendall(sys.stdin.buffer.read()); time.sleep(0.5); print(s.recv(4096).decode())\n")
    encoded = base64.b64encode(script.encode()).decode()
    out = run_as("app1", "debian", "ansible_ed25519", f'python3 -c "$(echo {encoded} | base64 -d)"', stdin=commands)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize("port", [6379, 6380])
def test_redis_speaks_only_tls_to_the_app_hosts(port):
    address = HOSTVARS["redis1"]["private_ip"]
    script = ("import socket\n"
              f"s = socket.create_connection(({address!r}, {port}), timeout=5); s.sendall(b'PING\\r\\n')\n"
              "try:\n    print(repr(s.recv(100)))\n"
              "except OSError as e:\n    print(type(e).__name__)\n")
    out = run_as("app1", "debian", "ansible_ed25519", python_command(script))
    assert out.returncode == 0, out.stderr
    assert "PONG" not in out.stdout and "NOAUTH" not in out.stdout, out.stdout   # a plain Redis says -NOAUTH


@pytest.mark.parametrize("port", [6379, 6380])
def test_redis_answers_the_app_user_and_refuses_anonymous_clients(port):
    password = inventory_vault("inventories/sandbox")["vault_redis_app_password"]
    assert redis_from_app(port, "PING\r\n").startswith("-NOAUTH")
    replies = redis_from_app(port, f"AUTH app {password}\r\nPING\r\nFLUSHALL\r\n").splitlines()
    assert replies[:2] == ["+OK", "+PONG"]
    assert replies[2].startswith("-NOPERM")


SITE = HOSTVARS["lb1"]["nginx_sites"][0]["server_names"][0]
LB_ADDRESS = HOSTVARS["lb1"]["ansible_host"]


def lb_request(port: int, path: str = "/") -> tuple[int, dict]:
    """One request from the controller to lb1 for the sandbox site: HTTPS on 443 (site_request), plain
    HTTP on another port."""
    if port == 443:
        return site_request(LB_ADDRESS, SITE, path=path)[:2]
    conn = http.client.HTTPConnection(LB_ADDRESS, port, timeout=10)
    conn.request("GET", path, headers={"Host": SITE})
    response = conn.getresponse()
    return response.status, {k.lower(): v for k, v in response.getheaders()}


def served_certificate() -> dict:
    """The site's certificate as lb1 serves it, verified against the ACME server's roots."""
    with site_tls(LB_ADDRESS, SITE, timeout=10) as tls:
        return tls.getpeercert()


def test_the_site_certificate_was_issued_by_the_acme_server_through_certbot():
    cert = served_certificate()
    issuer = dict(pair[0] for pair in cert["issuer"])
    assert issuer["commonName"].startswith("Pebble Intermediate"), issuer
    assert sorted(value for kind, value in cert["subjectAltName"] if kind == "DNS") == sorted(
        HOSTVARS["lb1"]["nginx_sites"][0]["server_names"])
    lineage = run_as("lb1", "debian", "ansible_ed25519", "sudo -n certbot certificates --cert-name portfolio")
    assert lineage.returncode == 0, lineage.stderr
    assert "Certificate Name: portfolio" in lineage.stdout, lineage.stdout
    days = re.search(r"VALID: (\d+) days", lineage.stdout)
    assert days and 80 <= int(days.group(1)) <= 90, lineage.stdout   # Let's Encrypt's 90-day lifetime


def test_a_forced_renewal_is_served_after_the_deploy_hook_reloads_nginx():
    before = served_certificate()["serialNumber"]
    renew = ssh(LB_ADDRESS, "debian", str(KEYS / "ansible_ed25519"),
                "sudo -n env REQUESTS_CA_BUNDLE=/etc/ssl/sandbox-acme-api-ca.pem "
                "certbot renew --force-renewal --cert-name portfolio --no-random-sleep-on-renew", timeout=60)
    assert renew.returncode == 0, renew.stdout + renew.stderr
    assert wait_for(lambda: served_certificate()["serialNumber"] != before, timeout=30, interval=1)


def test_the_load_balancer_redirects_to_https_and_sends_hsts():
    status, headers = lb_request(80, "/portfolios")
    assert status == 301
    assert headers["location"].startswith("https://portfolio.sandbox.internal/portfolios")
    status, headers = lb_request(443)
    # No app is deployed yet (Kamal, issue 8): nginx answers for the app hosts with 502.
    assert status in (200, 502)
    assert headers["strict-transport-security"] == "max-age=63072000; includeSubDomains; preload"
    assert headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("host", group("web"))
def test_kamal_logs_in_as_the_deploy_user_and_runs_docker_but_not_sudo(host):
    # What `kamal setup` needs of an app host: key login as the deploy user, Docker without sudo.
    result = run_as(host, "deploy", "deploy_ed25519", "docker version --format '{{.Server.Version}}' && sudo -n true")
    assert result.stdout.strip().split(".")[0].isdigit(), result.stdout + result.stderr
    assert result.returncode != 0   # sudo refused
    other = group("redis")[0]
    assert run_as(other, "deploy", "deploy_ed25519", "true").returncode != 0   # no deploy user beyond the app hosts
