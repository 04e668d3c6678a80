"""Filters for the seaweedfs role.

Pure functions: no I/O. Unit tests: tests/unit/test_seaweedfs.py.

    {{ settings | seaweedfs_problems }}
        -> [message naming the variable], one per broken rule; empty when the input is usable
    {{ seaweedfs_identities | seaweedfs_s3_identities }}
        -> the "identities" list of SeaweedFS's S3 configuration file
    {{ weed_shell_output | seaweedfs_bucket_names }}  -> [bucket] from `s3.bucket.list`

`settings` is the dictionary vars/main.yml builds from the role's seaweedfs_*
variables (keys without the prefix). No message ever holds a key.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: seaweedfs_problems
short_description: Cross-variable rules of the seaweedfs role, one message per broken rule
description:
  - Checks the S3 address, port, certificate names, volume sizing, bucket names and identities
    (keys present and distinct, buckets that exist), without ever echoing a key.
"""

# S3's rules for bucket names: 3-63 characters, lower-case letters, digits, dots and hyphens,
# starting and ending with a letter or digit.
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
DNS_NAME_RE = re.compile(rf"^(?=.{{1,253}}$){LABEL}(\.{LABEL})*$")
ACTIONS = ("Read", "Write", "List", "Tagging")


def _whole(value, low: int, high: int) -> bool:
    try:
        return low <= int(value) <= high and str(int(value)) == str(value).strip()
    except (TypeError, ValueError):
        return False


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _identity_problems(identities, buckets: list) -> list:
    if not isinstance(identities, list):
        return ["seaweedfs_identities must be a list of {name, access_key, secret_key, buckets}"]
    problems: list[str] = []
    names: set[str] = set()
    keys: set[str] = set()
    for index, identity in enumerate(identities):
        if not isinstance(identity, Mapping):
            problems.append(f"seaweedfs_identities[{index}] is not a dictionary")
            continue
        label = str(identity.get("name") or f"[{index}]")
        if not identity.get("name"):
            problems.append(f"seaweedfs_identities[{index}] has no name")
        elif label in names:
            problems.append(f"seaweedfs_identities: the name {label} is used twice")
        names.add(label)
        for field in ("access_key", "secret_key"):
            if not str(identity.get(field) or "").strip():
                problems.append(f"seaweedfs_identities {label}: {field} is empty (set it from the vault)")
        access = str(identity.get("access_key") or "")
        if access and access in keys:
            problems.append(f"seaweedfs_identities {label}: its access_key is already another identity's")
        keys.add(access)
        if len(str(identity.get("secret_key") or "")) in range(1, 16):
            problems.append(f"seaweedfs_identities {label}: secret_key is shorter than 16 characters")
        granted = identity.get("buckets")
        if not isinstance(granted, list) or not granted:
            problems.append(f"seaweedfs_identities {label}: buckets must list at least one bucket")
            continue
        unknown = [bucket for bucket in granted if bucket not in buckets]
        if unknown:
            problems.append(f"seaweedfs_identities {label}: {', '.join(map(str, unknown))} not in seaweedfs_buckets")
    return problems


def seaweedfs_problems(settings: Mapping) -> list:
    """Every broken rule of the role's input, as messages that name the variable to fix."""
    if not isinstance(settings, Mapping):
        raise AnsibleFilterError(f"seaweedfs_problems: expected a dictionary, got {type(settings).__name__}")
    problems: list[str] = []
    if not _is_ip(str(settings["s3_address"])):
        problems.append(f"seaweedfs_s3_address is not an IP address: {settings['s3_address']!r}")
    if not _whole(settings["s3_port"], 1, 65535):
        problems.append(f"seaweedfs_s3_port must be a port number, not {settings['s3_port']!r}")
    names = settings["s3_names"]
    if not isinstance(names, list) or not names:
        problems.append("seaweedfs_s3_names must list at least one DNS name (clients connect by name)")
    else:
        bad = [str(name) for name in names if _is_ip(str(name)) or not DNS_NAME_RE.match(str(name))]
        if bad:
            problems.append(f"seaweedfs_s3_names: {', '.join(bad)} not a DNS name "
                            "(pgBackRest ignores IP addresses in certificates)")
    if not _whole(settings["volume_size_limit_mb"], 8, 30000):
        problems.append("seaweedfs_volume_size_limit_mb must be a whole number from 8 to 30000, "
                        f"not {settings['volume_size_limit_mb']!r}")
    if not _whole(settings["volume_max"], 1, 100000):
        problems.append(f"seaweedfs_volume_max must be a whole number of at least 1, not {settings['volume_max']!r}")
    buckets = settings["buckets"]
    if not isinstance(buckets, list):
        problems.append("seaweedfs_buckets must be a list of bucket names")
        buckets = []
    bad = [str(bucket) for bucket in buckets if not BUCKET_RE.match(str(bucket)) or ".." in str(bucket)]
    if bad:
        problems.append(f"seaweedfs_buckets: {', '.join(bad)} not a valid S3 bucket name "
                        "(3-63 lower-case letters, digits, dots, hyphens)")
    problems += _identity_problems(settings["identities"], buckets)
    return problems


def seaweedfs_s3_identities(identities: list) -> list:
    """SeaweedFS's identities: each may read, write, list and tag its own buckets only."""
    if not isinstance(identities, list):
        raise AnsibleFilterError("seaweedfs_s3_identities: expected the list seaweedfs_identities")
    return [{"name": identity["name"],
             "credentials": [{"accessKey": identity["access_key"], "secretKey": identity["secret_key"]}],
             "actions": [f"{action}:{bucket}" for bucket in identity["buckets"] for action in ACTIONS]}
            for identity in identities]


def seaweedfs_bucket_names(output: str) -> list:
    """Bucket names from `weed shell`'s `s3.bucket.list` (one per line: name, then tab-separated sizes)."""
    if not isinstance(output, str):
        raise AnsibleFilterError("seaweedfs_bucket_names: expected the text `s3.bucket.list` printed")
    names = []
    for line in output.splitlines():
        fields = line.strip().split("\t")
        if len(fields) > 1 and fields[1].startswith("size:") and BUCKET_RE.match(fields[0]):
            names.append(fields[0])
    return names


class FilterModule:
    """seaweedfs filters."""

    def filters(self):
        return {
            "seaweedfs_problems": seaweedfs_problems,
            "seaweedfs_s3_identities": seaweedfs_s3_identities,
            "seaweedfs_bucket_names": seaweedfs_bucket_names,
        }
