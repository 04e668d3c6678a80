"""Filters for the pgbackrest role.

Pure functions: no I/O. Unit tests: tests/unit/test_pgbackrest.py.

    {{ settings | pgbackrest_problems(inventory_hostname, ansible_play_hosts_all, addresses) }}
        -> [message naming the variable], one per broken rule; empty when the input is usable
    {{ info_json | pgbackrest_backups }}  -> [{'label', 'type', 'start', 'stop'}] of the stanza, oldest first

`settings` is the dictionary vars/main.yml builds from the role's pgbackrest_*
variables (keys without the prefix); `addresses` maps each host the role names
to its private address (empty when the inventory gives none).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping

try:
    from ansible.errors import AnsibleFilterError
except ImportError:  # pragma: no cover - only without ansible-core installed
    class AnsibleFilterError(Exception):
        """Stand-in when ansible-core is absent."""

DOCUMENTATION = r"""
name: pgbackrest_problems
short_description: Cross-variable rules of the pgbackrest role, one message per broken rule
description:
  - Checks the two sides (repository host and database hosts) are named, distinct, in the play and
    addressable, and that retention, parallelism and compression are values pgBackRest accepts.
"""

COMPRESS_TYPES = ("none", "gz", "bz2", "lz4", "zst")
STANZA_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def _require_mapping(name: str, value) -> Mapping:
    if not isinstance(value, Mapping):
        raise AnsibleFilterError(f"{name}: expected a dictionary, got {type(value).__name__}")
    return value


def _positive(settings: Mapping, key: str) -> str | None:
    try:
        if int(settings[key]) >= 1:
            return None
    except (TypeError, ValueError):
        pass
    return f"pgbackrest_{key} must be a whole number of at least 1, not {settings[key]!r}"


def pgbackrest_problems(settings: Mapping, host: str, play_hosts: Iterable, addresses: Mapping) -> list:
    """Every broken rule of the role's input, as messages that name the variable to fix."""
    settings = _require_mapping("pgbackrest_problems", settings)
    addresses = _require_mapping("pgbackrest_problems (addresses)", addresses)
    play_hosts = list(play_hosts)
    repository, databases = settings["repository_host"], list(settings["database_hosts"])
    problems = []
    if not repository:
        problems.append("pgbackrest_repository_host is empty: name the backup host (the repository)")
    if not databases:
        problems.append("pgbackrest_database_hosts is empty: name the PostgreSQL primary (then its standbys)")
    if repository and repository in databases:
        problems.append(f"pgbackrest_repository_host {repository} is also in pgbackrest_database_hosts: "
                        "the repository must be a separate host")
    if repository and databases and host != repository and host not in databases:
        problems.append(f"{host} is neither pgbackrest_repository_host nor in pgbackrest_database_hosts")
    absent = [name for name in [repository, *databases] if name and name not in play_hosts]
    if absent:
        problems.append(f"{', '.join(absent)} not in this play: the role sets up both sides together "
                        "(run it without --limit, or with every database host and the backup host)")
    unaddressed = [name for name in [repository, *databases] if name and not addresses.get(name)]
    if unaddressed:
        problems.append(f"{', '.join(unaddressed)} without private_ip: the two sides reach each other over SSH "
                        "at that address")
    if not STANZA_RE.match(str(settings["stanza"])):
        problems.append(f"pgbackrest_stanza {settings['stanza']!r}: use letters, digits, - and _ only")
    for key in ("retention_full", "retention_diff", "process_max"):
        problem = _positive(settings, key)
        if problem:
            problems.append(problem)
    if settings["compress_type"] not in COMPRESS_TYPES:
        problems.append(f"pgbackrest_compress_type {settings['compress_type']!r} is not one of "
                        f"{', '.join(COMPRESS_TYPES)}")
    return problems


def pgbackrest_backups(info) -> list:
    """The backups of the (single) stanza in `pgbackrest info --output=json`, oldest first."""
    data = json.loads(info) if isinstance(info, str) else info
    if not isinstance(data, list) or len(data) != 1 or not isinstance(data[0], Mapping):
        raise AnsibleFilterError("pgbackrest_backups: expected the JSON of `pgbackrest --stanza=NAME info`")
    return [{"label": backup["label"], "type": backup["type"],
             "start": backup["timestamp"]["start"], "stop": backup["timestamp"]["stop"]}
            for backup in data[0].get("backup", [])]


class FilterModule:
    """pgbackrest filters."""

    def filters(self):
        return {
            "pgbackrest_problems": pgbackrest_problems,
            "pgbackrest_backups": pgbackrest_backups,
        }
