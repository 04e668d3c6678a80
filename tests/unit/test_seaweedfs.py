"""Unit tests for filter_plugins/seaweedfs.py."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from seaweedfs import seaweedfs_bucket_names, seaweedfs_problems, seaweedfs_s3_identities

SECRET = "a-secret-key-of-some-length"
GOOD = {"s3_address": "10.0.0.17", "s3_port": 8333, "s3_names": ["backup1", "backup1.example.internal"],
        "volume_size_limit_mb": 64, "volume_max": 40, "buckets": ["pgbackrest", "restic"],
        "identities": [{"name": "pgbackrest", "access_key": "AKPG", "secret_key": SECRET, "buckets": ["pgbackrest"]},
                       {"name": "restic", "access_key": "AKRE", "secret_key": SECRET + "2", "buckets": ["restic"]}]}


def problems(**changes):
    return seaweedfs_problems({**GOOD, **changes})


def identity(**changes):
    return [{**GOOD["identities"][0], **changes}]


def test_usable_input_has_no_problems():
    assert problems() == []


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"s3_address": "backup1"}, "seaweedfs_s3_address is not an IP address"),
        ({"s3_port": 70000}, "seaweedfs_s3_port must be a port number"),
        ({"s3_names": []}, "seaweedfs_s3_names must list at least one DNS name"),
        ({"s3_names": ["10.0.0.17"]}, "seaweedfs_s3_names: 10.0.0.17 not a DNS name"),
        ({"s3_names": ["bad_name"]}, "seaweedfs_s3_names: bad_name not a DNS name"),
        ({"volume_size_limit_mb": 0}, "seaweedfs_volume_size_limit_mb must be a whole number"),
        ({"volume_max": "many"}, "seaweedfs_volume_max must be a whole number"),
        ({"buckets": ["Backups"]}, "seaweedfs_buckets: Backups not a valid S3 bucket name"),
        ({"buckets": ["ab"]}, "seaweedfs_buckets: ab not a valid S3 bucket name"),
        ({"identities": identity(secret_key="")}, "seaweedfs_identities pgbackrest: secret_key is empty"),
        ({"identities": identity(access_key=None)}, "seaweedfs_identities pgbackrest: access_key is empty"),
        ({"identities": identity(secret_key="short")}, "secret_key is shorter than 16 characters"),
        ({"identities": identity(buckets=[])}, "buckets must list at least one bucket"),
        ({"identities": identity(buckets=["other"])}, "pgbackrest: other not in seaweedfs_buckets"),
        ({"identities": identity(name="")}, "seaweedfs_identities[0] has no name"),
        ({"identities": identity() + identity(access_key="AKX")}, "the name pgbackrest is used twice"),
        ({"identities": identity() + identity(name="two")}, "two: its access_key is already another identity's"),
    ],
)
def test_each_rule_names_the_variable(changes, named):
    found = problems(**changes)
    assert any(named in problem for problem in found), found


def test_no_message_holds_a_key():
    found = problems(identities=identity(secret_key="short-secret") + identity(name="x", buckets=["nope"]))
    assert found
    assert not any("short-secret" in problem or "AKPG" in problem for problem in found)


def test_identities_may_use_their_own_buckets_only():
    converted = seaweedfs_s3_identities(GOOD["identities"])
    assert converted[0] == {
        "name": "pgbackrest",
        "credentials": [{"accessKey": "AKPG", "secretKey": SECRET}],
        "actions": ["Read:pgbackrest", "Write:pgbackrest", "List:pgbackrest", "Tagging:pgbackrest"],
    }
    assert all(action.endswith(":restic") for action in converted[1]["actions"])


def test_bucket_names_are_read_from_the_shell_listing():
    output = "  pgbackrest\tsize:0\tlogical:0\tchunk:0\n  restic\tsize:1024\tlogical:1\tchunk:1\n"
    assert seaweedfs_bucket_names(output) == ["pgbackrest", "restic"]
    assert seaweedfs_bucket_names("") == []
    assert seaweedfs_bucket_names("error: master not found\n") == []


@pytest.mark.parametrize("bad", [None, ["x"]])
def test_wrong_types_raise(bad):
    with pytest.raises(AnsibleFilterError):
        seaweedfs_bucket_names(bad)
    with pytest.raises(AnsibleFilterError):
        seaweedfs_problems(bad)
