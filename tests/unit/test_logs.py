"""Unit tests for filter_plugins/logs.py."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from logs import syslog_elasticsearch_problems

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
