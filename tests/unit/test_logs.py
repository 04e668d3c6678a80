"""Unit tests for filter_plugins/logs.py."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from logs import syslog_elasticsearch_problems, syslog_problems

GOOD = {"enabled": True, "server_enabled": True, "servers": ["https://es1.example.internal:9200", "https://es2"],
        "index": "paas-logs", "user": "rsyslog", "password_set": True, "version": 8,
        "queue_max_disk": "1g", "ca_file": "/etc/ssl/certs/ca-certificates.crt"}


def problems(**changes):
    return syslog_elasticsearch_problems({**GOOD, **changes})


def test_usable_input_has_no_problems():
    assert problems() == []
    assert problems(servers=["http://10.0.0.5:9200"], user="", password_set=False) == []


def test_nothing_is_checked_while_it_is_off():
    assert problems(enabled=False, servers=[], server_enabled=False, index="Bad Index") == []


@pytest.mark.parametrize(("changes", "named"), [
    ({"server_enabled": False}, "hardening_syslog_server_enabled"),
    ({"servers": []}, "_servers is empty"),
    ({"servers": "https://es1:9200"}, "_servers is empty"),
    ({"servers": ["es1:9200"]}, "'es1:9200' is not http(s)"),
    ({"servers": ["https://es1:9200/path"]}, "is not http(s)"),
    ({"servers": ["http://es1:9200"]}, "in clear"),
    ({"user": ""}, "go together"),
    ({"password_set": False}, "go together"),
    ({"index": "Paas-Logs"}, "_index 'Paas-Logs'"),
    ({"index": "_paas"}, "_index '_paas'"),
    ({"index": "paas logs"}, "_index 'paas logs'"),
    ({"version": 5}, "_version 5"),
    ({"queue_max_disk": "lots"}, "_queue_max_disk 'lots'"),
    ({"ca_file": "ca.crt"}, "_ca_file 'ca.crt'"),
])
def test_each_broken_rule_names_its_variable(changes, named):
    found = problems(**changes)
    assert len(found) == 1, found
    assert named in found[0]


def test_settings_that_are_not_a_dictionary_are_refused():
    with pytest.raises(AnsibleFilterError, match="as a dictionary"):
        syslog_elasticsearch_problems(["https://es1"])


SYSLOG_OK = {"bad_ports": [], "queue_max_disk": "512m", "server_retention_days": 90,
             "elasticsearch": {**GOOD, "enabled": False}}


@pytest.mark.parametrize(("changes", "message"), [
    ({}, None),
    ({"bad_ports": [70000]}, "hardening_syslog_forward_targets / hardening_syslog_server_port: invalid ports [70000]"),
    ({"queue_max_disk": "1 GB"}, "hardening_syslog_queue_max_disk must be a size such as 512m or 1g (got 1 GB)"),
    ({"server_retention_days": 0}, "hardening_syslog_server_retention_days must be at least 1 (got 0)"),
    ({"server_retention_days": "a week"}, "hardening_syslog_server_retention_days must be at least 1 (got a week)"),
    ({"elasticsearch": {**GOOD, "index": "Logs"}},
     "hardening_syslog_elasticsearch_index 'Logs': lowercase letters, digits, '.', '_' and '-', "
     "starting with a letter or digit"),
])
def test_each_remote_logging_rule_is_broken_alone_with_its_message(changes, message):
    assert syslog_problems({**SYSLOG_OK, **changes}) == ([message] if message else [])


def test_remote_logging_settings_lacking_a_key_are_an_error_naming_the_filter():
    with pytest.raises(AnsibleFilterError, match="syslog_problems: settings lack elasticsearch"):
        syslog_problems({key: value for key, value in SYSLOG_OK.items() if key != "elasticsearch"})
