"""Unit tests for filter_plugins/redis.py (memory sizing and the preflight rules)."""

from __future__ import annotations

from redis import (
    redis_cli_script,
    redis_exporter_targets,
    redis_instances_to_restart,
    redis_live_plan,
    redis_live_settings,
    redis_maxmemory,
    redis_problems,
    redis_sentinel_changes,
    redis_sentinel_masters,
    redis_sentinel_plan,
    redis_sentinel_primaries,
)

CACHE = {"name": "cache", "kind": "cache", "port": 6379, "maxmemory_fraction": 0.25,
         "maxmemory_policy": "allkeys-lfu", "appendonly": False, "save": ""}
QUEUE = {"name": "queue", "kind": "queue", "port": 6380, "maxmemory_mb": 300,
         "maxmemory_policy": "noeviction", "appendonly": True, "save": "900 1"}


def test_maxmemory_from_fraction_or_explicit():
    assert redis_maxmemory([CACHE, QUEUE], 2048) == {"cache": 512, "queue": 300}


def test_the_default_pair_has_no_problems():
    assert redis_problems([CACHE, QUEUE], 2048) == []


def test_a_queue_that_evicts_is_refused():
    problems = redis_problems([CACHE, {**QUEUE, "maxmemory_policy": "allkeys-lru"}], 2048)
    assert problems == ["redis_instances[queue].maxmemory_policy is allkeys-lru: a queue must use noeviction, "
                        "or Redis drops jobs when memory is full"]


def test_a_cache_that_evicts_and_persists_needs_an_explicit_yes():
    persisting = {**CACHE, "appendonly": True}
    assert "redis_instances[cache] is a cache that both evicts" in redis_problems([persisting], 2048)[0]
    assert redis_problems([{**CACHE, "save": "900 1"}], 2048)
    assert redis_problems([{**persisting, "allow_persistence": True}], 2048) == []


def test_two_instances_on_one_port_are_refused():
    assert redis_problems([CACHE, {**QUEUE, "port": 6379}], 2048) == ["redis_instances: cache, queue share port 6379"]


def test_maxmemory_larger_than_the_host_is_refused():
    problems = redis_problems([CACHE, {**QUEUE, "maxmemory_mb": 4096}], 2048)
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
