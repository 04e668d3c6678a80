"""Unit tests for filter_plugins/pgbackrest.py."""

from __future__ import annotations

import json

import pytest
from ansible.errors import AnsibleFilterError
from pgbackrest import (
    pgbackrest_backups,
    pgbackrest_problems,
    pgbackrest_repository_status,
    pgbackrest_restore_problems,
    pgbackrest_restore_target,
)

GOOD = {"repository_host": "backup1", "database_hosts": ["db1", "db2"], "stanza": "main", "retention_full": 4,
        "retention_diff": 7, "process_max": 2, "compress_type": "zst", "s3_enabled": False}
OFFSITE = {"s3_enabled": True, "s3_endpoint": "s3.example.com", "s3_port": 443, "s3_bucket": "paas-backups",
           "s3_region": "eu-west-1", "s3_uri_style": "host", "s3_path": "/pgbackrest", "s3_retention_full": 4,
           "s3_retention_diff": 7, "s3_key_set": True, "s3_key_secret_set": True, "s3_cipher_passphrase_set": True}
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


def test_a_usable_offsite_repository_has_no_problems():
    assert problems(**OFFSITE) == []
    assert problems(**{**OFFSITE, "s3_endpoint": "", "s3_enabled": False}) == []


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"s3_endpoint": ""}, "pgbackrest_s3_endpoint is empty"),
        ({"s3_endpoint": "https://s3.example.com"}, "give the host name only"),
        ({"s3_endpoint": "s3.example.com:9000"}, "give the host name only"),
        ({"s3_endpoint": "10.0.0.17"}, "is an IP address: pgBackRest checks the certificate by host name"),
        ({"s3_bucket": "Backups_1"}, "pgbackrest_s3_bucket 'Backups_1' is not a valid S3 bucket name"),
        ({"s3_region": ""}, "pgbackrest_s3_region is empty"),
        ({"s3_uri_style": "virtual"}, "pgbackrest_s3_uri_style 'virtual' is not host or path"),
        ({"s3_path": "pgbackrest"}, "pgbackrest_s3_path 'pgbackrest' must start with /"),
        ({"s3_port": "https"}, "pgbackrest_s3_port must be a port number"),
        ({"s3_retention_full": 0}, "pgbackrest_s3_retention_full must be a whole number of at least 1"),
        ({"s3_retention_diff": -2}, "pgbackrest_s3_retention_diff must be a whole number of at least 1"),
        ({"s3_key_set": False}, "pgbackrest_s3_key is empty: an S3 endpoint needs credentials"),
        ({"s3_key_secret_set": "False"}, "pgbackrest_s3_key_secret is empty: an S3 endpoint needs credentials"),
        ({"s3_cipher_passphrase_set": False}, "pgbackrest_s3_cipher_passphrase is empty: the off-site repository "
                                              "must be encrypted"),
    ],
)
def test_each_offsite_rule_names_the_variable(changes, named):
    found = problems(**{**OFFSITE, **changes})
    assert any(named in problem for problem in found), found


def test_settings_must_be_a_dictionary():
    with pytest.raises(AnsibleFilterError, match="expected a dictionary"):
        pgbackrest_problems(["backup1"], "db1", PLAY, ADDRESSES)


INFO = [{"name": "main", "status": {"code": 0, "message": "ok"}, "backup": [
    {"label": "20261201-010000F", "type": "full", "timestamp": {"start": 1, "stop": 2}},
    {"label": "20261201-010000F_20261202-010000D", "type": "diff", "timestamp": {"start": 3, "stop": 4}},
]}]


def test_backups_are_read_from_info_json_text_or_data():
    expected = [{"label": "20261201-010000F", "type": "full", "repo": 1, "start": 1, "stop": 2},
                {"label": "20261201-010000F_20261202-010000D", "type": "diff", "repo": 1, "start": 3, "stop": 4}]
    assert pgbackrest_backups(json.dumps(INFO)) == expected
    assert pgbackrest_backups(INFO) == expected


def test_a_missing_stanza_has_no_backups():
    assert pgbackrest_backups([{"name": "main", "status": {"code": 1}, "backup": []}]) == []


def test_other_json_is_refused():
    with pytest.raises(AnsibleFilterError, match="expected the JSON of"):
        pgbackrest_backups("{}")


TWO_REPOS = [{"name": "main", "status": {"code": 4, "message": "different across repos"},
              "repo": [{"key": 1, "status": {"code": 0}}, {"key": 2, "status": {"code": 1}}],
              "backup": [{"label": "F1", "type": "full", "database": {"id": 1, "repo-key": 1},
                          "timestamp": {"start": 1, "stop": 2}},
                         {"label": "F2", "type": "full", "database": {"id": 1, "repo-key": 2},
                          "timestamp": {"start": 3, "stop": 4}}]}]


def test_each_backup_names_its_repository():
    assert [(backup["label"], backup["repo"]) for backup in pgbackrest_backups(TWO_REPOS)] == [("F1", 1), ("F2", 2)]


def test_repository_status_is_read_per_repository():
    assert pgbackrest_repository_status(TWO_REPOS) == {1: 0, 2: 1}
    assert pgbackrest_repository_status(json.dumps([{"name": "main", "status": {"code": 1}}])) == {1: 1}


# playbooks/db-restore.yml: who may be rebuilt, the confirmation, the point in time, the repository.
NOW = 1796116800.0  # 2026-12-01 09:20:00 UTC
RESTORE = {"host": "db1", "confirm": "db1", "primaries": ["db1"], "target_time": "", "repo": 1, "s3_enabled": False}


def test_a_confirmed_restore_of_the_primary_has_no_problems():
    assert pgbackrest_restore_problems(RESTORE, NOW) == []
    assert pgbackrest_restore_problems({**RESTORE, "target_time": "2026-12-01T09:19:59Z"}, NOW) == []
    assert pgbackrest_restore_problems({**RESTORE, "repo": "2", "s3_enabled": True}, NOW) == []


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"confirm": ""}, "db_restore_confirm must name the host"),
        ({"confirm": "db2"}, "-e db_restore_confirm=db1"),
        ({"host": "db2", "confirm": "db2"}, "db_restore_host db2 is not the primary (db1)"),
        ({"primaries": []}, "the db_primary group needs exactly one host; it has none"),
        ({"primaries": ["db1", "db2"]}, "it has db1, db2"),
        ({"target_time": "2026-12-01 10:00:00+00:00"},
         "db_restore_target_time 2026-12-01 10:00:00+00:00 is in the future (now 2026-12-01 09:20:00+00)"),
        ({"target_time": "2026-12-01 11:30:00+02:00"}, "is in the future"),
        ({"target_time": "2026-12-01 09:00:00"}, "is not a point in time with its time zone"),
        ({"target_time": "yesterday"}, "db_restore_target_time 'yesterday' is not a point in time"),
        ({"repo": 3}, "db_restore_repo must be 1 (the backup host) or 2 (off-site), not '3'"),
        ({"repo": 2}, "db_restore_repo 2 (off-site) needs pgbackrest_s3_enabled"),
    ],
)
def test_each_restore_rule_names_the_variable(changes, named):
    problems = pgbackrest_restore_problems({**RESTORE, **changes}, NOW)
    assert any(named in problem for problem in problems), problems


def test_a_target_an_hour_ahead_in_another_zone_is_still_in_the_past():
    assert pgbackrest_restore_problems({**RESTORE, "target_time": "2026-12-01 10:19:00+01:00"}, NOW) == []


def test_the_restore_target_is_given_to_pgbackrest_in_utc():
    assert pgbackrest_restore_target("2026-12-01T10:00:00+01:00") == "2026-12-01 09:00:00+00"
    assert pgbackrest_restore_target("2026-12-01 09:00:00.250000Z") == "2026-12-01 09:00:00.250000+00"
    with pytest.raises(AnsibleFilterError, match="has no time zone"):
        pgbackrest_restore_target("2026-12-01 09:00:00")
