"""Unit tests for filter_plugins/pgbackrest.py."""

from __future__ import annotations

import json

import pytest
from ansible.errors import AnsibleFilterError
from pgbackrest import pgbackrest_backups, pgbackrest_problems

GOOD = {"repository_host": "backup1", "database_hosts": ["db1", "db2"], "stanza": "main", "retention_full": 4,
        "retention_diff": 7, "process_max": 2, "compress_type": "zst"}
PLAY = ["backup1", "db1", "db2"]
ADDRESSES = {"backup1": "10.0.0.17", "db1": "10.0.0.13", "db2": "10.0.0.14"}


def problems(host="db1", play=PLAY, addresses=ADDRESSES, **changes):
    return pgbackrest_problems({**GOOD, **changes}, host, play, addresses)


def test_usable_input_has_no_problems():
    assert problems() == []
    assert problems(host="backup1") == []


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"repository_host": ""}, "pgbackrest_repository_host is empty"),
        ({"database_hosts": []}, "pgbackrest_database_hosts is empty"),
        ({"database_hosts": ["db1", "backup1"]}, "is also in pgbackrest_database_hosts"),
        ({"stanza": "main db"}, "pgbackrest_stanza 'main db'"),
        ({"retention_full": 0}, "pgbackrest_retention_full must be a whole number of at least 1"),
        ({"retention_diff": -1}, "pgbackrest_retention_diff must be a whole number of at least 1"),
        ({"retention_full": "many"}, "pgbackrest_retention_full must be a whole number of at least 1"),
        ({"process_max": 0}, "pgbackrest_process_max must be a whole number of at least 1"),
        ({"compress_type": "xz"}, "pgbackrest_compress_type 'xz' is not one of"),
    ],
)
def test_each_rule_names_the_variable(changes, named):
    found = problems(**changes)
    assert any(named in problem for problem in found), found


def test_both_sides_must_be_in_the_play():
    found = problems(play=["db1", "db2"])
    assert found == ["backup1 not in this play: the role sets up both sides together "
                     "(run it without --limit, or with every database host and the backup host)"]


def test_every_named_host_needs_a_private_address():
    found = problems(addresses={**ADDRESSES, "db2": ""})
    assert found == ["db2 without private_ip: the two sides reach each other over SSH at that address"]


def test_a_host_on_neither_side_is_refused():
    assert problems(host="app1", play=[*PLAY, "app1"]) == [
        "app1 is neither pgbackrest_repository_host nor in pgbackrest_database_hosts"]


def test_settings_must_be_a_dictionary():
    with pytest.raises(AnsibleFilterError, match="expected a dictionary"):
        pgbackrest_problems(["backup1"], "db1", PLAY, ADDRESSES)


INFO = [{"name": "main", "status": {"code": 0, "message": "ok"}, "backup": [
    {"label": "20261201-010000F", "type": "full", "timestamp": {"start": 1, "stop": 2}},
    {"label": "20261201-010000F_20261202-010000D", "type": "diff", "timestamp": {"start": 3, "stop": 4}},
]}]


def test_backups_are_read_from_info_json_text_or_data():
    expected = [{"label": "20261201-010000F", "type": "full", "start": 1, "stop": 2},
                {"label": "20261201-010000F_20261202-010000D", "type": "diff", "start": 3, "stop": 4}]
    assert pgbackrest_backups(json.dumps(INFO)) == expected
    assert pgbackrest_backups(INFO) == expected


def test_a_missing_stanza_has_no_backups():
    assert pgbackrest_backups([{"name": "main", "status": {"code": 1}, "backup": []}]) == []


def test_other_json_is_refused():
    with pytest.raises(AnsibleFilterError, match="expected the JSON of"):
        pgbackrest_backups("{}")
