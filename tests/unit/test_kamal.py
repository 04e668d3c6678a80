"""Unit tests for filter_plugins/kamal.py."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from kamal import path_mount

MOUNTS = [
    {"mount": "/", "size_available": 10},
    {"mount": "/var", "size_available": 20},
    {"mount": "/var/lib/docker", "size_available": 30},
    {"mount": "/var/lib/dockerish", "size_available": 40},
]


@pytest.mark.parametrize(
    ("path", "available"),
    [
        ("/var/lib/docker", 30),
        ("/var/lib/docker/overlay2", 30),
        ("/var/lib/docker/", 30),
        ("/var/lib/postgresql", 20),
        ("/var/lib/dockerish/x", 40),
        ("/srv", 10),
    ],
)
def test_the_deepest_mount_holding_the_path_wins(path, available):
    assert path_mount(MOUNTS, path)["size_available"] == available


def test_a_later_mount_on_the_same_point_hides_the_earlier():
    mounts = [{"mount": "/", "size_available": 1}, {"mount": "/", "size_available": 2}]
    assert path_mount(mounts, "/x")["size_available"] == 2


def test_no_mounts_gives_an_empty_answer():
    assert path_mount([], "/var/lib/docker") == {}


@pytest.mark.parametrize(("mounts", "path"), [("/", "/var"), ({"mount": "/"}, "/var"), (MOUNTS, "var/lib")])
def test_bad_input_is_refused(mounts, path):
    with pytest.raises(AnsibleFilterError, match="path_mount"):
        path_mount(mounts, path)
