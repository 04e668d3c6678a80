"""Unit tests for filter_plugins/topology.py."""

import pytest
from ansible.errors import AnsibleFilterError
from topology import etc_hosts_entries, unfilled_inventory

HOSTVARS = {
    "lb1": {"private_ip": "10.80.0.10"},
    "db1": {"private_ip": "10.80.0.13"},
    "db1.example.org": {"private_ip": "fd00::13"},
}


@pytest.mark.parametrize(
    ("hosts", "domain", "expected"),
    [
        (["lb1"], "sandbox.internal", [{"ip": "10.80.0.10", "names": ["lb1.sandbox.internal", "lb1"]}]),
        (["lb1", "db1"], "", [{"ip": "10.80.0.10", "names": ["lb1"]}, {"ip": "10.80.0.13", "names": ["db1"]}]),
        (["db1.example.org"], "ignored.internal", [{"ip": "fd00::13", "names": ["db1.example.org", "db1"]}]),
        ([], "x", []),
    ],
)
def test_etc_hosts_entries(hosts, domain, expected):
    assert etc_hosts_entries(HOSTVARS, hosts, domain) == expected


def test_etc_hosts_entries_other_address_var():
    hostvars = {"a": {"ansible_host": "192.168.1.5"}}
    assert etc_hosts_entries(hostvars, ["a"], "", "ansible_host") == [{"ip": "192.168.1.5", "names": ["a"]}]


@pytest.mark.parametrize(
    ("hostvars", "hosts", "message"),
    [
        ({"a": {}}, ["a"], "host 'a' has no private_ip"),
        ({"a": {"private_ip": "10.0.0.300"}}, ["a"], "not an IP address"),
        ({"a": {"private_ip": "10.0.0.1"}, "b": {"private_ip": "10.0.0.1"}}, ["a", "b"], "share private_ip 10.0.0.1"),
        ({}, ["ghost"], "not in hostvars"),
        (HOSTVARS, "lb1", "must be a list"),
    ],
)
def test_etc_hosts_entries_rejects_bad_input(hostvars, hosts, message):
    with pytest.raises(AnsibleFilterError, match=message):
        etc_hosts_entries(hostvars, hosts)


class RaisingVars(dict):
    """Mimics hostvars whose value references an undefined vault variable."""

    def __getitem__(self, key):
        if key == "broken":
            raise KeyError("vault_x is undefined")
        return super().__getitem__(key)


GROUPS = {"all": ["lb1", "db1"], "db_primary": ["db1"]}


@pytest.mark.parametrize(
    ("hostvars", "required", "expected"),
    [
        (
            {"lb1": {"ansible_host": "10.0.0.1"}, "db1": {"ansible_host": "10.0.0.2"}},
            {"all": ["ansible_host"]},
            [],
        ),
        (
            {"lb1": {"ansible_host": "203.0.113.10"}, "db1": {"ansible_host": "10.0.0.2"}},
            {"all": ["ansible_host"]},
            ["ansible_host is still a placeholder (CHANGE_ME or a documentation address) on: lb1"],
        ),
        (
            {"lb1": {}, "db1": {"vault_pg": "s3cret"}},
            {"all": ["vault_pg"]},
            ["vault_pg is missing on: lb1"],
        ),
        (
            {"lb1": {"admins": [{"keys": ["CHANGE_ME key"]}]}, "db1": {"admins": [{"keys": ["ssh-ed25519 AAA"]}]}},
            {"all": ["admins"]},
            ["admins is still a placeholder (CHANGE_ME or a documentation address) on: lb1"],
        ),
        (
            {"lb1": {}, "db1": {}},
            {"db_primary": ["vault_pg"], "nosuchgroup": ["x"]},
            ["vault_pg is missing on: db1"],
        ),
        (
            {"lb1": RaisingVars(broken="{{ vault_x }}"), "db1": {"broken": "ok"}},
            {"all": ["broken"]},
            ["broken is missing on: lb1"],
        ),
        (
            {"lb1": {"ssh": ["198.51.100.0/24"]}, "db1": {"ssh": ["10.0.0.0/8", "203.0.0.0/16"]}},
            {"all": ["ssh"]},
            ["ssh is still a placeholder (CHANGE_ME or a documentation address) on: lb1"],
        ),
        (
            {"lb1": {"ssh": ["198.51.100.0/24"]}, "db1": {"ssh": ["10.0.0.0/8", "203.0.113.7/32"]}},
            {"all": ["ssh"]},
            ["ssh is still a placeholder (CHANGE_ME or a documentation address) on: db1, lb1"],
        ),
        (
            {"lb1": {"v6": "2001:db8::1"}, "db1": {"v6": "2001:470::1"}},
            {"all": ["v6"]},
            ["v6 is still a placeholder (CHANGE_ME or a documentation address) on: lb1"],
        ),
    ],
)
def test_unfilled_inventory(hostvars, required, expected):
    assert unfilled_inventory(hostvars, GROUPS, required) == expected


@pytest.mark.parametrize("required", [["ansible_host"], {"all": "ansible_host"}])
def test_unfilled_inventory_rejects_bad_required(required):
    with pytest.raises(AnsibleFilterError, match="unfilled_inventory: required"):
        unfilled_inventory({}, GROUPS, required)
