"""Filters for the central logs (the hardening role's rsyslog concern).

Pure functions: no I/O. Unit tests: tests/unit/test_logs.py.

    {{ settings | syslog_elasticsearch_problems }}
        -> [message naming the variable], one per broken rule; empty when the input is usable

`settings` is the dictionary roles/hardening/vars/main.yml builds from the
hardening_syslog_elasticsearch_* variables (keys without that prefix; the
password only as set or not).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

try:
    from ansible.errors import AnsibleFilterError
except ImportError:  # pragma: no cover - only without ansible-core installed
    class AnsibleFilterError(Exception):
        """Stand-in when ansible-core is absent."""

DOCUMENTATION = r"""
name: syslog_elasticsearch_problems
short_description: Cross-variable rules of a log host's Elasticsearch output, one message per broken rule
description:
  - Checks that only a log host sends to Elasticsearch, that the servers are http(s) URLs with a host and at most a
    port, that a password travels only over https and comes with its user, and that the index name is one
    Elasticsearch accepts.
"""

PREFIX = "hardening_syslog_elasticsearch"
SERVER_RE = re.compile(r"^(?P<scheme>https?)://[A-Za-z0-9.-]+(:[0-9]{1,5})?/?$")
# Elasticsearch's index names: lowercase, not starting with -, _ or +, none of \ / * ? " < > | , # : or spaces.
INDEX_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,200}$")
# rsyslog's sizes, as the role's other queue size (hardening_syslog_queue_max_disk) is checked.
SIZE_RE = re.compile(r"^[0-9]+[kmgKMG]?$")


def _true(value) -> bool:
    return value is True or str(value).strip().lower() in ("true", "yes", "1")


def syslog_elasticsearch_problems(settings: Mapping) -> list:
    """Every broken rule of the Elasticsearch output's input, as messages that name the variable to fix."""
    if not isinstance(settings, Mapping):
        raise AnsibleFilterError("syslog_elasticsearch_problems: expected the settings as a dictionary")
    if not _true(settings["enabled"]):
        return []
    problems = []
    if not _true(settings["server_enabled"]):
        problems.append(f"{PREFIX}_enabled needs hardening_syslog_server_enabled: only a log host sends to "
                        "Elasticsearch (the other hosts forward to it)")
    servers = settings["servers"]
    if not isinstance(servers, list) or not servers:
        problems.append(f"{PREFIX}_servers is empty: list the cluster's nodes as https://name:port")
        servers = []
    schemes = []
    for server in servers:
        match = SERVER_RE.match(str(server))
        if not match:
            problems.append(f"{PREFIX}_servers: {server!r} is not http(s)://name[:port]")
        else:
            schemes.append(match["scheme"])
    if _true(settings["password_set"]) and "http" in schemes:
        problems.append(f"{PREFIX}_servers: the password would cross the network in clear to the http:// "
                        "servers; use https://")
    if _true(settings["password_set"]) != bool(str(settings["user"])):
        problems.append(f"{PREFIX}_user and {PREFIX}_password go together: set both (the password from the vault) "
                        "or neither")
    if not INDEX_RE.match(str(settings["index"])):
        problems.append(f"{PREFIX}_index {settings['index']!r}: lowercase letters, digits, '.', '_' and '-', "
                        "starting with a letter or digit")
    if str(settings["version"]) not in ("6", "7", "8", "9"):
        problems.append(f"{PREFIX}_version {settings['version']!r}: the cluster's major version, 6 to 9")
    if not SIZE_RE.match(str(settings["queue_max_disk"])):
        problems.append(f"{PREFIX}_queue_max_disk {settings['queue_max_disk']!r}: a size such as 512m or 1g")
    if not str(settings["ca_file"]).startswith("/"):
        problems.append(f"{PREFIX}_ca_file {settings['ca_file']!r}: an absolute path on the log host")
    return problems


class FilterModule:
    """Central log filters."""

    def filters(self):
        return {"syslog_elasticsearch_problems": syslog_elasticsearch_problems}
