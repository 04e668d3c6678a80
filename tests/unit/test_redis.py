"""Unit tests for filter_plugins/redis.py (memory sizing and the preflight rules)."""

from __future__ import annotations

import pytest
from redis import (
    AnsibleFilterError,
    redis_cli_script,
    redis_exporter_problems,
    redis_exporter_targets,
    redis_instance_problems,
    redis_instances_to_restart,
    redis_live_plan,
    redis_live_settings,
    redis_maxmemory,
    redis_problems,
    redis_sentinel_changes,
    redis_sentinel_masters,
    redis_sentinel_plan,
    redis_sentinel_primaries,
    redis_sentinel_problems,
)

CACHE = {"name": "cache", "kind": "cache", "port": 6379, "maxmemory_fraction": 0.25,
         "maxmemory_policy": "allkeys-lfu", "appendonly": False, "save": ""}
QUEUE = {"name": "queue", "kind": "queue", "port": 6380, "maxmemory_mb": 300,
         "maxmemory_policy": "noeviction", "appendonly": True, "save": "900 1"}


def test_maxmemory_from_fraction_or_explicit():
    assert redis_maxmemory([CACHE, QUEUE], 2048) == {"cache": 512, "queue": 300}


def test_the_default_pair_has_no_problems():
    assert redis_instance_problems([CACHE, QUEUE], 2048) == []


def test_a_queue_that_evicts_is_refused():
    problems = redis_instance_problems([CACHE, {**QUEUE, "maxmemory_policy": "allkeys-lru"}], 2048)
    assert problems == ["redis_instances[queue].maxmemory_policy is allkeys-lru: a queue must use noeviction, "
                        "or Redis drops jobs when memory is full"]


def test_a_cache_that_evicts_and_persists_needs_an_explicit_yes():
    persisting = {**CACHE, "appendonly": True}
    assert "redis_instances[cache] is a cache that both evicts" in redis_instance_problems([persisting], 2048)[0]
    assert redis_instance_problems([{**CACHE, "save": "900 1"}], 2048)
    assert redis_instance_problems([{**persisting, "allow_persistence": True}], 2048) == []


def test_two_instances_on_one_port_are_refused():
    problems = redis_instance_problems([CACHE, {**QUEUE, "port": 6379}], 2048)
    assert problems == ["redis_instances: cache, queue share port 6379"]


def test_maxmemory_larger_than_the_host_is_refused():
    problems = redis_instance_problems([CACHE, {**QUEUE, "maxmemory_mb": 4096}], 2048)
    assert problems == ["redis_instances: maxmemory totals 4608 MB, more than the host's 2048 MB "
                        "(redis_memory_mb or the host's memory)"]


MASTERS = [{"name": "paas-cache", "host": "10.0.0.15", "port": 6379},
           {"name": "paas-queue", "host": "10.0.0.15", "port": 6380}]


def answer(peer, master, stdout, rc=0):
    return {"item": [peer, master], "rc": rc, "stdout": stdout, "stdout_lines": stdout.splitlines()}


def test_sentinel_primaries_follow_the_first_peer_that_knows():
    answers = [answer("10.0.0.20", MASTERS[1], "", rc=1),                     # peer down
               answer("10.0.0.21", MASTERS[1], "OK\n10.0.0.16\n6380"),        # after a failover
               answer("10.0.0.22", MASTERS[1], "OK\n10.0.0.15\n6380"),        # not asked: first answer wins
               answer("10.0.0.21", MASTERS[0], "WRONGPASS invalid username-password pair\n10.0.0.9\n6379")]
    primaries = redis_sentinel_primaries(MASTERS, answers)
    assert primaries == [MASTERS[0], {"name": "paas-queue", "host": "10.0.0.16", "port": 6380}]


def test_sentinel_primaries_without_answers_keep_the_inventory():
    skipped = [{"item": ["10.0.0.21", MASTERS[0]], "skipped": True}]
    assert redis_sentinel_primaries(MASTERS, skipped) == MASTERS
    assert redis_sentinel_primaries(MASTERS, []) == MASTERS


def test_sentinel_changes_lists_only_what_differs():
    reply = ["name", "paas-queue", "ip", "10.0.0.15", "quorum", "2", "down-after-milliseconds", "5000",
             "failover-timeout", "60000", "parallel-syncs", "1"]
    wanted = {"quorum": 2, "down-after-milliseconds": 3000, "failover-timeout": 60000, "parallel-syncs": 1}
    assert redis_sentinel_changes(reply, wanted) == ["down-after-milliseconds", "3000"]
    assert redis_sentinel_changes(reply, {**wanted, "down-after-milliseconds": 5000}) == []


def test_sentinel_masters_one_per_instance():
    assert redis_sentinel_masters([CACHE, QUEUE], "paas-", "10.0.0.15") == MASTERS


def test_cli_script_authenticates_first_and_quotes_every_word():
    script = redis_cli_script([["ACL", "LOAD"], ["SENTINEL", "SET", "m", "auth-pass", 'a "b" \\c\nd']], "p w", "admin")
    assert script.splitlines() == ['"AUTH" "admin" "p w"', '"ACL" "LOAD"',
                                   '"SENTINEL" "SET" "m" "auth-pass" "a \\"b\\" \\\\c\\nd"']
    assert redis_cli_script([], "secret") == '"AUTH" "secret"\n'


def known(master, stdout):
    return {"item": master, "rc": 0, "stdout_lines": stdout.splitlines()}


def test_sentinel_plan_monitors_new_primaries_and_sets_what_differs():
    wanted = {"quorum": 2, "down-after-milliseconds": 3000}
    results = [known(MASTERS[0], "OK\nname\npaas-cache\nquorum\n2\ndown-after-milliseconds\n5000"),
               known(MASTERS[1], "OK\nERR No such master with that name")]
    wanted_view = {"watched": True, "quorum": "2", "down-after-milliseconds": "3000"}
    assert redis_sentinel_plan(results, MASTERS, wanted) == [
        {"name": "paas-cache", "monitor": None, "set": ["down-after-milliseconds", "3000"],
         "current": {"watched": True, "quorum": "2", "down-after-milliseconds": "5000"}, "wanted": wanted_view},
        {"name": "paas-queue", "monitor": ["10.0.0.15", 6380],
         "set": ["quorum", "2", "down-after-milliseconds", "3000"],
         "current": {"watched": False, "quorum": None, "down-after-milliseconds": None}, "wanted": wanted_view},
    ]


def test_sentinel_plan_current_equals_wanted_when_nothing_differs():
    wanted = {"quorum": 2, "down-after-milliseconds": 3000}
    results = [known(m, f"OK\nname\n{m['name']}\nquorum\n2\ndown-after-milliseconds\n3000") for m in MASTERS]
    plan = redis_sentinel_plan(results, MASTERS, wanted)
    assert [p["set"] for p in plan] == [[], []]
    assert all(p["current"] == p["wanted"] for p in plan)


def _loop(*changed_names, unchanged=()) -> dict:
    """A registered loop result over instances, as Ansible records it."""
    return {"results": [{"item": {"name": n}, "changed": True} for n in changed_names]
            + [{"item": {"name": n}, "changed": False} for n in unchanged]}


def test_only_instances_whose_own_files_changed_are_restarted_in_inventory_order():
    config, masterauth = _loop("queue", unchanged=["cache"]), _loop("cache", "queue")
    assert redis_instances_to_restart(["cache", "queue", "sessions"], [config, masterauth]) == ["cache", "queue"]
    assert redis_instances_to_restart(["cache", "queue"], [_loop(unchanged=["cache", "queue"]), {}]) == []


def test_a_changed_unit_drop_in_restarts_every_instance():
    assert redis_instances_to_restart(["cache", "queue"], [_loop(unchanged=["cache"])], True) == ["cache", "queue"]


def test_skipped_or_absent_loops_count_as_unchanged():
    skipped = {"changed": False, "skipped": True, "skip_reason": "Conditional result was False"}
    assert redis_instances_to_restart(["cache"], [skipped, {}, None]) == []


def read(instance, stdout, rc=0):
    return {"item": instance, "rc": rc, "stdout_lines": stdout.split("\n")}


def test_live_settings_are_in_config_gets_form():
    assert redis_live_settings(CACHE, 256) == {
        "maxmemory": str(256 * 1024 * 1024), "maxmemory-policy": "allkeys-lfu", "maxmemory-samples": "10",
        "save": "", "appendonly": "no", "appendfsync": "everysec", "timeout": "0", "tcp-keepalive": "300"}
    queue = redis_live_settings({**QUEUE, "save": "900 1   300 10"}, 64)
    assert queue["save"] == "900 1 300 10" and queue["appendonly"] == "yes"
    assert "maxmemory-samples" not in queue   # noeviction: samples do not matter


def test_live_plan_sets_only_what_the_running_instance_has_otherwise():
    memory_mb = 1024
    size = redis_maxmemory([CACHE], memory_mb)["cache"]
    wanted = redis_live_settings(CACHE, size)
    live = dict(wanted, maxmemory="1048576")   # someone ran CONFIG SET maxmemory 1mb
    reply = "OK\n" + "\n".join(f"{k}\n{v}" for k, v in live.items())
    [plan] = redis_live_plan([read(CACHE, reply)], [CACHE], memory_mb)
    assert plan["set"] == ["maxmemory", wanted["maxmemory"]]
    assert plan["current"]["maxmemory"] == "1048576" and plan["wanted"] == wanted
    assert plan["name"] == "cache" and plan["port"] == CACHE["port"]


def test_live_plan_reads_an_empty_last_value_and_is_empty_when_all_match():
    wanted = redis_live_settings(CACHE, redis_maxmemory([CACHE], 1024)["cache"])
    ordered = {k: v for k, v in wanted.items() if k != "save"} | {"save": ""}   # save "" last, its line stripped
    reply = "OK\n" + "\n".join(f"{k}\n{v}" for k, v in ordered.items())
    [plan] = redis_live_plan([read(CACHE, reply.rstrip("\n"))], [CACHE], 1024)
    assert plan["set"] == [] and plan["current"] == plan["wanted"]


def test_live_plan_leaves_out_instances_it_could_not_read():
    refused = read(CACHE, "WRONGPASS invalid username-password pair\nNOAUTH Authentication required.")
    down = read(QUEUE, "", rc=1)
    assert redis_live_plan([refused, down, {"item": CACHE, "skipped": True}], [CACHE, QUEUE], 1024) == []


def test_exporter_targets_follow_each_instances_tls():
    assert redis_exporter_targets([CACHE, QUEUE]) == {"cache": "redis://127.0.0.1:6379", "queue": "redis://127.0.0.1:6380"}
    assert redis_exporter_targets([CACHE, {**QUEUE, "tls": False}], True) == {
        "cache": "rediss://127.0.0.1:6379", "queue": "redis://127.0.0.1:6380"}
    assert redis_exporter_targets([]) == {}


ROLE_OK = {"instances": [CACHE, QUEUE], "memory_mb": 2048, "somaxconn": 1024, "tcp_backlog": 511,
           "replication_enabled": False, "sentinels": [], "tls_instances": [],
           "app_password_set": True, "admin_password_set": True, "replication_password_set": False,
           "sentinel_password_set": False, "sentinel_auth_password_set": False}


def test_the_role_defaults_break_no_rule():
    assert redis_problems(ROLE_OK) == []


@pytest.mark.parametrize(("changes", "message"), [
    ({"app_password_set": False}, "redis_app_password is empty (set it from the vault)"),
    ({"admin_password_set": False}, "redis_admin_password is empty (set it from the vault)"),
    ({"somaxconn": 128}, "redis_somaxconn (128) is below redis_tcp_backlog (511)"),
    ({"replication_enabled": True}, "redis_replication_password is empty (set it from the vault): "
                                    "redis_replication_enabled is true"),
    ({"sentinels": ["10.0.0.1"], "replication_enabled": True, "replication_password_set": True,
      "sentinel_password_set": True},
     "redis_sentinel_password and redis_sentinel_auth_password must be set (vault) when redis_sentinels is not empty"),
    ({"sentinels": ["10.0.0.1"], "sentinel_password_set": True, "sentinel_auth_password_set": True},
     "redis_sentinels is set but redis_replication_enabled is false: Sentinel needs replicas to fail over to"),
    ({"replication_enabled": True, "replication_password_set": True, "tls_instances": ["cache", "queue"]},
     "redis_instances: cache, queue use tls (their own tls, or redis_tls), which this role does not replicate "
     "(redis_replication_enabled): turn TLS off for a replicated set"),
    ({"instances": [CACHE, {**QUEUE, "port": 6379}]}, "redis_instances: cache, queue share port 6379"),
])
def test_each_role_rule_is_broken_alone_with_its_message(changes, message):
    assert redis_problems({**ROLE_OK, **changes}) == [message]


def test_every_broken_role_rule_is_reported_at_once():
    broken = {**ROLE_OK, "app_password_set": False, "admin_password_set": False, "somaxconn": 1}
    assert len(redis_problems(broken)) == 3


def test_a_missing_setting_is_named():
    with pytest.raises(AnsibleFilterError, match="redis_problems: settings lack tls_instances"):
        redis_problems({key: value for key, value in ROLE_OK.items() if key != "tls_instances"})
    with pytest.raises(AnsibleFilterError, match="redis_sentinel_problems: settings lack quorum"):
        redis_sentinel_problems({key: value for key, value in SENTINEL_OK.items() if key != "quorum"})


def test_role_rules_want_the_settings_as_a_dictionary():
    with pytest.raises(AnsibleFilterError, match="redis_problems: expected the role's settings as a dictionary"):
        redis_problems([CACHE])


SENTINEL_OK = {"masters": [{"name": "paas-queue", "host": "10.0.0.15", "port": 6380}],
               "peers": ["10.0.0.11", "10.0.0.12"], "quorum": 2, "down_after_ms": 5000, "failover_timeout_ms": 60000,
               "password_set": True, "auth_password_set": True}


def test_a_three_sentinel_set_breaks_no_rule():
    assert redis_sentinel_problems(SENTINEL_OK) == []


@pytest.mark.parametrize(("changes", "message"), [
    ({"password_set": False}, "redis_sentinel_password is empty (set it from the vault)"),
    ({"auth_password_set": False}, "redis_sentinel_auth_password is empty (set it from the vault)"),
    ({"masters": []}, "redis_sentinel_masters is empty: nothing to watch"),
    ({"peers": ["10.0.0.11"], "quorum": 1},
     "redis_sentinel_peers: 2 Sentinel(s) in all; a failover needs at least 3 "
     "(a majority must survive the loss of one)"),
    ({"quorum": 4}, "redis_sentinel_quorum (4) must be between 1 and the number of Sentinels (3)"),
    ({"quorum": 0}, "redis_sentinel_quorum (0) must be between 1 and the number of Sentinels (3)"),
    ({"failover_timeout_ms": 5000},
     "redis_sentinel_failover_timeout_ms must be larger than redis_sentinel_down_after_ms"),
])
def test_each_sentinel_rule_is_broken_alone_with_its_message(changes, message):
    assert redis_sentinel_problems({**SENTINEL_OK, **changes}) == [message]


def test_sentinel_rules_want_the_settings_as_a_dictionary():
    with pytest.raises(AnsibleFilterError, match="redis_sentinel_problems"):
        redis_sentinel_problems("quorum=2")


EXPORTER_OK = {"targets": {"cache": "redis://127.0.0.1:6379", "queue": "rediss://127.0.0.1:6380"}, "password_set": True}


@pytest.mark.parametrize(("changes", "message"), [
    ({}, None),
    ({"password_set": False}, "redis_exporter_password is empty (set it from the vault, as redis_monitoring_password)"),
    ({"targets": {}}, "redis_exporter_targets is empty"),
    ({"targets": {"cache": "127.0.0.1:6379"}}, "redis_exporter_targets[cache] is not redis[s]://host:port"),
    ({"targets": {"cache": "redis://user:pw@127.0.0.1:6379"}},      # a password in the URI would reach argv and logs
     "redis_exporter_targets[cache] is not redis[s]://host:port"),
])
def test_each_exporter_rule_is_broken_alone_with_its_message(changes, message):
    assert redis_exporter_problems({**EXPORTER_OK, **changes}) == ([message] if message else [])


def test_exporter_settings_lacking_a_key_are_an_error_naming_the_filter():
    with pytest.raises(AnsibleFilterError, match="redis_exporter_problems: settings lack password_set"):
        redis_exporter_problems({"targets": {}})
