"""Unit tests for filter_plugins/redis.py (memory sizing and the preflight rules)."""

from __future__ import annotations

from redis import redis_maxmemory, redis_problems

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
