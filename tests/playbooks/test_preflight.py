"""Bad input stops a run before any host changes: preflight play and role argument specs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from paas_testlib import said, vault_args

ROOT = Path(__file__).resolve().parents[2]


def playbook(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="false", NO_COLOR="1")
    return subprocess.run(["ansible-playbook", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.mark.parametrize("inventory", ["production", "staging"])
def test_unfilled_inventory_stops_site_before_any_host(inventory):
    result = playbook("-i", f"inventories/{inventory}", "playbooks/site.yml")
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "is not filled in yet" in out
    # Exactly what to fill in, by name:
    assert "vault_admin_password_hashes is missing on:" in out
    assert "ansible_host is still a placeholder" in out
    assert "private_ip is still a placeholder" in out
    assert "common_admin_users is still a placeholder" in out or "common_admin_users is missing" in out
    assert "hardening_firewall_ssh_sources is still a placeholder" in out
    # No play after the preflight started, no host was contacted.
    assert "PLAY [Infrastructure" not in out
    recap = result.stdout.split("PLAY RECAP", 1)[1]
    assert [line.split()[0] for line in recap.strip().splitlines() if " : ok=" in line] == ["localhost"]


def test_every_inventory_has_the_same_function_groups():
    def groups(inventory: str) -> set[str]:
        listed = subprocess.run(["ansible-inventory", "-i", f"inventories/{inventory}",
                                 *vault_args(f"inventories/{inventory}"), "--list"], cwd=ROOT,
                                capture_output=True, text=True, timeout=60, check=True).stdout
        return {g for g in json.loads(listed) if g not in ("_meta", "all", "ungrouped")}

    expected = {"lb", "app", "web", "job", "db_primary", "db_replica", "pgbouncer", "redis", "monitoring", "backup"}
    # Options an inventory may add: Redis high availability, its own S3 endpoint for the off-site backups.
    optional = {"redis_sentinel", "object_storage"}
    for inventory in ("production", "staging", "sandbox"):
        found = groups(inventory)
        assert expected <= found, (inventory, expected - found)
        assert found - expected <= optional, (inventory, found - expected - optional)


@dataclass
class Probe:
    """The outcome of one case: whether the role's checks passed, and what they said."""

    passed: bool
    said: str


def probe_alone(role: str, variables: dict) -> Probe:
    """One case in its own ansible-playbook run of tests/playbooks/role-argspec-probe.yml."""
    result = playbook("-i", "localhost,", "tests/playbooks/role-argspec-probe.yml", "--check", "--tags", "probe",
                      "-e", json.dumps({"probe_role": role, **variables}))
    return Probe(result.returncode == 0, result.stdout + result.stderr)


def case_key(role: str, variables: dict) -> str:
    return json.dumps([role, variables], sort_keys=True)


def strings(value) -> list[str]:
    """Every string inside a task result (messages, argument errors), for searching."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return []


# Roles with run_once tasks in their checks: one play per case, so that a case's result is its own.
RUN_ONCE_ROLES = {"internal_ca"}


def probe_batch(cases: list[tuple[str, dict]], workdir: Path) -> dict[str, Probe]:
    """Every case in one ansible-playbook run, each case on a host of its own (caseN, local
    connection, the case's variables as host variables), the cases of one role in one play (a role
    with run_once checks gets a play per case), the role included in a block whose rescue keeps the
    run going after a refusal. The JSON callback gives each host's failed results. Starting Ansible
    once instead of once per case (about 1.5 s each) is what makes this file fast."""
    hosts = {f"case{n}": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                          "probe_role": role, **variables} for n, (role, variables) in enumerate(cases)}
    (workdir / "inventory.yml").write_text(json.dumps({"all": {"hosts": hosts}}))
    groups: dict[str, list[str]] = {}
    for n, (role, _) in enumerate(cases):
        groups.setdefault(f"{role}-{n}" if role in RUN_ONCE_ROLES else role, []).append(f"case{n}")
    plays = [{
        "name": f"Probe {name}",
        "hosts": ",".join(members),
        "gather_facts": False,
        "tasks": [{
            "name": "Probe the role",
            # Tags on the tasks, not the block: a block's tags reach every task the role includes.
            "block": [{"name": "Include the role under test", "tags": ["always"],
                       "ansible.builtin.include_role": {"name": "{{ probe_role }}",
                                                        "apply": {"tags": ["probe-never-matches"]}}}],
            "rescue": [{"name": "Refused", "tags": ["always"], "ansible.builtin.meta": "noop"}],
        }],
    } for name, members in groups.items()]
    (workdir / "probes.yml").write_text(json.dumps(plays))
    # The plain strategy: the checks run on the controller, and Mitogen would start an interpreter for
    # each local host (36 s instead of 17 for this file's 93 cases).
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="false", NO_COLOR="1", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
               ANSIBLE_ROLES_PATH=str(ROOT / "roles"), ANSIBLE_STRATEGY="linear")
    result = subprocess.run(["ansible-playbook", "-i", str(workdir / "inventory.yml"), str(workdir / "probes.yml"),
                             "--check", "--tags", "probe"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(result.stdout)
    failed: dict[str, list[dict]] = {}
    for play in report["plays"]:
        for task in play["tasks"]:
            for host, res in task["hosts"].items():
                if res.get("failed"):
                    failed.setdefault(host, []).append(res)
    return {case_key(role, variables): Probe(f"case{n}" not in failed,
                                             "\n".join(s for res in failed.get(f"case{n}", []) for s in strings(res)))
            for n, (role, variables) in enumerate(cases)}


@pytest.fixture(scope="module")
def probes(tmp_path_factory) -> dict[str, Probe]:
    return probe_batch(PROBE_CASES, tmp_path_factory.mktemp("probes"))


def probe(probes: dict[str, Probe], role: str, **variables) -> Probe:
    """A case's outcome from the batch run, or from a run of its own when the case is not in PROBE_CASES."""
    return probes.get(case_key(role, variables)) or probe_alone(role, variables)


def on(base: dict, cases: list[tuple[dict, str]]) -> list[tuple[dict, str]]:
    """Refused cases as the role sees them: each case's changes applied to the role's valid input."""
    return [(base | variables, named) for variables, named in cases]


def assert_refused(probes: dict[str, Probe], role: str, variables: dict, named: str) -> None:
    """The role's argument specs or preflight stop the run, with a message containing `named`."""
    result = probe(probes, role, **variables)
    assert not result.passed
    assert named in result.said, result.said


COMMON_OK = {"common_admin_users": [{"name": "alice", "ssh_keys": ["ssh-ed25519 AAAA alice"]}]}


def test_valid_input_passes_the_common_role_checks(probes):
    result = probe(probes, "common", **COMMON_OK)
    assert result.passed, result.said


COMMON_REFUSED = [
    ({"common_chrony_local_stratum": "not-a-number"}, "common_chrony_local_stratum"),
    ({"common_admin_users": [{"name": "bob"}]}, "ssh_keys"),
    ({"common_packages": "curl"} | {"common_admin_users": "alice"}, "common_admin_users"),
    ({"common_admin_users": [{"name": "bob", "ssh_keys": ["k"]}], "common_admin_users_removed": ["bob"]},
     "common_admin_users_removed"),
    ({"common_admin_sudo_nopasswd": False,
      "common_admin_users": [{"name": "bob", "ssh_keys": ["k"]}]}, "password_hash"),
    ({"common_chrony_local_stratum": 16}, "common_chrony_local_stratum"),
    ({"common_timezone": "Mars/Olympus Mons"}, "common_timezone"),
]


@pytest.mark.parametrize(("variables", "named"), COMMON_REFUSED)
def test_bad_input_to_common_is_refused_naming_the_variable(probes, variables, named):
    assert_refused(probes, "common", variables, named)


# The probe runs on this machine as root: key-only SSH would need root's authorized_keys here,
# so the hardening cases allow passwords unless the lockout check itself is under test.
HARDENING_OK = {"hardening_ssh_password_authentication": True,
                "hardening_firewall_ssh_sources": ["10.0.0.0/8"],
                "hardening_firewall_rules": [{"name": "web", "ports": [80, 443], "sources": ["any"]}]}


def test_valid_input_passes_the_hardening_role_checks(probes):
    result = probe(probes, "hardening", **HARDENING_OK)
    assert result.passed, result.said


HARDENING_REFUSED = on(HARDENING_OK, [
    ({"hardening_firewall_ssh_sources": ["10.0.0.0/33"]}, "hardening_firewall_ssh_sources"),
    ({"hardening_firewall_rules": [{"name": "x", "ports": [70000], "sources": ["any"]}]}, "invalid ports [70000]"),
    ({"hardening_firewall_rules": [{"name": "x", "ports": [80], "sources": ["10.0.0.300"]}]}, "10.0.0.300"),
    ({"hardening_firewall_rules": [{"name": "x", "ports": [80], "sources": ["any"], "proto": "icmp"}]}, "proto"),
    ({"hardening_ssh_permit_root_login": "yes"}, "hardening_ssh_permit_root_login"),
    ({"hardening_firewall_ssh_sources": ["10.0.0.0/8", "0.0.0.0/0"]}, "contains 0.0.0.0/0: SSH open to the"),
    ({"hardening_firewall_ssh_sources": ["::/0"]}, "contains ::/0: SSH open to the"),
    ({"hardening_updates_reboot_time": "25:00"}, "hardening_updates_reboot_time"),
    ({"hardening_updates_needrestart_mode": "i"}, "hardening_updates_needrestart_mode"),
    ({"hardening_syslog_elasticsearch_enabled": True, "hardening_syslog_elasticsearch_servers": ["https://es1:9200"]},
     "hardening_syslog_elasticsearch_enabled needs hardening_syslog_server_enabled"),
])


@pytest.mark.parametrize(("variables", "named"), HARDENING_REFUSED)
def test_bad_input_to_hardening_is_refused_naming_the_variable(probes, variables, named):
    assert_refused(probes, "hardening", variables, named)


POSTGRESQL_OK = {
    "postgresql_users": [{"name": "app", "password": "x"}],
    "postgresql_databases": [{"name": "app_production", "owner": "app"}],
    "postgresql_hba_entries": [{"database": "app_production", "user": "app", "address": "10.0.0.12"}],
    "internal_ca_passphrase": "a-test-passphrase-for-the-ca",
}


def test_valid_input_passes_the_postgresql_role_checks(probes):
    result = probe(probes, "postgresql", **POSTGRESQL_OK)
    assert result.passed, result.said


POSTGRESQL_REFUSED = on(POSTGRESQL_OK, [
    ({"postgresql_databases": [{"name": "app_production", "owner": "nobody"}]}, "owner not in postgresql_users"),
    ({"postgresql_hba_entries": [{"database": "all", "user": "app", "address": "10.0.0.0/33"}]},
     "postgresql_hba_entries: invalid address"),
    ({"postgresql_hba_entries": [{"database": "all", "user": "app", "address": "10.0.0.9", "method": "md5"}]},
     "method"),
    ({"postgresql_hba_entries": [{"database": "all", "user": "app", "address": "10.0.0.9", "method": "trust"}]},
     "method"),
    ({"postgresql_settings": {"shared_buffers": "2 gigabytes"}}, "postgresql_settings: memory value"),
    ({"postgresql_settings": {"max_connections": 50}, "postgresql_pooled_connections": 60},
     "postgresql_pooled_connections (60) exceeds"),
    ({"postgresql_tuning_profile": "desktop"}, "postgresql_tuning_profile"),
    ({"postgresql_replication_role": "replica", "postgresql_primary_host": "10.0.0.1",
      "postgresql_replication_password": "x", "postgresql_ssl_enabled": False}, "it needs postgresql_ssl_enabled"),
])


@pytest.mark.parametrize(("variables", "named"), POSTGRESQL_REFUSED)
def test_bad_input_to_postgresql_is_refused_naming_the_variable(probes, variables, named):
    assert_refused(probes, "postgresql", variables, named)


SHORT_PASSPHRASES = ["", "fifteen-chars.."]
LONG_ENOUGH_PASSPHRASE = "sixteen-chars..!"  # noqa: S105 (a test value)


@pytest.mark.parametrize("passphrase", SHORT_PASSPHRASES)
def test_a_short_internal_ca_passphrase_is_refused(probes, passphrase):
    assert_refused(probes, "internal_ca", {"internal_ca_passphrase": passphrase}, "needs at least 16 characters")


def test_a_long_enough_internal_ca_passphrase_passes(probes):
    result = probe(probes, "internal_ca", internal_ca_passphrase=LONG_ENOUGH_PASSPHRASE)
    assert result.passed, result.said


PGBOUNCER_REFUSED = [
    ({"pgbouncer_databases": [{"name": "app"}]}, "pgbouncer_users is empty"),
    ({"pgbouncer_reserve_pool_size": 30}, "pgbouncer_reserve_pool_size is larger"),
    ({"pgbouncer_pool_mode": "sometimes"}, "pgbouncer_pool_mode"),
    ({"pgbouncer_admin_users": [{"name": "admin"}]}, "password"),
]


@pytest.mark.parametrize(("variables", "named"), PGBOUNCER_REFUSED)
def test_bad_input_to_pgbouncer_is_refused_naming_the_variable(probes, variables, named):
    assert_refused(probes, "pgbouncer", variables, named)


REDIS_OK = {"redis_app_password": "x", "redis_admin_password": "y", "redis_memory_mb": 2048}
REDIS_CACHE = {"name": "cache", "kind": "cache", "port": 6379, "maxmemory_policy": "allkeys-lfu"}
REDIS_QUEUE = {"name": "queue", "kind": "queue", "port": 6380, "maxmemory_policy": "noeviction", "appendonly": True}


def test_valid_input_passes_the_redis_role_checks(probes):
    result = probe(probes, "redis", **REDIS_OK)
    assert result.passed, result.said


REDIS_REFUSED = on(REDIS_OK, [
    ({"redis_admin_password": ""}, "redis_admin_password is empty"),
    ({"redis_instances": [REDIS_CACHE, {**REDIS_QUEUE, "maxmemory_policy": "allkeys-lru"}]},
     "redis_instances[queue].maxmemory_policy is allkeys-lru"),
    ({"redis_instances": [{**REDIS_CACHE, "appendonly": True}, REDIS_QUEUE]},
     "redis_instances[cache] is a cache that both evicts"),
    ({"redis_instances": [REDIS_CACHE, {**REDIS_QUEUE, "port": 6379}]}, "share port 6379"),
    ({"redis_instances": [{**REDIS_CACHE, "maxmemory_mb": 4096}, REDIS_QUEUE]}, "maxmemory totals"),
    ({"redis_instances": [{**REDIS_CACHE, "maxmemory_policy": "lru"}]}, "maxmemory_policy"),
    ({"redis_instances": [{**REDIS_QUEUE, "appendfsync": "sometimes"}]}, "appendfsync"),
    ({"redis_replication_enabled": True}, "redis_replication_password is empty"),
    ({"redis_sentinels": ["10.0.0.1"], "redis_replication_enabled": True, "redis_replication_password": "r"},
     "redis_sentinel_password and redis_sentinel_auth_password must be set"),
    ({"redis_sentinels": ["10.0.0.1"], "redis_sentinel_password": "s", "redis_sentinel_auth_password": "a"},
     "Sentinel needs replicas"),
    ({"redis_replication_enabled": True, "redis_replication_password": "r",
      "redis_instances": [{**REDIS_CACHE, "tls": True}]}, "which this role does not replicate"),
    ({"redis_replication_enabled": True, "redis_replication_password": "r", "redis_tls": True},
     "redis_instances: cache, queue use tls (their own tls, or redis_tls)"),
])


@pytest.mark.parametrize(("variables", "named"), REDIS_REFUSED)
def test_bad_input_to_redis_is_refused_naming_the_variable(probes, variables, named):
    assert_refused(probes, "redis", variables, named)


SENTINEL_OK = {"redis_sentinel_password": "s", "redis_sentinel_auth_password": "a",
               "redis_sentinel_masters": [{"name": "paas-queue", "host": "10.0.0.15", "port": 6380}],
               "redis_sentinel_peers": ["10.0.0.11", "10.0.0.12"]}


def test_valid_input_passes_the_redis_sentinel_role_checks(probes):
    result = probe(probes, "redis_sentinel", **SENTINEL_OK)
    assert result.passed, result.said


REDIS_SENTINEL_REFUSED = on(SENTINEL_OK, [
    ({"redis_sentinel_password": ""}, "redis_sentinel_password is empty"),
    ({"redis_sentinel_masters": []}, "redis_sentinel_masters is empty"),
    ({"redis_sentinel_peers": ["10.0.0.11"]}, "a failover needs at least 3"),
    ({"redis_sentinel_quorum": 4}, "redis_sentinel_quorum (4) must be between 1 and the number of Sentinels (3)"),
    ({"redis_sentinel_failover_timeout_ms": 1000}, "redis_sentinel_failover_timeout_ms must be larger"),
    ({"redis_sentinel_masters": [{"name": "paas-queue", "host": "10.0.0.15"}]}, "port"),
])


@pytest.mark.parametrize(("variables", "named"), REDIS_SENTINEL_REFUSED)
def test_bad_input_to_redis_sentinel_is_refused_naming_the_variable(probes, variables, named):
    assert_refused(probes, "redis_sentinel", variables, named)


NGINX_OK = {"nginx_sites": [{"name": "portfolio", "server_names": ["paas.example.org"]}],
            "nginx_upstream_servers": ["10.0.0.11:80", "10.0.0.12:80"]}


def test_valid_input_passes_the_nginx_role_checks(probes):
    result = probe(probes, "nginx", **NGINX_OK)
    assert result.passed, result.said


NGINX_REFUSED = on(NGINX_OK, [
    ({"nginx_hsts_include_subdomains": False}, "nginx_hsts_preload needs nginx_hsts_include_subdomains"),
    ({"nginx_hsts_max_age": 86400}, "nginx_hsts_max_age (86400) is under one year"),
    ({"nginx_sites": [{"name": "portfolio", "server_names": []}]}, "nginx_sites[portfolio].server_names is empty"),
    ({"nginx_upstream_servers": []}, "nginx_upstream_servers is empty"),
    ({"nginx_csp": "default-src 'self'; script-source 'self'"}, "unknown CSP directive 'script-source'"),
    ({"nginx_rate_limit": "20 per second"}, "nginx_rate_limit is '20 per second'"),
    ({"nginx_real_ip_from": ["173.245.48.0/33"]}, "nginx_real_ip_from: not a network"),
    ({"nginx_tls_dhe": "sometimes"}, "nginx_tls_dhe"),
])


@pytest.mark.parametrize(("variables", "named"), NGINX_REFUSED)
def test_bad_input_to_nginx_is_refused_naming_the_variable(probes, variables, named):
    assert_refused(probes, "nginx", variables, named)


CERTBOT_OK = {"certbot_email": "ops@example.org",
              "certbot_certificates": [{"name": "portfolio", "domains": ["paas.example.org"]}]}


def test_valid_input_passes_the_certbot_role_checks(probes):
    result = probe(probes, "certbot", **CERTBOT_OK)
    assert result.passed, result.said


CERTBOT_REFUSED = on(CERTBOT_OK, [
    ({"certbot_email": ""}, "certbot_email is empty"),
    ({"certbot_certificates": [{"name": "tenants", "domains": ["*.example.org"]}]},
     "the wildcard *.example.org needs challenge: dns"),
    ({"certbot_certificates": [{"name": "tenants", "domains": ["*.example.org"], "challenge": "dns"}]},
     "certbot_rfc2136_server, certbot_rfc2136_key_name and certbot_rfc2136_key_secret are needed"),
    ({"certbot_certificates": [{"name": "tenants", "domains": ["*.example.org"], "challenge": "dns"}],
      "certbot_dns_provider": "cloudflare"}, "certbot_cloudflare_api_token is empty"),
    ({"certbot_dns_provider": "route53"}, "certbot_dns_provider"),
])


@pytest.mark.parametrize(("variables", "named"), CERTBOT_REFUSED)
def test_bad_input_to_certbot_is_refused_naming_the_variable(probes, variables, named):
    assert_refused(probes, "certbot", variables, named)


KAMAL_HOST_OK = {"kamal_host_deploy_authorized_keys": ["ssh-ed25519 AAAA ci@example.org"], "private_ip": "10.0.0.11"}


def test_valid_input_passes_the_kamal_host_role_checks(probes):
    result = probe(probes, "kamal_host", **KAMAL_HOST_OK)
    assert result.passed, result.said


KAMAL_HOST_REFUSED = on(KAMAL_HOST_OK, [
    ({"kamal_host_deploy_authorized_keys": []}, "kamal_host_deploy_authorized_keys is empty"),
    ({"kamal_host_deploy_user": "root"}, "kamal_host_deploy_user must not be root"),
    ({"private_ip": "172.30.1.5"}, "the host address 172.30.1.5 lies in kamal_host_docker_address_pools"),
    ({"kamal_host_docker_address_pools": [{"base": "172.300.0.0/16", "size": 24}]},
     "kamal_host_docker_address_pools: not networks: 172.300.0.0/16"),
    ({"kamal_host_docker_address_pools": [{"base": "172.30.0.0/16"}]}, "size"),
    ({"kamal_host_docker_source": "snap"}, "kamal_host_docker_source"),
    ({"kamal_host_docker_bridge_ip": "docker0"}, "kamal_host_docker_bridge_ip is not an address/prefix"),
])


@pytest.mark.parametrize(("variables", "named"), KAMAL_HOST_REFUSED)
def test_bad_input_to_kamal_host_is_refused_naming_the_variable(probes, variables, named):
    assert_refused(probes, "kamal_host", variables, named)


def test_a_vault_file_in_plain_text_stops_site_before_any_host(tmp_path):
    inventory = tmp_path / "production"
    subprocess.run(["cp", "-r", str(ROOT / "inventories" / "production"), str(inventory)], check=True)
    vault = inventory / "group_vars" / "all" / "vault.yml"
    vault.write_text((inventory / "group_vars" / "all" / "vault.yml.example").read_text())
    result = playbook("-i", str(inventory), "playbooks/site.yml")
    out = said(result)
    assert result.returncode != 0
    assert f"Not encrypted: {vault}." in out
    assert "PLAY [Infrastructure" not in out


def test_a_vault_encrypted_with_the_sandboxs_public_password_stops_site_before_any_host(tmp_path):
    inventory = tmp_path / "production"
    subprocess.run(["cp", "-r", str(ROOT / "inventories" / "production"), str(inventory)], check=True)
    vault = inventory / "group_vars" / "all" / "vault.yml"
    vault.write_text((inventory / "group_vars" / "all" / "vault.yml.example").read_text())
    # An operator who copies a sandbox command (its --vault-id) to encrypt the production vault.
    subprocess.run(["ansible-vault", "encrypt", *vault_args("inventories/sandbox"), str(vault)], cwd=ROOT, check=True,
                   capture_output=True, timeout=60)
    # ... and runs site.yml with the same identity, which opens that vault.
    result = playbook("-i", str(inventory), *vault_args("inventories/sandbox"), "playbooks/site.yml")
    out = said(result)
    assert result.returncode != 0
    assert f"Encrypted with the sandbox's public DEMO password: {vault}." in out
    assert "PLAY [Infrastructure" not in out


def test_the_sandbox_vault_is_encrypted_and_passes_that_check():
    # Only the vault check is under test: later preflight steps need the sandbox's keys (sandbox/up.yml).
    result = playbook("-i", "inventories/sandbox", *vault_args("inventories/sandbox"), "playbooks/preflight.yml")
    out = result.stdout + result.stderr
    checked = out.split("TASK [Stop while a vault file is in plain text]", 1)
    assert len(checked) == 2, out[-2000:]
    assert checked[1].split("TASK [", 1)[0].lstrip("* \n").startswith("ok: [localhost]"), checked[1][:2000]


PGBACKREST_REFUSED = [
    ({}, "pgbackrest_repository_host is empty"),
    ({"pgbackrest_repository_host": "localhost"}, "pgbackrest_database_hosts is empty"),
    ({"pgbackrest_repository_host": "localhost", "pgbackrest_database_hosts": ["db1"]},
     "db1 not in this play: the role sets up both sides together"),
    ({"pgbackrest_repository_host": "localhost", "pgbackrest_database_hosts": ["localhost"]},
     "is also in pgbackrest_database_hosts"),
    ({"pgbackrest_retention_full": 0}, "pgbackrest_retention_full must be a whole number of at least 1"),
    ({"pgbackrest_compress_type": "xz"}, "pgbackrest_compress_type"),
]


@pytest.mark.parametrize(("variables", "named"), PGBACKREST_REFUSED)
def test_bad_input_to_pgbackrest_is_refused_naming_the_variable(probes, variables, named):
    assert_refused(probes, "pgbackrest", variables, named)


MONITORING_REFUSED = [
    ("node_exporter", {"node_exporter_listen_address": "localhost"},
     "node_exporter_listen_address must be one IP address, not localhost"),
    ("postgres_exporter", {"postgres_exporter_listen_address": "10.0.0.1/32"},
     "postgres_exporter_listen_address must be one IP address, not 10.0.0.1/32"),
    ("postgres_exporter", {"postgres_exporter_socket_dir": "run/postgresql"}, "must be an absolute path"),
    ("node_exporter", {"node_exporter_collectors_disabled": ["systemd"]}, "both name: systemd"),
    ("prometheus", {"prometheus_retention_time": "30 days"}, "prometheus_retention_time is not a duration"),
    ("prometheus", {"prometheus_retention_size": "8 gigs"}, "prometheus_retention_size is not a size"),
    ("prometheus", {"prometheus_rule_files": ["host", "nope"]}, "no such file in the role: nope"),
    ("prometheus", {"prometheus_scrape_jobs": [{"name": "node", "targets": [{"address": "10.0.0.1"}]}]},
     "needs an address (host:port) and an instance"),
    ("alertmanager", {"alertmanager_webhook_urls": ["ftp://chat.example.com/x"]}, "not http(s) URLs"),
    ("alertmanager", {"alertmanager_group_wait": "soon"}, "not durations: soon"),
    ("nginx_exporter", {"nginx_exporter_duration_buckets": [1, 0.5]},
     "nginx_exporter_duration_buckets must be positive numbers in increasing order"),
    ("nginx_exporter", {"nginx_exporter_log_port": 9113},
     "nginx_exporter_port and nginx_exporter_log_port must differ"),
    ("blackbox_exporter", {"blackbox_exporter_sites": [{"name": "Bad Name", "server_name": "x.test"}]},
     "name Bad Name must be a-z"),
    ("blackbox_exporter", {"blackbox_exporter_listen_address": "10.0.0.0/24"}, "must be one IP address"),
]


@pytest.mark.parametrize(("role", "variables", "named"), MONITORING_REFUSED)
def test_bad_input_to_the_monitoring_roles_is_refused_naming_the_variable(probes, role, variables, named):
    assert_refused(probes, role, variables, named)


MONITORING_ROLES = ["node_exporter", "prometheus", "alertmanager", "nginx_exporter", "blackbox_exporter"]


@pytest.mark.parametrize("role", MONITORING_ROLES)
def test_the_monitoring_roles_defaults_pass_their_checks(probes, role):
    result = probe(probes, role)
    assert result.passed, result.said


def test_no_vault_identity_is_loaded_for_every_inventory(tmp_path):
    # ansible.cfg names no identity: encrypting a production vault without naming one must not
    # quietly use the sandbox's public password (it asks, and with no terminal it fails).
    vault = tmp_path / "vault.yml"
    vault.write_text("vault_example: value\n")
    result = subprocess.run(["ansible-vault", "encrypt", str(vault)], cwd=ROOT, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=60, check=False)
    assert result.returncode != 0, result.stdout
    assert vault.read_text() == "vault_example: value\n"
    listed = subprocess.run(["ansible-config", "dump", "--only-changed"], cwd=ROOT, capture_output=True, text=True,
                            timeout=60, check=True).stdout
    assert "VAULT_IDENTITY_LIST" not in listed


# Every case of the role probes above, run together by the `probes` fixture. A case missing here
# still runs, in an ansible-playbook of its own.
REFUSED = [("common", COMMON_REFUSED), ("hardening", HARDENING_REFUSED), ("postgresql", POSTGRESQL_REFUSED),
           ("pgbouncer", PGBOUNCER_REFUSED), ("redis", REDIS_REFUSED), ("redis_sentinel", REDIS_SENTINEL_REFUSED),
           ("nginx", NGINX_REFUSED), ("certbot", CERTBOT_REFUSED), ("kamal_host", KAMAL_HOST_REFUSED),
           ("pgbackrest", PGBACKREST_REFUSED)]
PROBE_CASES = [
    ("common", COMMON_OK), ("hardening", HARDENING_OK), ("postgresql", POSTGRESQL_OK), ("redis", REDIS_OK),
    ("redis_sentinel", SENTINEL_OK), ("nginx", NGINX_OK), ("certbot", CERTBOT_OK), ("kamal_host", KAMAL_HOST_OK),
    ("internal_ca", {"internal_ca_passphrase": LONG_ENOUGH_PASSPHRASE}),
    *[("internal_ca", {"internal_ca_passphrase": short}) for short in SHORT_PASSPHRASES],
    *[(role, {}) for role in MONITORING_ROLES],
    *[(role, variables) for role, variables, _ in MONITORING_REFUSED],
    *[(role, variables) for role, cases in REFUSED for variables, _ in cases],
]
