"""Filters for the redis role. Pure functions; tests: tests/unit/test_redis.py.

    {{ redis_instances | redis_maxmemory(memory_mb) }}            -> {name: MB}
    {{ redis_instances | redis_sentinel_masters(prefix, address) }} -> [{name, host, port}] for Sentinel
    {{ masters | redis_sentinel_primaries(peer_answers) }}        -> masters, primaries as the peers know them
    {{ reply_lines | redis_sentinel_changes(wanted) }}            -> SENTINEL SET arguments for what differs
    {{ known_results | redis_sentinel_plan(masters, wanted) }}    -> per primary: MONITOR it? SENTINEL SET what?
    {{ [['ACL', 'LOAD']] | redis_cli_script(password, user) }}    -> redis-cli's standard input: AUTH, then the commands
    {{ names | redis_instances_to_restart(registered, unit_changed) }} -> the instances a restart handler covers
    {{ instance | redis_live_settings(maxmemory_mb) }}            -> {setting: value} applied without a restart
    {{ read_results | redis_live_plan(instances, memory_mb) }}    -> per instance: live vs wanted, CONFIG SET arguments
    {{ instances | redis_exporter_targets(tls) }}                 -> {name: redis[s]://127.0.0.1:port} for the exporter
    {{ settings | redis_problems }}                              -> the redis role's preflight: [message, ...]
    {{ settings | redis_sentinel_problems }}                     -> the redis_sentinel role's preflight
    {{ settings | redis_exporter_problems }}                     -> the redis_exporter role's preflight
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: redis_problems
short_description: The redis role's cross-variable rules - one message per broken rule, naming the variable
description:
  - settings holds the role's variables without the redis_ prefix (instances, memory_mb as the role resolves it,
    somaxconn, tcp_backlog, replication_enabled, sentinels, tls_instances - the names of the instances serving TLS),
    and whether each password is set (app_password_set, admin_password_set, replication_password_set,
    sentinel_password_set, sentinel_auth_password_set), never a password.
---
name: redis_sentinel_problems
short_description: The redis_sentinel role's cross-variable rules - one message per broken rule, naming the variable
description:
  - settings holds the role's variables without the redis_sentinel_ prefix (masters, peers, quorum, down_after_ms,
    failover_timeout_ms) and whether each password is set (password_set, auth_password_set).
---
name: redis_exporter_problems
short_description: The redis_exporter role's cross-variable rules - one message per broken rule, naming the variable
description:
  - settings holds targets (redis_exporter_targets, name to URI) and password_set (never the password); the listen
    address is checked by network.py's listen_address_problems beside it.
"""
EXPORTER_TARGET = re.compile(r"^rediss?://[^/@]+:[0-9]+$")

DEFAULT_FRACTION = 0.25


def redis_maxmemory(instances, memory_mb) -> dict:
    """Each instance's maxmemory in MB: its maxmemory_mb, or maxmemory_fraction of memory_mb."""
    sizes = {}
    for instance in instances or []:
        if instance.get("maxmemory_mb") is not None:
            sizes[instance["name"]] = int(instance["maxmemory_mb"])
        else:
            sizes[instance["name"]] = int(int(memory_mb) * float(instance.get("maxmemory_fraction", DEFAULT_FRACTION)))
    return sizes


def _persists(instance: dict) -> bool:
    return bool(instance.get("appendonly")) or bool((instance.get("save") or "").strip())


def redis_instance_problems(instances, memory_mb) -> list:
    """Cross-variable mistakes in redis_instances, each message naming the variable."""
    problems = []
    instances = instances or []
    ports = Counter(int(i["port"]) for i in instances)
    for port, count in sorted(ports.items()):
        if count > 1:
            names = ", ".join(i["name"] for i in instances if int(i["port"]) == port)
            problems.append(f"redis_instances: {names} share port {port}")
    names = Counter(i["name"] for i in instances)
    problems += [f"redis_instances: two instances are named {n}" for n, c in names.items() if c > 1]
    for instance in instances:
        where = f"redis_instances[{instance['name']}]"
        policy = instance.get("maxmemory_policy", "noeviction")
        if instance.get("kind") == "queue" and policy != "noeviction":
            problems.append(f"{where}.maxmemory_policy is {policy}: a queue must use noeviction, "
                            "or Redis drops jobs when memory is full")
        if (instance.get("kind") == "cache" and policy != "noeviction" and _persists(instance)
                and not instance.get("allow_persistence", False)):
            problems.append(f"{where} is a cache that both evicts ({policy}) and persists (appendonly/save); "
                            "set allow_persistence: true if that is meant")
        if int(instance["port"]) < 1 or int(instance["port"]) > 65535:
            problems.append(f"{where}.port {instance['port']} is not a TCP port")
    sizes = redis_maxmemory(instances, memory_mb)
    if sum(sizes.values()) > int(memory_mb):
        problems.append(f"redis_instances: maxmemory totals {sum(sizes.values())} MB, more than the host's "
                        f"{int(memory_mb)} MB (redis_memory_mb or the host's memory)")
    problems += [f"redis_instances[{n}]: maxmemory is {mb} MB; give it at least 1" for n, mb in sizes.items() if mb < 1]
    return problems


def _run_rules(name: str, settings, keys: tuple[str, ...], rules: tuple) -> list:
    """The messages of every broken rule, in the rules' order, after checking the settings' shape."""
    if not isinstance(settings, Mapping):
        raise AnsibleFilterError(f"{name}: expected the role's settings as a dictionary, got {settings!r}")
    missing = [key for key in keys if key not in settings]
    if missing:
        raise AnsibleFilterError(f"{name}: settings lack {', '.join(missing)}")
    return [problem for rule in rules for problem in rule(settings)]


def _rule_passwords_set(settings: Mapping) -> list:
    return [f"redis_{name}_password is empty (set it from the vault)"
            for name in ("app", "admin") if not settings[f"{name}_password_set"]]


def _rule_backlog_fits_somaxconn(settings: Mapping) -> list:
    somaxconn, backlog = int(settings["somaxconn"]), int(settings["tcp_backlog"])
    if somaxconn < backlog:
        return [f"redis_somaxconn ({somaxconn}) is below redis_tcp_backlog ({backlog})"]
    return []


def _rule_replication_has_a_password(settings: Mapping) -> list:
    if settings["replication_enabled"] and not settings["replication_password_set"]:
        return ["redis_replication_password is empty (set it from the vault): redis_replication_enabled is true"]
    return []


def _rule_sentinels_have_passwords(settings: Mapping) -> list:
    if settings["sentinels"] and not (settings["sentinel_password_set"] and settings["sentinel_auth_password_set"]):
        return ["redis_sentinel_password and redis_sentinel_auth_password must be set (vault) "
                "when redis_sentinels is not empty"]
    return []


def _rule_sentinels_need_replicas(settings: Mapping) -> list:
    if settings["sentinels"] and not settings["replication_enabled"]:
        return ["redis_sentinels is set but redis_replication_enabled is false: "
                "Sentinel needs replicas to fail over to"]
    return []


def _rule_replication_without_tls(settings: Mapping) -> list:
    if settings["replication_enabled"] and settings["tls_instances"]:
        return [f"redis_instances: {', '.join(settings['tls_instances'])} use tls (their own tls, or redis_tls), "
                "which this role does not replicate (redis_replication_enabled): turn TLS off for a replicated set"]
    return []


def _rule_instances(settings: Mapping) -> list:
    return redis_instance_problems(settings["instances"], settings["memory_mb"])


REDIS_RULES: tuple[Callable[[Mapping], list], ...] = (
    _rule_passwords_set, _rule_backlog_fits_somaxconn, _rule_replication_has_a_password,
    _rule_sentinels_have_passwords, _rule_sentinels_need_replicas, _rule_replication_without_tls, _rule_instances,
)

REDIS_SETTINGS = ("instances", "memory_mb", "somaxconn", "tcp_backlog", "replication_enabled", "sentinels",
                  "tls_instances", "app_password_set", "admin_password_set", "replication_password_set",
                  "sentinel_password_set", "sentinel_auth_password_set")


def redis_problems(settings) -> list:
    """Every broken cross-variable rule of the redis role, in REDIS_RULES' order, each naming the variable."""
    return _run_rules("redis_problems", settings, REDIS_SETTINGS, REDIS_RULES)


def _sentinel_count(settings: Mapping) -> int:
    """The Sentinels in all: the peers and this one."""
    return len(settings["peers"]) + 1


def _rule_sentinel_passwords_set(settings: Mapping) -> list:
    return [f"redis_sentinel_{name} is empty (set it from the vault)"
            for name, key in (("password", "password_set"), ("auth_password", "auth_password_set"))
            if not settings[key]]


def _rule_sentinel_watches_something(settings: Mapping) -> list:
    return [] if settings["masters"] else ["redis_sentinel_masters is empty: nothing to watch"]


def _rule_sentinel_majority(settings: Mapping) -> list:
    count = _sentinel_count(settings)
    if count < 3:
        return [f"redis_sentinel_peers: {count} Sentinel(s) in all; a failover needs at least 3 "
                "(a majority must survive the loss of one)"]
    return []


def _rule_sentinel_quorum(settings: Mapping) -> list:
    quorum, count = int(settings["quorum"]), _sentinel_count(settings)
    if not 1 <= quorum <= count:
        return [f"redis_sentinel_quorum ({quorum}) must be between 1 and the number of Sentinels ({count})"]
    return []


def _rule_sentinel_timeouts(settings: Mapping) -> list:
    if int(settings["failover_timeout_ms"]) <= int(settings["down_after_ms"]):
        return ["redis_sentinel_failover_timeout_ms must be larger than redis_sentinel_down_after_ms"]
    return []


SENTINEL_RULES: tuple[Callable[[Mapping], list], ...] = (
    _rule_sentinel_passwords_set, _rule_sentinel_watches_something, _rule_sentinel_majority,
    _rule_sentinel_quorum, _rule_sentinel_timeouts,
)

SENTINEL_SETTINGS_KEYS = ("masters", "peers", "quorum", "down_after_ms", "failover_timeout_ms", "password_set",
                          "auth_password_set")


def redis_sentinel_problems(settings) -> list:
    """Every broken cross-variable rule of the redis_sentinel role, in SENTINEL_RULES' order."""
    return _run_rules("redis_sentinel_problems", settings, SENTINEL_SETTINGS_KEYS, SENTINEL_RULES)


def _rule_exporter_password_set(settings: Mapping) -> list:
    if settings["password_set"]:
        return []
    return ["redis_exporter_password is empty (set it from the vault, as redis_monitoring_password)"]


def _rule_exporter_targets(settings: Mapping) -> list:
    targets = settings["targets"]
    if not targets:
        return ["redis_exporter_targets is empty"]
    return [f"redis_exporter_targets[{name}] is not redis[s]://host:port"
            for name, uri in targets.items() if not EXPORTER_TARGET.match(str(uri))]


EXPORTER_RULES: tuple[Callable[[Mapping], list], ...] = (_rule_exporter_password_set, _rule_exporter_targets)


def redis_exporter_problems(settings) -> list:
    """Every broken cross-variable rule of the redis_exporter role, in EXPORTER_RULES' order."""
    return _run_rules("redis_exporter_problems", settings, ("targets", "password_set"), EXPORTER_RULES)


def redis_sentinel_masters(instances, prefix, address) -> list:
    """What the Sentinels watch: one primary per instance, named prefix + instance name."""
    return [{"name": f"{prefix}{i['name']}", "host": address, "port": int(i["port"])} for i in instances or []]


def _address_and_port(lines) -> tuple[str, int] | None:
    """The reply of SENTINEL get-master-addr-by-name as redis-cli prints it: two lines, address then port."""
    words = [line.strip() for line in lines if line.strip()]
    if len(words) == 2 and words[1].isdigit() and " " not in words[0]:
        return words[0], int(words[1])
    return None


def redis_sentinel_primaries(masters, answers) -> list:
    """The masters to watch, each with the primary the running Sentinels report (the first that answers).

    answers: the results of a loop over (peer, master) pairs running SENTINEL get-master-addr-by-name
    through redis_cli_script (the first reply line is AUTH's);
    a master no peer knows keeps its inventory address.
    """
    known: dict[str, tuple[str, int]] = {}
    for answer in answers or []:
        if answer.get("skipped") or answer.get("rc", 1) != 0:
            continue
        _, master = answer["item"]
        found = _address_and_port(_replies(answer))
        if found and master["name"] not in known:
            known[master["name"]] = found
    result = []
    for master in masters or []:
        host, port = known.get(master["name"], (master["host"], int(master["port"])))
        result.append({**master, "host": host, "port": port})
    return result


SENTINEL_SETTINGS = ("quorum", "down-after-milliseconds", "failover-timeout", "parallel-syncs")


def redis_sentinel_changes(reply_lines, wanted) -> list:
    """SENTINEL SET arguments [key, value, ...] for the settings in wanted that the reply of
    SENTINEL MASTER (a flat list of key and value lines) shows with another value."""
    lines = [line.strip() for line in reply_lines or []]
    current = dict(zip(lines[0::2], lines[1::2], strict=False))
    changes: list[str] = []
    for key in SENTINEL_SETTINGS:
        if key in wanted and str(current.get(key)) != str(wanted[key]):
            changes += [key, str(wanted[key])]
    return changes


def _replies(result) -> list:
    """The reply lines of a redis-cli run fed by redis_cli_script, after AUTH's; none when AUTH failed."""
    lines = [line.strip() for line in (result.get("stdout_lines") or [])]
    return lines[1:] if lines[:1] == ["OK"] else []


def _settings_view(reply_lines, wanted, watched: bool) -> dict:
    """The settings of wanted as a SENTINEL MASTER reply shows them (strings), and whether it is watched."""
    lines = [line.strip() for line in reply_lines or []]
    current = dict(zip(lines[0::2], lines[1::2], strict=False))
    return {"watched": watched, **{key: current.get(key) for key in SENTINEL_SETTINGS if key in wanted}}


def redis_sentinel_plan(known_results, masters, wanted) -> list:
    """What to tell the Sentinel, per primary: [{name, monitor, set, current, wanted}], no secrets.

    known_results: a loop over masters running SENTINEL MASTER through redis_cli_script.
    monitor: [host, port] when the Sentinel does not watch it yet (added to the
    inventory after the bootstrap), else None; set: SENTINEL SET arguments for the
    settings that differ from wanted (all of them for a primary just added);
    current and wanted: the same settings side by side, for a diff (check mode shows drift).
    """
    replies = {r["item"]["name"]: _replies(r) for r in known_results or []}
    plan = []
    for master in masters or []:
        reply = replies.get(master["name"], [])
        unwatched = any("No such master" in line for line in reply)
        plan.append({
            "name": master["name"],
            "monitor": [master["host"], int(master["port"])] if unwatched else None,
            "set": redis_sentinel_changes([] if unwatched else reply, wanted),
            "current": _settings_view([] if unwatched else reply, wanted, not unwatched),
            "wanted": {"watched": True, **{key: str(wanted[key]) for key in SENTINEL_SETTINGS if key in wanted}},
        })
    return plan


def _redis_quote(word) -> str:
    """One argument as redis-cli parses it on a line: double-quoted, backslash escapes."""
    text = str(word)
    for char, escaped in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
        text = text.replace(char, escaped)
    return f'"{text}"'


def redis_cli_script(commands, password, user="") -> str:
    """The standard input for redis-cli: AUTH first, then one command a line.

    Secrets reach redis-cli this way instead of through -a (argv, seen in ps) or
    REDISCLI_AUTH (Ansible's environment: puts it on the command line that sudo
    logs). redis-cli answers one reply per line, AUTH's first ("OK").
    """
    auth = ["AUTH", user, password] if user else ["AUTH", password]
    return "".join(" ".join(_redis_quote(word) for word in line) + "\n" for line in [auth, *(commands or [])])


def redis_instances_to_restart(names, registered, unit_changed=False) -> list:
    """The instances to restart, in the order of names: every one when the unit drop-in they share
    changed, otherwise those a registered per-instance loop (configuration, replication password)
    changed. `registered` is a list of registered loop results; a skipped or absent one counts as none."""
    names = list(names)
    if unit_changed:
        return names
    changed = {result["item"]["name"]
               for loop in registered if isinstance(loop, dict)
               for result in loop.get("results", []) if result.get("changed")}
    return [name for name in names if name in changed]


# Settings Redis 7 changes at run time (CONFIG SET) that the role manages: they
# live in /etc/redis/live-NAME.conf, and a change reaches the running instance
# without a restart (which would empty a cache). maxclients is not among them:
# the unit's file limit follows it, so it changes with a restart.
LIVE_SETTINGS = ("maxmemory", "maxmemory-policy", "maxmemory-samples", "save", "appendonly", "appendfsync",
                 "timeout", "tcp-keepalive")


def redis_live_settings(instance, maxmemory_mb) -> dict:
    """An instance's run-time settings as CONFIG GET reports them (strings: maxmemory in bytes,
    save's pairs one space apart, yes/no); the same values go into its live-NAME.conf."""
    policy = instance.get("maxmemory_policy", "noeviction")
    settings = {
        "maxmemory": str(int(maxmemory_mb) * 1024 * 1024),
        "maxmemory-policy": policy,
        "save": " ".join(str(instance.get("save") or "").split()),
        "appendonly": "yes" if instance.get("appendonly") else "no",
        "appendfsync": str(instance.get("appendfsync", "everysec")),
        "timeout": "0",
        "tcp-keepalive": "300",
    }
    if policy != "noeviction":
        settings["maxmemory-samples"] = "10"
    return {key: settings[key] for key in LIVE_SETTINGS if key in settings}


def _config_get_reply(lines) -> dict:
    """CONFIG GET's reply as redis-cli prints it without a terminal: name and value lines in turn
    (an empty value is an empty line, possibly stripped at the end)."""
    return {lines[i]: (lines[i + 1] if i + 1 < len(lines) else "") for i in range(0, len(lines), 2)}


def redis_live_plan(read_results, instances, memory_mb) -> list:
    """Per instance read, its live settings against the wanted ones: [{name, port, current,
    wanted, set}], set being CONFIG SET's arguments [name, value, ...] for what differs.

    read_results: a loop over instances running CONFIG GET of LIVE_SETTINGS through
    redis_cli_script. An instance whose AUTH was refused (the admin password rotated in this
    run: the ACL handler restarts it, and it reads every setting from its files) is left out.
    """
    sizes = redis_maxmemory(instances, memory_mb)
    plan = []
    for result in read_results or []:
        instance = result.get("item") or {}
        if result.get("skipped") or result.get("rc", 1) != 0 or (result.get("stdout_lines") or [])[:1] != ["OK"]:
            continue
        wanted = redis_live_settings(instance, sizes[instance["name"]])
        live = _config_get_reply([line.rstrip("\r") for line in result["stdout_lines"][1:]])
        current = {key: " ".join(live.get(key, "").split()) if key == "save" else live.get(key) for key in wanted}
        plan.append({
            "name": instance["name"], "port": int(instance["port"]),
            "current": current, "wanted": wanted,
            "set": [word for key, value in wanted.items() if current[key] != value for word in (key, value)],
        })
    return plan


def redis_exporter_targets(instances, tls=False) -> dict:
    """What the Redis exporter on an instance's host reads: name -> URI on the loopback (rediss://
    for an instance serving TLS: its own `tls`, else the role-wide `tls`). The exporter's password
    file is keyed by these URIs, and Prometheus passes them as each scrape's target."""
    targets = {}
    for instance in instances or []:
        scheme = "rediss" if instance.get("tls", tls) else "redis"
        targets[str(instance["name"])] = f"{scheme}://127.0.0.1:{int(instance['port'])}"
    return targets


class FilterModule:
    """Redis filters."""

    def filters(self):
        return {
            "redis_maxmemory": redis_maxmemory,
            "redis_problems": redis_problems,
            "redis_sentinel_problems": redis_sentinel_problems,
            "redis_exporter_problems": redis_exporter_problems,
            "redis_sentinel_masters": redis_sentinel_masters,
            "redis_sentinel_primaries": redis_sentinel_primaries,
            "redis_sentinel_changes": redis_sentinel_changes,
            "redis_cli_script": redis_cli_script,
            "redis_sentinel_plan": redis_sentinel_plan,
            "redis_instances_to_restart": redis_instances_to_restart,
            "redis_live_settings": redis_live_settings,
            "redis_live_plan": redis_live_plan,
            "redis_exporter_targets": redis_exporter_targets,
        }
