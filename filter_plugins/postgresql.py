"""Filters for PostgreSQL settings. Pure functions; tests: tests/unit/test_postgresql.py."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import math
import os
import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: postgresql_problems
short_description: The postgresql role's cross-variable rules - one message per problem, naming the variable
description:
  - settings holds the role's variables without the postgresql_ prefix (databases, users, readonly_users,
    hba_entries, ssl_enabled, replication_role, replicas, primary_host, settings, pooled_connections), plus
    replication_password_set (never the password) and memory_settings (the settings that take a memory unit).
---
name: pgbouncer_problems
short_description: The pgbouncer role's cross-variable rules - one message per broken rule, naming the variable
description:
  - settings holds the role's variables without the pgbouncer_ prefix (databases, users, default_pool_size,
    reserve_pool_size).
---
name: pg_app_logins
short_description: The app's two alternating login roles as postgresql_users entries (password rotation)
description:
  - The app logs in as one of two roles, the database owner itself or its twin OWNER_2, which acts as the owner
    (member of it, SET ROLE to it at login, so whatever it creates the owner owns). A rotation moves the app to the
    other one with a new password while the previous login still works; the one in use neither now nor previously
    cannot log in (NOLOGIN, no password).
positional: login, password
options:
  previous: {description: "the login being rotated away from, {login, password}; empty outside a rotation", default: {}}
---
name: pg_slot_name
short_description: A replica's replication slot name (its inventory name, lower case, [a-z0-9_] only)
---
name: pg_tune
short_description: PostgreSQL memory, WAL, planner and parallelism settings for a host and workload
description:
  - Applies the formulas of pgtune (https://github.com/le0pard/pgtune,
    src/features/configuration/configurationSlice.js) to the memory left for PostgreSQL
    (host memory minus memory reserved for other services) and the host's CPUs.
  - max_connections comes from the connections argument (the role derives it from the
    pgbouncer pool sizes), or pgtune's default for the profile.
  - Values are strings in PostgreSQL's units (kB, MB, GB). Keys of overrides win.
positional: memory_mb, cpus
options:
  profile: {description: "web, oltp or mixed", default: web}
  storage: {description: "ssd, nvme, san or hdd", default: ssd}
  reserved_mb: {description: memory kept for other services on the host, default: 0}
  connections: {description: max_connections (0 or None - the profile's default), default: null}
  version: {description: PostgreSQL major version, default: 15}
  overrides: {description: explicit settings that replace computed ones, default: {}}
"""

EXAMPLES = r"""
postgresql_pooled_connections: "{{ groups['pgbouncer'] | pgbouncer_server_connections(hostvars) }}"
postgresql_users: "{{ 'portfolio' | pg_app_logins(app_db_login, vault_postgresql_app_password, app_db_previous) }}"
postgresql_tuned: "{{ ansible_memtotal_mb | pg_tune(ansible_processor_vcpus, profile='web', reserved_mb=512) }}"
"""

KB_PER_MB = 1024
KB_PER_GB = 1024 * 1024
PROFILES = {
    # profile: (default max_connections, min_wal_size MB, max_wal_size MB, work_mem divisor)
    "web": (200, 1024, 4096, 1),
    "oltp": (300, 2048, 8192, 1),
    "mixed": (100, 1024, 4096, 2),
}
STORAGE = {  # storage: (random_page_cost, effective_io_concurrency)
    "hdd": ("4", 2),
    "ssd": ("1.1", 200),
    "san": ("1.1", 300),
    "nvme": ("1.1", 1000),
}
DEFAULT_MAX_WORKER_PROCESSES = 8
MIN_MEMORY_MB = 256


def pg_size(kb: int) -> str:
    """A kB amount in the largest whole PostgreSQL unit: 1048576 -> '1GB', 5041 -> '5041kB'."""
    if kb % KB_PER_GB == 0:
        return f"{kb // KB_PER_GB}GB"
    if kb % KB_PER_MB == 0:
        return f"{kb // KB_PER_MB}MB"
    return f"{kb}kB"


def _integer(name: str, value, minimum: int = 0) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise AnsibleFilterError(f"pg_tune: {name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise AnsibleFilterError(f"pg_tune: {name} must be at least {minimum}, got {number}")
    return number


def pg_tune(memory_mb, cpus, profile="web", storage="ssd", reserved_mb=0, connections=None,
            version=15, overrides=None) -> dict:
    """Computed postgresql.conf settings (name -> value string)."""
    if profile not in PROFILES:
        raise AnsibleFilterError(f"pg_tune: profile must be one of {', '.join(PROFILES)}, got {profile!r}")
    if storage not in STORAGE:
        raise AnsibleFilterError(f"pg_tune: storage must be one of {', '.join(STORAGE)}, got {storage!r}")
    memory_mb = _integer("memory_mb", memory_mb, 1)
    reserved_mb = _integer("reserved_mb", reserved_mb)
    cpus = _integer("cpus", cpus, 1)
    version = _integer("version", version, 10)
    available_mb = memory_mb - reserved_mb
    if available_mb < MIN_MEMORY_MB:
        raise AnsibleFilterError(
            f"pg_tune: {memory_mb} MB of memory minus {reserved_mb} MB reserved for other services leaves "
            f"{available_mb} MB, below the {MIN_MEMORY_MB} MB PostgreSQL needs")
    default_connections, min_wal_mb, max_wal_mb, work_mem_divisor = PROFILES[profile]
    max_connections = _integer("connections", connections, 1) if connections else default_connections

    total_kb = available_mb * KB_PER_MB
    shared_buffers = total_kb // 4
    effective_cache_size = total_kb * 3 // 4
    maintenance_work_mem = min(total_kb // 16, 8 * KB_PER_GB)

    # wal_buffers: 3% of shared_buffers, at most 16MB, rounded up to 16MB above 14MB, at least 32kB.
    wal_buffers = min(3 * shared_buffers // 100, 16 * KB_PER_MB)
    if 14 * KB_PER_MB < wal_buffers < 16 * KB_PER_MB:
        wal_buffers = 16 * KB_PER_MB
    wal_buffers = max(wal_buffers, 32)

    parallel: dict[str, int] = {}
    if cpus >= 4:
        per_gather = min(math.ceil(cpus / 2), 4)
        parallel = {
            "max_worker_processes": cpus,
            "max_parallel_workers_per_gather": per_gather,
            "max_parallel_workers": cpus,
            "max_parallel_maintenance_workers": per_gather,
        }
    worker_processes = parallel.get("max_worker_processes", DEFAULT_MAX_WORKER_PROCESSES)

    # work_mem: (RAM - shared_buffers) / ((max_connections + max_worker_processes) * 3), at least 4MB.
    work_mem = math.floor((total_kb - shared_buffers) / ((max_connections + worker_processes) * 3) / work_mem_divisor)
    work_mem = max(work_mem, 4 * KB_PER_MB)

    random_page_cost, effective_io_concurrency = STORAGE[storage]
    settings = {
        "max_connections": str(max_connections),
        "shared_buffers": pg_size(shared_buffers),
        "effective_cache_size": pg_size(effective_cache_size),
        "maintenance_work_mem": pg_size(maintenance_work_mem),
        "checkpoint_completion_target": "0.9",
        "wal_buffers": pg_size(wal_buffers),
        "default_statistics_target": "100",
        "random_page_cost": random_page_cost,
        "effective_io_concurrency": str(effective_io_concurrency),
        "work_mem": pg_size(work_mem),
        "huge_pages": "try" if shared_buffers >= 2 * KB_PER_GB else "off",
        "min_wal_size": pg_size(min_wal_mb * KB_PER_MB),
        "max_wal_size": pg_size(max_wal_mb * KB_PER_MB),
        "jit": "off",
        "wal_compression": "lz4" if version >= 15 else "on",
    }
    if maintenance_work_mem >= 2 * KB_PER_GB:
        settings["autovacuum_work_mem"] = pg_size(2 * KB_PER_GB)
    settings.update({key: str(value) for key, value in parallel.items()})
    if overrides:
        if not isinstance(overrides, dict):
            raise AnsibleFilterError(f"pg_tune: overrides must be a mapping, got {type(overrides).__name__}")
        settings.update({key: str(value) for key, value in overrides.items()})
    return settings


SCRAM_RE = re.compile(r"^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$")


def _scram(password: str, salt: bytes, iterations: int) -> str:
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    stored_key = hashlib.sha256(hmac.new(salted, b"Client Key", hashlib.sha256).digest()).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = base64.b64encode
    return f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}${b64(stored_key).decode()}:{b64(server_key).decode()}"


def pg_scram_verifier(password, existing="", iterations=4096) -> str:
    """PostgreSQL's SCRAM-SHA-256 verifier for password (RFC 5802/7677, as PostgreSQL stores it).

    An existing verifier that matches the password is returned unchanged (so files stay the
    same between runs); otherwise a new one is made with a random 16-byte salt.
    """
    if not isinstance(password, str) or not password:
        raise AnsibleFilterError("pg_scram_verifier: the password must be a non-empty string")
    match = SCRAM_RE.match(existing or "")
    if match:
        salt = base64.b64decode(match.group(2))
        if hmac.compare_digest(_scram(password, salt, int(match.group(1))), existing):
            return existing
    return _scram(password, os.urandom(16), int(iterations))


def pgbouncer_server_connections(hosts, hostvars, default_pool_size=20, reserve_pool_size=5) -> int:
    """Most server connections the pgbouncer hosts can open: pools are per (database, user) pair,
    each pool_size plus the reserve pool. Sizes a server's max_connections. The users counted are a host's
    pgbouncer_sizing_users when set (every login that may ever be pooled: the app's two alternating logins, both
    pooled during a password rotation, so that a rotation changes no server setting), else its pgbouncer_users."""
    total = 0
    for host in hosts or []:
        variables = hostvars[host]
        users = len(variables.get("pgbouncer_sizing_users") or variables.get("pgbouncer_users", []) or [])
        default = int(variables.get("pgbouncer_default_pool_size", default_pool_size))
        reserve = int(variables.get("pgbouncer_reserve_pool_size", reserve_pool_size))
        for database in variables.get("pgbouncer_databases", []) or []:
            total += users * (int(database.get("pool_size", default)) + reserve)
    return total


def pg_slot_name(host: str) -> str:
    """The replication slot (and application_name) of a replica: its inventory name, lower case,
    anything but letters, digits and _ as _ (what PostgreSQL accepts in a slot's name)."""
    if not isinstance(host, str) or not host:
        raise AnsibleFilterError(f"pg_slot_name: expected a host name, got {host!r}")
    return re.sub(r"[^A-Za-z0-9_]", "_", host).lower()


# --- The role's cross-variable rules (tasks/preflight.yml), one function each. `settings` holds the
# postgresql_* variables without their prefix (replication_password_set instead of the password).

def _missing_owners(s: Mapping) -> list[str]:
    users = {u.get("name") for u in s["users"]}
    missing = [d.get("owner") for d in s["databases"] if d.get("owner") not in users]
    return [f"postgresql_databases: owner not in postgresql_users: {', '.join(map(str, missing))}"] if missing else []


def _logins_without_password(s: Mapping) -> list[str]:
    # Only a role that cannot log in (NOLOGIN: an owner, or the app's idle login) may go without a password.
    bare = [str(u.get("name")) for u in s["users"]
            if not u.get("password") and "NOLOGIN" not in str(u.get("role_attr_flags", "")).upper().split(",")]
    return [f"postgresql_users: a login without a password (give one, or NOLOGIN): {', '.join(bare)}"] if bare else []


def _missing_readonly_databases(s: Mapping) -> list[str]:
    databases = {d.get("name") for d in s["databases"]}
    missing = [n for u in s["readonly_users"] for n in u.get("databases", []) if n not in databases]
    return ([f"postgresql_readonly_users: database not in postgresql_databases: {', '.join(map(str, missing))}"]
            if missing else [])


def _bad_hba_addresses(s: Mapping) -> list[str]:
    bad = []
    for entry in s["hba_entries"]:
        try:
            ipaddress.ip_network(str(entry.get("address")), strict=False)
        except ValueError:
            bad.append(str(entry.get("address")))
    return [f"postgresql_hba_entries: invalid address (CIDR): {', '.join(bad)}"] if bad else []


def _hba_without_ssl(s: Mapping) -> list[str]:
    return (["postgresql_hba_entries are hostssl entries: they need postgresql_ssl_enabled"]
            if s["hba_entries"] and not s["ssl_enabled"] else [])


def _replica_without_ssl(s: Mapping) -> list[str]:
    return (["a replica verifies its primary against the internal CA certificate: it needs postgresql_ssl_enabled"]
            if s["replication_role"] == "replica" and not s["ssl_enabled"] else [])


def _replication_without_password(s: Mapping) -> list[str]:
    replicating = bool(s["replicas"]) or s["replication_role"] == "replica"
    return (["postgresql_replication_password is empty: replicas need it (from the vault)"]
            if replicating and not s["replication_password_set"] else [])


def _replica_without_primary(s: Mapping) -> list[str]:
    return (["postgresql_primary_host is empty: a replica needs the address of its primary"]
            if s["replication_role"] == "replica" and not str(s["primary_host"] or "") else [])


_MEMORY_VALUE = re.compile(r"^[0-9]+(kB|MB|GB|TB)?$")


def _bad_memory_settings(s: Mapping) -> list[str]:
    bad = [k for k, v in s["settings"].items() if k in s["memory_settings"] and not _MEMORY_VALUE.match(str(v))]
    return ([f"postgresql_settings: memory value without a valid unit (kB, MB, GB, TB): {', '.join(bad)}"]
            if bad else [])


def _pools_too_big(s: Mapping) -> list[str]:
    if "max_connections" not in s["settings"]:
        return []
    reserved = int(s["settings"].get("superuser_reserved_connections", 3))
    limit = int(s["settings"]["max_connections"])
    pooled = int(s["pooled_connections"])
    return ([f"postgresql_pooled_connections ({pooled}) exceeds postgresql_settings.max_connections ({limit}) "
             f"minus {reserved} superuser-reserved connections"] if pooled > limit - reserved else [])


POSTGRESQL_RULES = (_missing_owners, _logins_without_password, _missing_readonly_databases, _bad_hba_addresses,
                    _hba_without_ssl, _replica_without_ssl, _replication_without_password, _replica_without_primary,
                    _bad_memory_settings, _pools_too_big)
POSTGRESQL_SETTINGS = ("databases", "users", "readonly_users", "hba_entries", "ssl_enabled", "replication_role",
                       "replicas", "replication_password_set", "primary_host", "settings", "memory_settings",
                       "pooled_connections")


def _run_rules(name: str, settings, keys: tuple, rules: tuple) -> list[str]:
    """The messages of every broken rule, in the rules' order, after checking the settings' shape."""
    if not isinstance(settings, Mapping):
        raise AnsibleFilterError(f"{name}: expected a mapping, got {settings!r}")
    missing = [k for k in keys if k not in settings]
    if missing:
        raise AnsibleFilterError(f"{name}: settings lack {', '.join(missing)}")
    return [problem for rule in rules for problem in rule(settings)]


def postgresql_problems(settings: Mapping) -> list[str]:
    """What is wrong across the postgresql role's variables, one message per problem, each naming its variable."""
    return _run_rules("postgresql_problems", settings, POSTGRESQL_SETTINGS, POSTGRESQL_RULES)


LOGIN_FLAGS = "LOGIN,NOSUPERUSER,NOCREATEDB,NOCREATEROLE"
NOLOGIN_FLAGS = "NOLOGIN,NOSUPERUSER,NOCREATEDB,NOCREATEROLE"


def _pooled_databases_have_users(s: Mapping) -> list[str]:
    if s["databases"] and not s["users"]:
        return ["pgbouncer_databases is set but pgbouncer_users is empty: nobody could log in"]
    return []


def _reserve_within_pool(s: Mapping) -> list[str]:
    if int(s["reserve_pool_size"]) > int(s["default_pool_size"]):
        return ["pgbouncer_reserve_pool_size is larger than pgbouncer_default_pool_size"]
    return []


PGBOUNCER_RULES = (_pooled_databases_have_users, _reserve_within_pool)
PGBOUNCER_SETTINGS = ("databases", "users", "default_pool_size", "reserve_pool_size")


def pgbouncer_problems(settings: Mapping) -> list[str]:
    """What is wrong across the pgbouncer role's variables, one message per problem, each naming its variable."""
    return _run_rules("pgbouncer_problems", settings, PGBOUNCER_SETTINGS, PGBOUNCER_RULES)


def pg_app_logins(owner, login, password, previous=None) -> list[dict]:
    """postgresql_users entries for the app's two alternating logins: `owner` and its twin `owner`_2 (member of
    the owner, SET ROLE to it at login). `login` logs in with `password`; `previous` ({login, password}, during a
    rotation) logs in too; the other one cannot log in (NOLOGIN, password removed)."""
    owner = str(owner or "")
    if not owner:
        raise AnsibleFilterError("pg_app_logins: the owner role's name is empty")
    names = [owner, f"{owner}_2"]
    if login not in names:
        raise AnsibleFilterError(f"pg_app_logins: the app's login must be {' or '.join(names)} (got {login!r})")
    if not password:
        raise AnsibleFilterError(f"pg_app_logins: the password of {login} is empty")
    previous = previous or {}
    if not isinstance(previous, Mapping):
        raise AnsibleFilterError("pg_app_logins: previous must be a mapping {login, password} or empty")
    if previous:
        if previous.get("login") not in names or previous.get("login") == login:
            raise AnsibleFilterError(f"pg_app_logins: the previous login must be the other one of {' and '.join(names)}"
                                     f" than {login} (got {previous.get('login')!r})")
        if not previous.get("password"):
            raise AnsibleFilterError(f"pg_app_logins: the previous password (of {previous['login']}) is empty")
        if previous["password"] == password:
            raise AnsibleFilterError("pg_app_logins: the new password is the previous one")
    passwords = {login: password, **({previous["login"]: previous["password"]} if previous else {})}
    entries = []
    for name in names:
        twin = name != owner
        entries.append({
            "name": name,
            "password": passwords.get(name, ""),
            "role_attr_flags": LOGIN_FLAGS if name in passwords else NOLOGIN_FLAGS,
            "member_of": [owner] if twin else [],
            "configuration": {"role": owner} if twin else {},
        })
    return entries


def pg_peers(hosts, hostvars, exclude="", address_var="private_ip") -> list:
    """The database hosts other than `exclude` as postgresql_replicas entries ({name, address})."""
    return [{"name": host, "address": hostvars[host][address_var]} for host in hosts or [] if host != exclude]


def pgbouncer_hba_entries(hosts, hostvars, exclude="", address_var="private_ip") -> list:
    """postgresql_hba_entries letting each pgbouncer host (other than `exclude`, which uses the
    loopback) reach its databases as its users."""
    entries = []
    for host in hosts or []:
        if host == exclude:
            continue
        variables = hostvars[host]
        for user in variables.get("pgbouncer_users", []) or []:
            for database in variables.get("pgbouncer_databases", []) or []:
                entries.append({"database": database.get("dbname", database["name"]), "user": user,
                                "address": variables[address_var], "comment": f"pgbouncer on {host}"})
    return entries


class FilterModule:
    """PostgreSQL filters."""

    def filters(self):
        return {"pg_tune": pg_tune, "pg_scram_verifier": pg_scram_verifier, "pg_slot_name": pg_slot_name,
                "postgresql_problems": postgresql_problems,
                "pgbouncer_problems": pgbouncer_problems,
                "pgbouncer_server_connections": pgbouncer_server_connections,
                "pg_peers": pg_peers, "pgbouncer_hba_entries": pgbouncer_hba_entries,
                "pg_app_logins": pg_app_logins}
