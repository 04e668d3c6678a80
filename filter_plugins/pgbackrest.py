"""Filters for the pgbackrest role.

Pure functions: no I/O. Unit tests: tests/unit/test_pgbackrest.py.

    {{ settings | pgbackrest_problems(inventory_hostname, ansible_play_hosts_all, addresses) }}
        -> [message naming the variable], one per broken rule; empty when the input is usable
    {{ info_json | pgbackrest_backups }}  -> [{'label', 'type', 'repo', 'start', 'stop'}] of the stanza, oldest first
    {{ info_json | pgbackrest_repository_status }}  -> {repository number: status code} (1: no stanza there)
    {{ request | pgbackrest_restore_problems }}  -> [message naming the variable] (playbooks/db-restore.yml)
    {{ '2026-12-01T10:00:00+01:00' | pgbackrest_restore_target }}  -> '2026-12-01 09:00:00+00'

`settings` is the dictionary vars/main.yml builds from the role's pgbackrest_*
variables (keys without the prefix); `addresses` maps each host the role names
to its private address (empty when the inventory gives none).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: pgbackrest_problems
short_description: Cross-variable rules of the pgbackrest role, one message per broken rule
description:
  - Checks the two sides (repository host and database hosts) are named, distinct, in the play and
    addressable, and that retention, parallelism and compression are values pgBackRest accepts.
  - With the off-site (S3) repository on, checks its endpoint is a host name, its bucket, region, URI style,
    path, port and retention, and that credentials and an encryption passphrase are set (never their values).
"""

COMPRESS_TYPES = ("none", "gz", "bz2", "lz4", "zst")
STANZA_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


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
    if _true(settings.get("s3_enabled", False)):
        problems += _offsite_problems(settings)
    return problems


def _true(value) -> bool:
    return value is True or str(value).strip().lower() in ("true", "yes", "1")


def _offsite_problems(settings: Mapping) -> list:
    """Rules of the off-site (S3) repository; secrets are seen only as set or not."""
    problems = []
    endpoint = str(settings["s3_endpoint"])
    if not endpoint:
        problems.append("pgbackrest_s3_endpoint is empty: name the S3 endpoint's host")
    elif "://" in endpoint or "/" in endpoint or ":" in endpoint:
        problems.append(f"pgbackrest_s3_endpoint {endpoint!r}: give the host name only "
                        "(no scheme, path or port; the port is pgbackrest_s3_port)")
    elif _is_ip(endpoint):
        problems.append(f"pgbackrest_s3_endpoint {endpoint!r} is an IP address: pgBackRest checks the certificate "
                        "by host name and ignores IP addresses in it")
    if not BUCKET_RE.match(str(settings["s3_bucket"])):
        problems.append(f"pgbackrest_s3_bucket {settings['s3_bucket']!r} is not a valid S3 bucket name")
    if not str(settings["s3_region"]):
        problems.append("pgbackrest_s3_region is empty (S3-compatible stores accept any name, e.g. us-east-1)")
    if settings["s3_uri_style"] not in ("host", "path"):
        problems.append(f"pgbackrest_s3_uri_style {settings['s3_uri_style']!r} is not host or path")
    if not str(settings["s3_path"]).startswith("/"):
        problems.append(f"pgbackrest_s3_path {settings['s3_path']!r} must start with /")
    try:
        port_ok = 1 <= int(settings["s3_port"]) <= 65535
    except (TypeError, ValueError):
        port_ok = False
    if not port_ok:
        problems.append(f"pgbackrest_s3_port must be a port number, not {settings['s3_port']!r}")
    for key in ("s3_retention_full", "s3_retention_diff"):
        problem = _positive(settings, key)
        if problem:
            problems.append(problem)
    for key, meaning in (("s3_key", "the access key"), ("s3_key_secret", "the secret key")):
        if not _true(settings[f"{key}_set"]):
            problems.append(f"pgbackrest_{key} is empty: an S3 endpoint needs credentials ({meaning}, from the vault)")
    if not _true(settings["s3_cipher_passphrase_set"]):
        problems.append("pgbackrest_s3_cipher_passphrase is empty: the off-site repository must be encrypted "
                        "(set a passphrase in the vault)")
    return problems


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _stanza_info(name: str, info) -> Mapping:
    data = json.loads(info) if isinstance(info, str) else info
    if not isinstance(data, list) or len(data) != 1 or not isinstance(data[0], Mapping):
        raise AnsibleFilterError(f"{name}: expected the JSON of `pgbackrest --stanza=NAME info`")
    return data[0]


def pgbackrest_backups(info) -> list:
    """The backups of the (single) stanza in `pgbackrest info --output=json`, oldest first.

    `repo` is the repository holding the backup (1 when pgBackRest does not say: one repository).
    """
    stanza = _stanza_info("pgbackrest_backups", info)
    return [{"label": backup["label"], "type": backup["type"],
             "repo": int(backup.get("database", {}).get("repo-key", 1)),
             "start": backup["timestamp"]["start"], "stop": backup["timestamp"]["stop"]}
            for backup in stanza.get("backup", [])]


def pgbackrest_repository_status(info) -> dict:
    """Each repository's status code for the stanza (0 ok, 1 missing stanza path, 2 no valid backups, ...)."""
    stanza = _stanza_info("pgbackrest_repository_status", info)
    repos = stanza.get("repo")
    if not repos:
        return {1: int(stanza.get("status", {}).get("code", 99))}
    return {int(repo["key"]): int(repo.get("status", {}).get("code", 99)) for repo in repos}


def _parse_target(value) -> datetime:
    """A point in time with its offset: ISO 8601 (T or space, Z or +HH:MM); ValueError otherwise."""
    text = str(value).strip()
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return moment


def pgbackrest_restore_target(value) -> str:
    """The restore target in UTC as pgBackRest's --target takes it: 'YYYY-MM-DD HH:MM:SS[.ffffff]+00'."""
    try:
        moment = _parse_target(value).astimezone(UTC)
    except ValueError as exc:
        raise AnsibleFilterError(f"pgbackrest_restore_target: {exc}") from exc
    return moment.strftime("%Y-%m-%d %H:%M:%S" + (".%f" if moment.microsecond else "")) + "+00"


def pgbackrest_restore_problems(request: Mapping, now: float | None = None) -> list:
    """Rules of a restore of the primary (playbooks/db-restore.yml), checked before anything changes.

    `request`: host (the host to rebuild), confirm (what the operator typed), primaries (the
    db_primary group), target_time ('' for the end of the archive), repo, s3_enabled.
    `now`: the current time as a Unix timestamp (default: the controller's clock).
    """
    request = _require_mapping("pgbackrest_restore_problems", request)
    host, primaries = str(request["host"]), list(request["primaries"])
    problems = []
    if len(primaries) != 1:
        problems.append(f"the db_primary group needs exactly one host; it has {', '.join(primaries) or 'none'}")
    elif host != primaries[0]:
        problems.append(f"db_restore_host {host} is not the primary ({primaries[0]}): a restore rebuilds the "
                        "primary; a replica is rebuilt from the primary with playbooks/db-rejoin.yml")
    if str(request["confirm"]) != host:
        problems.append(f"db_restore_confirm must name the host whose database the backup replaces "
                        f"(-e db_restore_confirm={host}); nothing on {host} was changed")
    target = str(request["target_time"] or "")
    if target:
        try:
            moment = _parse_target(target)
        except ValueError:
            problems.append(f"db_restore_target_time {target!r} is not a point in time with its time zone "
                            "(e.g. '2026-12-01 10:00:00+00:00' or '2026-12-01T10:00:00Z')")
        else:
            current = datetime.now(UTC).timestamp() if now is None else float(now)
            if moment.timestamp() > current:
                problems.append(f"db_restore_target_time {target} is in the future (now "
                                f"{datetime.fromtimestamp(current, UTC):%Y-%m-%d %H:%M:%S}+00): "
                                "no backup or WAL holds it")
    repo = str(request["repo"])
    if repo not in ("1", "2"):
        problems.append(f"db_restore_repo must be 1 (the backup host) or 2 (off-site), not {repo!r}")
    elif repo == "2" and not _true(request["s3_enabled"]):
        problems.append("db_restore_repo 2 (off-site) needs pgbackrest_s3_enabled: this inventory has no "
                        "off-site repository")
    return problems


class FilterModule:
    """pgbackrest filters."""

    def filters(self):
        return {
            "pgbackrest_problems": pgbackrest_problems,
            "pgbackrest_backups": pgbackrest_backups,
            "pgbackrest_repository_status": pgbackrest_repository_status,
            "pgbackrest_restore_problems": pgbackrest_restore_problems,
            "pgbackrest_restore_target": pgbackrest_restore_target,
        }
