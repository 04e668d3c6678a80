"""Behaviour of the redis role: logins, permissions, durability of the queue, eviction of the cache."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
import yaml
from paas_testlib import changed_tasks, default_address, python_command, run_playbook, said, wait_for

testinfra_hosts = ["ansible://redis-host"]
CACHE, QUEUE, TLS = 6379, 6380, 6381
TLS_OPTIONS = "--tls --cacert /etc/redis/tls/ca.crt"
USERS = {"app": "app-test-password", "admin": "admin-test-password", "monitoring": "monitoring-test-password"}


def cli(host, port: int, command: str, user: str | None = "app", password: str | None = None):
    """redis-cli as a named user (password from REDISCLI_AUTH, never on the command line)."""
    auth = f"REDISCLI_AUTH='{password or USERS[user]}' " if user else ""
    login = f"--user {user} " if user else ""
    return host.run(f"{auth}redis-cli --no-auth-warning -p {port} {login}{command}")


def fill(host, port: int, prefix: str, count: int, size: int = 1024):
    """Write count keys of size bytes, one SET each, through redis-cli --pipe as the app user."""
    script = textwrap.dedent(f"""
        import sys
        value = "x" * {size}
        for i in range({count}):
            key = "{prefix}:%d" % i
            fields = [b"SET", key.encode(), value.encode()]
            sys.stdout.buffer.write(b"*3\\r\\n" + b"".join(b"$%d\\r\\n%s\\r\\n" % (len(f), f) for f in fields))
    """)
    return host.run(f"{python_command(script)} | REDISCLI_AUTH='{USERS['app']}' "
                    f"redis-cli --no-auth-warning -p {port} --user app --pipe")


def info(host, port: int, field: str) -> int:
    out = cli(host, port, "INFO", user="admin").stdout
    return int(next(line.split(":")[1] for line in out.splitlines() if line.startswith(f"{field}:")))


@pytest.mark.parametrize("port", [CACHE, QUEUE])
def test_a_client_without_credentials_gets_noauth(host, port):
    out = cli(host, port, "PING", user=None)
    assert "NOAUTH" in out.stdout + out.stderr


@pytest.mark.parametrize("port", [CACHE, QUEUE])
def test_a_wrong_password_is_refused(host, port):
    out = cli(host, port, "PING", password="not-the-password")
    assert "WRONGPASS" in out.stdout + out.stderr


@pytest.mark.parametrize("command", ["FLUSHALL", "CONFIG GET maxmemory", "KEYS '*'", "SAVE", "ACL LIST"])
def test_the_app_user_cannot_run_dangerous_or_admin_commands(host, command):
    assert cli(host, CACHE, "SET allowed yes").stdout.strip() == "OK"
    out = cli(host, CACHE, command)
    assert "NOPERM" in out.stdout + out.stderr, out.stdout
    assert cli(host, CACHE, "GET allowed").stdout.strip() == "yes"   # nothing was flushed


def test_the_admin_can_administer_and_the_monitoring_user_only_reads(host):
    assert "maxmemory" in cli(host, CACHE, "CONFIG GET maxmemory", user="admin").stdout
    assert "redis_version" in cli(host, CACHE, "INFO server", user="monitoring").stdout
    refused = cli(host, CACHE, "SET x y", user="monitoring")
    assert "NOPERM" in refused.stdout + refused.stderr


def test_acl_file_holds_hashes_not_passwords(host):
    acl = host.file("/etc/redis/users-cache.acl")
    assert acl.user == "redis" and acl.mode == 0o600
    assert "app-test-password" not in acl.content_string
    assert "user default off" in acl.content_string


def test_instances_listen_only_on_their_addresses(host):
    listening = host.run("ss -Htln").stdout
    for port in (CACHE, QUEUE):
        sockets = [line.split()[3] for line in listening.splitlines() if line.split()[3].endswith(f":{port}")]
        wildcard = ("0.0.0.0", "*", "[::]")  # noqa: S104 - what must not appear
        assert sockets and all(not s.startswith(wildcard) for s in sockets), sockets


def test_the_queue_keeps_its_jobs_across_a_restart(host):
    assert cli(host, QUEUE, "LPUSH jobs job-1 job-2").rc == 0
    host.run("systemctl restart redis-server@queue")
    assert wait_for(lambda: cli(host, QUEUE, "PING").stdout.strip() == "PONG", 30)
    assert cli(host, QUEUE, "LRANGE jobs 0 -1").stdout.split() == ["job-2", "job-1"]
    assert cli(host, QUEUE, "CONFIG GET appendonly", user="admin").stdout.split()[-1] == "yes"


def test_the_cache_evicts_under_maxmemory(host):
    fill(host, CACHE, "page", 40_000)   # about 40 MB into a 16 MB cache
    assert info(host, CACHE, "evicted_keys") > 0
    assert info(host, CACHE, "used_memory") <= 16 * 1024 * 1024 * 1.05
    assert cli(host, CACHE, "DBSIZE").stdout.strip() != "40000"


def test_the_queue_refuses_writes_when_full_instead_of_dropping_jobs(host):
    out = fill(host, QUEUE, "job", 40_000)
    assert "OOM command not allowed" in out.stdout + out.stderr
    assert info(host, QUEUE, "evicted_keys") == 0
    assert cli(host, QUEUE, "LRANGE jobs 0 -1").stdout.split() == ["job-2", "job-1"]   # earlier jobs kept


def test_kernel_settings_are_written_and_a_container_says_so(host):
    sysctl = host.file("/etc/sysctl.d/60-redis.conf").content_string
    assert "vm.overcommit_memory=1" in sysctl.replace(" ", "")
    assert host.service("redis-disable-thp").is_enabled
    limit = host.run("systemctl show -p LimitNOFILE --value redis-server@cache").stdout.strip()
    assert limit == str(10000 + 32)


def test_a_tls_instance_answers_over_tls_only(host):
    address = default_address(host)
    secure = cli(host, TLS, f"{TLS_OPTIONS} -h {address} PING")
    assert secure.stdout.strip() == "PONG", secure.stdout + secure.stderr   # certificate valid for the address
    plain = cli(host, TLS, "PING")
    assert plain.stdout.strip() != "PONG"
    anonymous = cli(host, TLS, f"{TLS_OPTIONS} PING", user=None)
    assert "NOAUTH" in anonymous.stdout + anonymous.stderr


def test_a_client_trusting_another_ca_is_refused_the_certificate(host):
    # The certificate is the internal CA's: a client checking against any other CA does not connect.
    host.run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
             "-subj /CN=other-ca -keyout /tmp/other-ca.key -out /tmp/other-ca.crt")
    refused = cli(host, TLS, "--tls --cacert /tmp/other-ca.crt PING")
    assert refused.stdout.strip() != "PONG"
    assert "certificate verify failed" in refused.stdout + refused.stderr


def test_the_app_may_not_publish_on_sentinels_channel(host):
    # A client publishing on __sentinel__:hello could feed the Sentinels a false primary.
    refused = cli(host, CACHE, "PUBLISH __sentinel__:hello 10.0.0.66,26379,x,0,paas-cache,10.0.0.66,6379,0")
    assert "NOPERM" in refused.stdout + refused.stderr, refused.stdout
    allowed = cli(host, CACHE, "PUBLISH portfolio:events hello")
    assert allowed.rc == 0 and allowed.stdout.strip() == "0", allowed.stdout + allowed.stderr


# --- run-time settings: applied live (CONFIG SET), drift shown in check mode (keep these last) ---

CONVERGE = Path(__file__).resolve().parents[1] / "converge.yml"
SETTINGS = CONVERGE.parent / "vars" / "scenario.yml"
APP_LOGINS = CONVERGE.parent / "app_logins.yml"
COMPARE = "redis : Compare the instances' run-time settings with the role's (check mode)"


def converge(host, *args: str):
    return run_playbook(host.backend.ansible_inventory, str(CONVERGE), *args)


def config_get(host, port: int, name: str) -> str:
    return cli(host, port, f"CONFIG GET {name}", user="admin").stdout.splitlines()[1]


def test_a_new_memory_limit_reaches_the_running_cache_without_a_restart(host):
    pid = info(host, CACHE, "process_id")
    assert cli(host, CACHE, "SET kept-across-the-change yes").stdout.strip() == "OK"
    instances = yaml.safe_load(SETTINGS.read_text())["redis_instances"]
    bigger = [dict(i, maxmemory_mb=24) if i["name"] == "cache" else i for i in instances]
    proc = converge(host, "-e", json.dumps({"redis_instances": bigger}))
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert config_get(host, CACHE, "maxmemory") == str(24 * 1024 * 1024)
    assert 'maxmemory "25165824"' in host.file("/etc/redis/live-cache.conf").content_string   # and at the next start
    assert info(host, CACHE, "process_id") == pid   # the same process: not restarted
    assert cli(host, CACHE, "GET kept-across-the-change").stdout.strip() == "yes"

    back = converge(host)
    assert back.returncode == 0, back.stdout[-3000:]
    assert config_get(host, CACHE, "maxmemory") == str(16 * 1024 * 1024)
    assert info(host, CACHE, "process_id") == pid


def test_a_setting_changed_by_hand_shows_in_check_mode_and_is_repaired_live(host):
    pid = info(host, CACHE, "process_id")
    assert cli(host, CACHE, "CONFIG SET maxmemory-policy allkeys-random", user="admin").stdout.strip() == "OK"
    check = converge(host, "--check", "--diff")
    assert check.returncode == 0, check.stdout[-3000:]
    assert COMPARE in changed_tasks(check.stdout, "redis-host")
    assert re.search(r'^-\s+"maxmemory-policy": "allkeys-random"', check.stdout, re.M)
    assert re.search(r'^\+\s+"maxmemory-policy": "allkeys-lfu"', check.stdout, re.M)
    assert config_get(host, CACHE, "maxmemory-policy") == "allkeys-random"   # check mode changed nothing

    repaired = converge(host)
    assert repaired.returncode == 0, repaired.stdout[-3000:]
    assert config_get(host, CACHE, "maxmemory-policy") == "allkeys-lfu"
    assert info(host, CACHE, "process_id") == pid
    clean = converge(host, "--check", "--diff")
    assert COMPARE not in changed_tasks(clean.stdout, "redis-host")


def test_a_password_rotation_keeps_the_old_password_working_until_it_is_dropped(host):
    # Phase 1 of docs/runbooks/secrets-rotation.md: the new password, the old one still accepted
    # (the app's running clients log in again with it while the new release rolls out).
    new = "app-rotated-test-password"
    rotating = converge(host, "-e", json.dumps({"redis_app_password": new,
                                                "redis_app_previous_passwords": [USERS["app"]]}))
    assert rotating.returncode == 0, rotating.stdout[-3000:]
    assert cli(host, CACHE, "PING", password=new).stdout.strip() == "PONG"
    assert cli(host, CACHE, "PING").stdout.strip() == "PONG"
    # The app_logins entry point (playbooks/rotate-secrets.yml's check) sees the same, on every instance, over TLS
    # where an instance serves it, and names the instances where a password it must refuse still logs in.
    both = {"redis_app_password": new, "redis_app_previous_passwords": [USERS["app"]]}
    accepted = run_playbook(host.backend.ansible_inventory, str(APP_LOGINS), "-e", json.dumps(both))
    assert accepted.returncode == 0, accepted.stdout[-3000:]
    refused = run_playbook(host.backend.ansible_inventory, str(APP_LOGINS), "-e", json.dumps(
        {"redis_app_password": new, "redis_app_refused_passwords": [USERS["app"]]}))
    assert refused.returncode != 0
    assert "still logged in with one it must refuse on cache, queue, securecache" in said(refused), said(refused)
    # Phase 2: one password again (here the scenario's own, so the next tests find it), and the
    # one no longer listed is refused.
    back = converge(host)
    assert back.returncode == 0, back.stdout[-3000:]
    assert cli(host, CACHE, "PING").stdout.strip() == "PONG"
    refused = cli(host, CACHE, "PING", password=new)
    assert "WRONGPASS" in refused.stdout + refused.stderr, refused.stdout + refused.stderr


def served_names(host) -> str:
    return host.run(f"openssl s_client -connect 127.0.0.1:{TLS} -CAfile /etc/redis/tls/ca.crt </dev/null 2>/dev/null"
                    " | openssl x509 -noout -ext subjectAltName").stdout


def test_a_renewed_certificate_is_served_without_a_restart(host):
    pid = int(host.run("systemctl show -p MainPID --value redis-server@securecache").stdout)
    assert "renewed.test" not in served_names(host)
    # A new name makes the internal CA issue a new certificate; the handler loads it live.
    proc = converge(host, "-e", json.dumps({"internal_ca_names": ["renewed.test"]}))
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "DNS:renewed.test" in served_names(host)
    assert int(host.run("systemctl show -p MainPID --value redis-server@securecache").stdout) == pid
    back = converge(host)
    assert back.returncode == 0, back.stdout[-3000:]
    assert "renewed.test" not in served_names(host)


def test_turning_tls_on_restarts_the_instance_into_tls_without_waiting_on_it(host):
    # The run reads live settings before its restart handler: not from an instance about to
    # restart (redis-cli --tls against the still-plain instance once waited forever).
    instances = yaml.safe_load(SETTINGS.read_text())["redis_instances"]
    tls_cache = [dict(i, tls=True) if i["name"] == "cache" else i for i in instances]
    proc = run_playbook(host.backend.ansible_inventory, str(CONVERGE), "-e", json.dumps({"redis_instances": tls_cache}),
                        timeout=300)
    try:
        assert proc.returncode == 0, proc.stdout[-3000:]
        assert cli(host, CACHE, f"{TLS_OPTIONS} PING").stdout.strip() == "PONG"
        assert "PONG" not in cli(host, CACHE, "PING").stdout   # no plain text any more
    finally:
        back = run_playbook(host.backend.ansible_inventory, str(CONVERGE), timeout=300)
    assert back.returncode == 0, back.stdout[-3000:]
    assert cli(host, CACHE, "PING").stdout.strip() == "PONG"
