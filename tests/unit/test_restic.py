"""Unit tests for filter_plugins/restic.py."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from restic import restic_problems

GOOD = {"repository_host": "backup1", "client_hosts": ["app1", "app2"], "paths": ["/var/lib/paas/storage"],
        "password_set": True, "keep_daily": 7, "keep_weekly": 4, "keep_monthly": 6,
        "check_read_data_subset": "10%", "s3_enabled": False, "s3_endpoint": "", "s3_bucket": "",
        "s3_key_set": False, "s3_key_secret_set": False}
OFFSITE = {"s3_enabled": True, "s3_endpoint": "backup1.example.internal:8333", "s3_bucket": "paas-restic",
           "s3_key_set": True, "s3_key_secret_set": True}
PLAY = ["backup1", "app1", "app2"]
ADDRESSES = {"backup1": "10.0.0.17", "app1": "10.0.0.11", "app2": "10.0.0.12"}


def problems(host="app1", play=PLAY, addresses=ADDRESSES, **changes):
    return restic_problems({**GOOD, **changes}, host, play, addresses)


def test_usable_input_has_no_problems():
    assert problems() == []
    assert problems(host="backup1", **OFFSITE) == []
    assert problems(**{**OFFSITE, "s3_endpoint": "s3.eu-central-1.amazonaws.com"}) == []


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"repository_host": ""}, "restic_repository_host is empty"),
        ({"client_hosts": []}, "restic_client_hosts is empty"),
        ({"client_hosts": ["app1", "backup1"]}, "is also in restic_client_hosts"),
        ({"paths": []}, "restic_paths must list at least one directory"),
        ({"paths": ["storage"]}, "restic_paths: storage not an absolute path"),
        ({"password_set": False}, "restic_password is empty"),
        ({"keep_daily": 0}, "restic_keep_daily must be a whole number of at least 1"),
        ({"keep_weekly": -1}, "restic_keep_weekly must be a whole number of at least 1"),
        ({"keep_monthly": "many"}, "restic_keep_monthly must be a whole number of at least 1"),
        ({"check_read_data_subset": "all"}, "restic_check_read_data_subset 'all'"),
        ({**OFFSITE, "s3_endpoint": "https://backup1:8333"}, "restic_s3_endpoint 'https://backup1:8333'"),
        ({**OFFSITE, "s3_endpoint": ""}, "restic_s3_endpoint ''"),
        ({**OFFSITE, "s3_bucket": "Files"}, "restic_s3_bucket 'Files' is not a valid S3 bucket name"),
        ({**OFFSITE, "s3_key_set": False}, "restic_s3_key is empty: an S3 endpoint needs credentials"),
        ({**OFFSITE, "s3_key_secret_set": "False"}, "restic_s3_key_secret is empty"),
    ],
)
def test_each_rule_names_the_variable(changes, named):
    found = problems(**changes)
    assert any(named in problem for problem in found), found


def test_both_sides_must_be_in_the_play_and_addressable():
    assert problems(play=["app1", "app2"]) == [
        "backup1 not in this play: the role sets up both sides together "
        "(run it without --limit, or with every client and the backup host)"]
    assert problems(addresses={**ADDRESSES, "app2": ""}) == [
        "app2 without private_ip: the clients reach the backup host over SSH at that address"]
    assert problems(host="db1", play=[*PLAY, "db1"]) == [
        "db1 is neither restic_repository_host nor in restic_client_hosts"]


def test_settings_must_be_dictionaries():
    with pytest.raises(AnsibleFilterError, match="as dictionaries"):
        restic_problems(["backup1"], "app1", PLAY, ADDRESSES)
