"""Filters for the restic role.

Pure functions: no I/O. Unit tests: tests/unit/test_restic.py.

    {{ settings | restic_problems(inventory_hostname, ansible_play_hosts_all, addresses) }}
        -> [message naming the variable], one per broken rule; empty when the input is usable

`settings` is the dictionary vars/main.yml builds from the role's restic_*
variables (keys without the prefix; secrets only as set or not); `addresses`
maps each host the role names to its private address.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: restic_problems
short_description: Cross-variable rules of the restic role, one message per broken rule
description:
  - Checks the backup host and the clients are named, distinct, in the play and addressable, that the paths are
    absolute, the retention counts and the check's data subset usable, a password set, and, with the off-site
    repository on, its endpoint, bucket and credentials.
"""

BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
ENDPOINT_RE = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$")
SUBSET_RE = re.compile(r"^([1-9][0-9]?(\.[0-9]+)?%|100%|[0-9]+/[0-9]+)$")


def _true(value) -> bool:
    return value is True or str(value).strip().lower() in ("true", "yes", "1")


def _whole(value, low: int) -> bool:
    try:
        return int(value) >= low and str(int(value)) == str(value).strip()
    except (TypeError, ValueError):
        return False


def _topology_problems(settings: Mapping, host: str, play_hosts: list, addresses: Mapping) -> list:
    repository, clients = settings["repository_host"], list(settings["client_hosts"])
    problems = []
    if not repository:
        problems.append("restic_repository_host is empty: name the backup host")
    if not clients:
        problems.append("restic_client_hosts is empty: name the hosts whose files are backed up")
    if repository and repository in clients:
        problems.append(f"restic_repository_host {repository} is also in restic_client_hosts: "
                        "backups must leave the host they protect")
    if repository and clients and host != repository and host not in clients:
        problems.append(f"{host} is neither restic_repository_host nor in restic_client_hosts")
    absent = [name for name in [repository, *clients] if name and name not in play_hosts]
    if absent:
        problems.append(f"{', '.join(absent)} not in this play: the role sets up both sides together "
                        "(run it without --limit, or with every client and the backup host)")
    unaddressed = [name for name in [repository, *clients] if name and not addresses.get(name)]
    if unaddressed:
        problems.append(f"{', '.join(unaddressed)} without private_ip: the clients reach the backup host over SSH "
                        "at that address")
    return problems


def restic_problems(settings: Mapping, host: str, play_hosts: Iterable, addresses: Mapping) -> list:
    """Every broken rule of the role's input, as messages that name the variable to fix."""
    if not isinstance(settings, Mapping) or not isinstance(addresses, Mapping):
        raise AnsibleFilterError("restic_problems: expected the settings and the addresses as dictionaries")
    problems = _topology_problems(settings, host, list(play_hosts), addresses)
    paths = settings["paths"]
    if not isinstance(paths, list) or not paths:
        problems.append("restic_paths must list at least one directory to back up")
    else:
        relative = [str(path) for path in paths if not str(path).startswith("/")]
        if relative:
            problems.append(f"restic_paths: {', '.join(relative)} not an absolute path")
    if not _true(settings["password_set"]):
        problems.append("restic_password is empty: set the repositories' password in the vault")
    for key in ("keep_daily", "keep_weekly", "keep_monthly"):
        if not _whole(settings[key], 1):
            problems.append(f"restic_{key} must be a whole number of at least 1, not {settings[key]!r}")
    if not SUBSET_RE.match(str(settings["check_read_data_subset"])):
        problems.append(f"restic_check_read_data_subset {settings['check_read_data_subset']!r}: "
                        "give a percentage (10%) or n/t (1/5)")
    if _true(settings["s3_enabled"]):
        endpoint = str(settings["s3_endpoint"])
        if not endpoint or not ENDPOINT_RE.match(endpoint):
            problems.append(f"restic_s3_endpoint {endpoint!r}: give host[:port] (no scheme or path)")
        if not BUCKET_RE.match(str(settings["s3_bucket"])):
            problems.append(f"restic_s3_bucket {settings['s3_bucket']!r} is not a valid S3 bucket name")
        for key, meaning in (("s3_key", "the access key"), ("s3_key_secret", "the secret key")):
            if not _true(settings[f"{key}_set"]):
                problems.append(f"restic_{key} is empty: an S3 endpoint needs credentials ({meaning}, from the vault)")
    return problems


class FilterModule:
    """restic filters."""

    def filters(self):
        return {"restic_problems": restic_problems}
