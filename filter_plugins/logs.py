"""Filters for the central logs (the hardening role's rsyslog concern).

Pure functions: no I/O. Unit tests: tests/unit/test_logs.py.

    {{ settings | syslog_problems }}
        -> [message naming the variable], one per broken rule of the remote logging settings,
           the Elasticsearch output's among them; empty when the input is usable

The Elasticsearch output's settings are the dictionary roles/hardening/vars/main.yml
builds from the hardening_syslog_elasticsearch_* variables (keys without that
prefix; the password only as set or not); syslog_problems' settings hold it as
`elasticsearch` beside the other remote logging variables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: syslog_problems
short_description: Cross-variable rules of the hardening role's remote logging, one message per broken rule
description:
  - settings holds bad_ports (the ports of hardening_syslog_server_port and hardening_syslog_forward_targets that
    network.py's invalid_ports refuses), queue_max_disk, server_retention_days and elasticsearch (the settings of
    syslog_elasticsearch_problems: only a log host sends to Elasticsearch, the servers are http(s) URLs with a host
    and at most a port, a password travels only over https and comes with its user, the index name is one
    Elasticsearch accepts).
"""

PREFIX = "hardening_syslog_elasticsearch"
SERVER_RE = re.compile(r"^(?P<scheme>https?)://[A-Za-z0-9.-]+(:[0-9]{1,5})?/?$")
# Elasticsearch's index names: lowercase, not starting with -, _ or +, none of \ / * ? " < > | , # : or spaces.
INDEX_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,200}$")
# rsyslog's sizes (both queues: hardening_syslog_queue_max_disk and the Elasticsearch output's).
SIZE_RE = re.compile(r"^[0-9]+[kmgKMG]?$")


def _true(value) -> bool:
    return value is True or str(value).strip().lower() in ("true", "yes", "1")


def _rule_ports(settings: Mapping) -> list:
    bad = settings["bad_ports"]
    if bad:
        return [f"hardening_syslog_forward_targets / hardening_syslog_server_port: invalid ports {bad}"]
    return []


def _rule_queue_size(settings: Mapping) -> list:
    if SIZE_RE.match(str(settings["queue_max_disk"])):
        return []
    return [f"hardening_syslog_queue_max_disk must be a size such as 512m or 1g (got {settings['queue_max_disk']})"]


def _rule_retention(settings: Mapping) -> list:
    try:
        days = int(settings["server_retention_days"])
    except (TypeError, ValueError):
        days = 0
    if days >= 1:
        return []
    return [f"hardening_syslog_server_retention_days must be at least 1 (got {settings['server_retention_days']})"]


def _rule_elasticsearch(settings: Mapping) -> list:
    return syslog_elasticsearch_problems(settings["elasticsearch"])


SYSLOG_RULES = (_rule_ports, _rule_queue_size, _rule_retention, _rule_elasticsearch)
SYSLOG_SETTINGS = ("bad_ports", "queue_max_disk", "server_retention_days", "elasticsearch")


def syslog_problems(settings: Mapping) -> list:
    """Every broken rule of the remote logging settings, in SYSLOG_RULES' order, each naming the variable."""
    if not isinstance(settings, Mapping):
        raise AnsibleFilterError("syslog_problems: expected the settings as a dictionary")
    missing = [key for key in SYSLOG_SETTINGS if key not in settings]
    if missing:
        raise AnsibleFilterError(f"syslog_problems: settings lack {', '.join(missing)}")
    return [problem for rule in SYSLOG_RULES for problem in rule(settings)]


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
        return {"syslog_problems": syslog_problems}
