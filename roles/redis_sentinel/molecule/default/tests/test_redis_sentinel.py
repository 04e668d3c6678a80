"""Redis high availability: replication, three Sentinels, a failover and the old primary's return.

The tests run in file order: the healthy set first, then the failover drill
(playbooks/drills/redis-failover.yml) stops the primary of the queue instance, the Sentinels promote the
replica, the app's user writes to it, and the old primary comes back as a replica; writes go on through a
Sentinel-aware lookup, and a second run of playbooks/redis.yml leaves it all as it is.
"""

from __future__ import annotations

import re

import pytest
from paas_testlib import changed_tasks, journal, run_playbook, said, wait_for

A_IP, B_IP, C_IP = "10.82.0.11", "10.82.0.12", "10.82.0.13"
QUEUE, CACHE, SENTINEL = 6380, 6379, 26379
USERS = {"app": "app-test-password", "admin": "admin-test-password", "replication": "replication-test-password"}
SENTINEL_PASSWORD = "sentinel-test-password"
DOWN_AFTER_S, FAILOVER_TIMEOUT_S = 3, 20

testinfra_hosts = ["ansible://redis-a"]


def other(host, name):
    return host.get_host(f"ansible://{name}", ansible_inventory=host.backend.ansible_inventory)


@pytest.fixture(scope="module")
def redis_b(host):
    return other(host, "redis-b")


@pytest.fixture(scope="module")
def sentinel_c(host):
    return other(host, "sentinel-c")


def cli(host, command: str, port: int = QUEUE, address: str = "127.0.0.1", user: str | None = "admin"):
    """redis-cli against an instance as a named user (password from REDISCLI_AUTH)."""
    auth = f"REDISCLI_AUTH='{USERS[user]}' redis-cli --no-auth-warning --user {user}" if user else "redis-cli"
    return host.run(f"{auth} -h {address} -p {port} {command}")


def sentinel(host, command: str, password: str | None = SENTINEL_PASSWORD):
    auth = f"REDISCLI_AUTH='{password}' redis-cli --no-auth-warning" if password else "redis-cli"
    return host.run(f"{auth} -p {SENTINEL} {command}")


def primary_of(host, name: str = "paas-queue") -> str:
    """The primary a Sentinel-aware client is sent to: 'address port'."""
    return " ".join(sentinel(host, f"SENTINEL get-master-addr-by-name {name}").stdout.split())


def role(host, port: int = QUEUE) -> list[str]:
    return cli(host, "ROLE", port=port).stdout.split()


def last_start_decision(host) -> tuple[str, str]:
    """What paas-redis-role decided before the latest start of the queue instance: (role, source)."""
    decisions = re.findall(r"starting as (primary|replica of [\d.]+ \d+) \(from (sentinel|inventory)",
                           journal(host, "redis-server@queue", lines=200))
    return decisions[-1] if decisions else ("", "")


def sentinel_view(host, name: str = "paas-queue") -> dict[str, str]:
    lines = sentinel(host, f"SENTINEL MASTER {name}").stdout.splitlines()
    return dict(zip(lines[0::2], lines[1::2], strict=False))


def test_each_instance_has_a_primary_on_redis_a_and_a_replica_on_redis_b(host, redis_b):
    for port in (QUEUE, CACHE):
        assert role(host, port)[0] == "master"
        assert wait_for(lambda port=port: role(redis_b, port)[:4] == ["slave", A_IP, str(port), "connected"], 30)


def test_a_job_written_on_the_primary_is_read_on_the_replica(host, redis_b):
    assert cli(host, "LPUSH jobs before-failover", user="app").stdout.strip().isdigit()
    assert wait_for(lambda: "before-failover" in cli(redis_b, "LRANGE jobs 0 -1", user="app").stdout, 15)


def test_the_replica_refuses_writes(redis_b):
    out = cli(redis_b, "LPUSH jobs refused", user="app")
    assert "READONLY" in out.stdout + out.stderr


def test_the_replication_user_cannot_read_data(host):
    out = cli(host, "LRANGE jobs 0 -1", user="replication")
    assert "NOPERM" in out.stdout + out.stderr


def test_sentinel_refuses_clients_without_its_password(sentinel_c):
    out = sentinel(sentinel_c, "SENTINEL masters", password=None)
    assert "NOAUTH" in out.stdout + out.stderr
    wrong = sentinel(sentinel_c, "PING", password="not-the-password")
    assert "WRONGPASS" in wrong.stdout + wrong.stderr or "invalid password" in wrong.stdout + wrong.stderr


@pytest.mark.parametrize("name", ["redis-a", "redis-b", "sentinel-c"])
def test_every_sentinel_sees_the_primary_its_replica_and_the_other_sentinels(host, name):
    node = other(host, name)

    def complete() -> bool:
        view = sentinel_view(node)
        return (view.get("ip") == A_IP and view.get("num-slaves") == "1" and view.get("num-other-sentinels") == "2"
                and view.get("quorum") == "2" and view.get("flags") == "master")

    assert wait_for(complete, 60), sentinel_view(node)
    assert sentinel_view(node).get("down-after-milliseconds") == str(DOWN_AFTER_S * 1000)


# --- failover (these change the topology: keep them last) ---------------------------------------

def test_the_failover_drill_promotes_the_replica_and_brings_the_old_primary_back_as_its_replica(
        host, redis_b, sentinel_c):
    drill = run_playbook(host.backend.ansible_inventory, "drills/redis-failover.yml",
                         "-e", "redis_drill_instance=queue")
    assert drill.returncode == 0, drill.stdout[-3000:]
    report = re.search(r"redis failover drill: queue on redis-a lost; every Sentinel named redis-b after ([\d.]+) s, "
                       r"which took a write as the app user after ([\d.]+) s; redis-a back as its replica after "
                       r"([\d.]+) s", said(drill))
    assert report, said(drill)[-2000:]
    promoted, written, back = (float(figure) for figure in report.groups())
    print(f"\nredis failover drill: promoted after {promoted} s, first write after {written} s, "
          f"the old primary back after {back} s")
    assert promoted <= DOWN_AFTER_S + 2 * FAILOVER_TIMEOUT_S + 30
    assert promoted <= written <= back
    assert primary_of(sentinel_c) == f"{B_IP} {QUEUE}"
    assert role(redis_b)[0] == "master"
    # Only the stopped instance failed over: the cache's primary is still redis-a.
    assert primary_of(sentinel_c, "paas-cache") == f"{A_IP} {CACHE}"
    # The old primary asked the Sentinels before starting, so it never served as a second primary.
    assert last_start_decision(host) == (f"replica of {B_IP} {QUEUE}", "sentinel")
    assert role(host)[:4] == ["slave", B_IP, str(QUEUE), "connected"], role(host)


def test_a_drill_without_the_high_availability_layout_is_refused_before_any_change(host, tmp_path):
    single = tmp_path / "single.yml"
    single.write_text("all:\n  hosts:\n    redis-a: {}\n  children:\n    redis:\n      hosts: {redis-a: {}}\n")
    refused = run_playbook(single, "drills/redis-failover.yml")
    assert refused.returncode != 0
    assert "needs two redis hosts and a redis_sentinel group" in said(refused)
    assert role(host)[0] == "slave"        # nothing was stopped


def test_writes_resume_against_the_new_primary_through_a_sentinel_lookup(host, sentinel_c):
    address, port = primary_of(sentinel_c).split()
    written = cli(sentinel_c, "LPUSH jobs after-failover", address=address, port=int(port), user="app")
    assert written.stdout.strip().isdigit(), written.stdout + written.stderr
    jobs = cli(sentinel_c, "LRANGE jobs 0 -1", address=address, port=int(port), user="app").stdout.split()
    assert {"before-failover", "after-failover"} <= set(jobs)
    # The old primary, now its replica, has it too.
    assert wait_for(lambda: "after-failover" in cli(host, "LRANGE jobs 0 -1", user="app").stdout, 15)
    assert wait_for(lambda: sentinel_view(sentinel_c).get("num-slaves") == "1", 30)


def test_a_restart_of_the_new_primary_keeps_it_the_primary(redis_b, sentinel_c):
    redis_b.run("systemctl restart redis-server@queue")
    assert last_start_decision(redis_b) == ("primary", "sentinel")
    assert wait_for(lambda: role(redis_b)[0] == "master", 15)
    assert "after-failover" in cli(redis_b, "LRANGE jobs 0 -1", user="app").stdout   # the AOF kept the jobs
    assert primary_of(sentinel_c) == f"{B_IP} {QUEUE}"


def test_running_the_playbook_after_a_failover_changes_nothing(host, redis_b, sentinel_c):
    proc = run_playbook(host.backend.ansible_inventory, "redis.yml")
    assert proc.returncode == 0, proc.stdout[-3000:]
    recap = [line for line in proc.stdout.splitlines() if " changed=" in line and " unreachable=" in line]
    assert recap and all(" changed=0 " in line for line in recap), "\n".join(recap)
    assert primary_of(sentinel_c) == f"{B_IP} {QUEUE}"
    assert role(redis_b)[0] == "master"
    assert role(host)[:2] == ["slave", B_IP]


COMPARE = "redis_sentinel : Compare the Sentinel's settings with the inventory (check mode)"


def test_a_sentinel_setting_changed_by_hand_shows_in_check_mode_and_is_repaired(host, sentinel_c):
    clean = run_playbook(host.backend.ansible_inventory, "redis.yml", "--check", "--diff")
    assert clean.returncode == 0, clean.stdout[-3000:]
    assert COMPARE not in changed_tasks(clean.stdout, "sentinel-c")
    assert sentinel(sentinel_c, "SENTINEL SET paas-queue down-after-milliseconds 9000").stdout.strip() == "OK"

    check = run_playbook(host.backend.ansible_inventory, "redis.yml", "--check", "--diff")
    assert check.returncode == 0, check.stdout[-3000:]
    assert COMPARE in changed_tasks(check.stdout, "sentinel-c")
    # The diff: '-' what the Sentinel runs, '+' what the inventory says.
    assert re.search(r'^-\s+"down-after-milliseconds": "9000"', check.stdout, re.M)
    assert re.search(rf'^\+\s+"down-after-milliseconds": "{DOWN_AFTER_S * 1000}"', check.stdout, re.M)
    assert sentinel_view(sentinel_c)["down-after-milliseconds"] == "9000"   # check mode changed nothing

    repaired = run_playbook(host.backend.ansible_inventory, "redis.yml")
    assert repaired.returncode == 0, repaired.stdout[-3000:]
    assert sentinel_view(sentinel_c)["down-after-milliseconds"] == str(DOWN_AFTER_S * 1000)
