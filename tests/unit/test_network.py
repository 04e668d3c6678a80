"""Unit tests for filter_plugins/network.py."""

import pytest
from ansible.errors import AnsibleFilterError
from network import (
    address_in_cidrs,
    addresses_in_cidrs,
    firewall_visible_ports,
    hardening_firewall_problems,
    invalid_cidrs,
    invalid_ports,
    listen_address_problems,
    nft_comparable,
    tier_firewall_rules,
)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["10.0.0.0/8", "192.168.1.5", "fd00::/8", "2001:db8::1"], []),
        (["10.0.0.0/33", "10.0.0.256", "any", "", "10.0.0.1/8"], ["10.0.0.0/33", "10.0.0.256", "any", ""]),
    ],
)
def test_invalid_cidrs(values, expected):
    assert invalid_cidrs(values) == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([22, 80, "443", 65535, 1], []),
        ([0, 65536, -1, "http", True, 22.5, None], [0, 65536, -1, "http", True, 22.5, None]),
    ],
)
def test_invalid_ports(values, expected):
    assert invalid_ports(values) == expected


@pytest.mark.parametrize("address", ["10.80.0.16", "127.0.0.1", "::1", "fd00::5", "192.0.2.1"])
def test_one_ip_address_is_a_valid_listen_address(address):
    assert listen_address_problems(address, "x_listen_address") == []


@pytest.mark.parametrize("address", ["localhost", "10.0.0.0/24", "10.0.0.1/32", "", "10.0.0.256", None, "10.0.0.1 "])
def test_anything_else_is_refused_naming_the_variable(address):
    assert listen_address_problems(address, "node_exporter_listen_address") == [
        f"node_exporter_listen_address must be one IP address, not {address}"]


@pytest.mark.parametrize(
    ("address", "cidrs", "expected"),
    [
        ("10.80.0.1", ["10.80.0.0/24"], True),
        ("10.81.0.1", ["10.80.0.0/24", "192.168.0.0/16"], False),
        ("fd00::5", ["10.0.0.0/8", "fd00::/64"], True),
        ("10.0.0.1", [], False),
    ],
)
def test_address_in_cidrs(address, cidrs, expected):
    assert address_in_cidrs(address, cidrs) is expected


@pytest.mark.parametrize(("address", "cidrs"), [("not-an-ip", ["10.0.0.0/8"]), ("10.0.0.1", ["10.0.0.0/40"])])
def test_address_in_cidrs_rejects_bad_input(address, cidrs):
    with pytest.raises(AnsibleFilterError, match="address_in_cidrs"):
        address_in_cidrs(address, cidrs)


def test_bad_list_arguments_are_refused():
    with pytest.raises(AnsibleFilterError, match="invalid_cidrs: expected a list"):
        invalid_cidrs("10.0.0.0/8")
    with pytest.raises(AnsibleFilterError, match="invalid_ports: expected a list"):
        invalid_ports("22")


GROUPS = {"lb": ["lb1"], "web": ["app1", "app2"], "db_primary": ["db1"], "db_replica": ["db2"],
          "backup": ["backup1"], "pgbouncer": ["db1"], "monitoring": []}
HOSTVARS = {h: {"private_ip": ip} for h, ip in
            {"lb1": "10.0.0.10", "app1": "10.0.0.11", "app2": "10.0.0.12", "db1": "10.0.0.13",
             "db2": "10.0.0.14", "backup1": "10.0.0.17"}.items()}
TIERS = {
    "lb": [{"name": "https", "ports": [80, 443], "sources": ["any"]}],
    "web": [{"name": "app", "ports": [80], "sources": ["lb"]}],
    "db_primary": [{"name": "postgresql", "ports": [5432], "sources": ["db_replica", "pgbouncer", "backup"]}],
    "pgbouncer": [{"name": "pgbouncer", "ports": [6432], "sources": ["web"]}],
    "all": [{"name": "node-exporter", "ports": [9100], "sources": ["monitoring"]}],
}


@pytest.mark.parametrize(
    ("group_names", "expected"),
    [
        (["lb"], [{"name": "https", "proto": "tcp", "ports": [80, 443], "sources": ["any"]}]),
        (["web"], [{"name": "app", "proto": "tcp", "ports": [80], "sources": ["10.0.0.10/32"]}]),
        (["db_primary", "pgbouncer"], [
            {"name": "postgresql", "proto": "tcp", "ports": [5432],
             "sources": ["10.0.0.13/32", "10.0.0.14/32", "10.0.0.17/32"]},
            {"name": "pgbouncer", "proto": "tcp", "ports": [6432], "sources": ["10.0.0.11/32", "10.0.0.12/32"]},
        ]),
        # A service whose source groups are empty is not opened to anyone.
        (["all"], []),
        (["redis"], []),
    ],
)
def test_tier_firewall_rules(group_names, expected):
    assert tier_firewall_rules(TIERS, group_names, GROUPS, HOSTVARS) == expected


@pytest.mark.parametrize(
    ("tiers", "message"),
    [
        (["lb"], "must map group names"),
        ({"lb": [{"name": "x", "ports": [80]}]}, "lacks \\['sources'\\]"),
        ({"lb": [{"name": "x", "ports": [80], "sources": ["nohost"]}]}, "has no private_ip"),
    ],
)
def test_tier_firewall_rules_rejects_bad_input(tiers, message):
    groups = dict(GROUPS, nohost=["ghost"])
    hostvars = dict(HOSTVARS, ghost={})
    with pytest.raises(AnsibleFilterError, match=message):
        tier_firewall_rules(tiers, ["lb"], groups, hostvars)


def test_addresses_in_cidrs_keeps_those_inside_in_order():
    pools = ["172.30.0.0/16", "172.29.0.1/24"]
    assert addresses_in_cidrs(["10.0.0.5", "172.30.4.1", "172.29.0.9"], pools) == ["172.30.4.1", "172.29.0.9"]
    assert addresses_in_cidrs([], pools) == []


def test_addresses_in_cidrs_rejects_a_string():
    with pytest.raises(AnsibleFilterError, match="addresses_in_cidrs"):
        addresses_in_cidrs("10.0.0.5", ["10.0.0.0/8"])


RUNNING_TABLE = (
    "table inet paas_firewall {\n"
    "\tset ssh_sources_v4 {\n"
    "\t\ttype ipv4_addr\n"
    "\t\tflags interval\n"
    "\t\telements = { 10.80.0.0/24 }\n"
    "\t}\n"
    "\n"
    "\tset ssh_meter_v4 {\n"
    "\t\ttype ipv4_addr\n"
    "\t\tsize 65535\n"
    "\t\tflags dynamic,timeout\n"
    "\t\ttimeout 1m\n"
    "\t\telements = { 10.80.0.1 limit rate over 10/minute burst 5 packets expires 52s,\n"
    "\t\t\t     10.80.0.2 limit rate over 10/minute burst 5 packets expires 9s }\n"
    "\t}\n"
    "\n"
    "\tchain input {\n"
    "\t\ttype filter hook input priority filter; policy drop;\n"
    "\t\ttcp dport 22 ip saddr @ssh_sources_v4 accept\n"
    "\t}\n"
    "}\n"
)


def test_nft_comparable_drops_only_the_dynamic_sets_entries():
    comparable = nft_comparable(RUNNING_TABLE)
    assert "10.80.0.1 limit" not in comparable and "10.80.0.2" not in comparable
    assert "elements = { 10.80.0.0/24 }" in comparable
    assert "timeout 1m" in comparable and "policy drop;" in comparable
    fresh = RUNNING_TABLE.replace(
        "\t\telements = { 10.80.0.1 limit rate over 10/minute burst 5 packets expires 52s,\n"
        "\t\t\t     10.80.0.2 limit rate over 10/minute burst 5 packets expires 9s }\n", "")
    assert nft_comparable(fresh) == comparable


def test_nft_comparable_sees_a_rule_added_by_hand_and_a_static_element():
    inserted = RUNNING_TABLE.replace("policy drop;\n", "policy drop;\n\t\ttcp dport 6379 accept\n")
    assert nft_comparable(inserted) != nft_comparable(RUNNING_TABLE)
    widened = RUNNING_TABLE.replace("{ 10.80.0.0/24 }", "{ 0.0.0.0/0 }")
    assert nft_comparable(widened) != nft_comparable(RUNNING_TABLE)


def test_firewall_visible_ports_show_ssh_only_to_its_sources_and_the_web_only_on_load_balancers():
    hostvars = {"lb1": {"ansible_host": "10.0.0.10", "hardening_firewall_ssh_sources": ["10.0.0.0/24"]},
                "db1": {"ansible_host": "10.0.0.13", "ansible_port": 2222,
                        "hardening_firewall_ssh_sources": ["10.0.0.0/24", "192.0.2.5"]}}
    inside = firewall_visible_ports(["lb1", "db1"], hostvars, ["lb1"], "10.0.0.1")
    assert inside == [{"host": "lb1", "address": "10.0.0.10", "ports": [22, 80, 443]},
                      {"host": "db1", "address": "10.0.0.13", "ports": [2222]}]
    outside = firewall_visible_ports(["lb1", "db1"], hostvars, ["lb1"], "198.51.100.7")
    assert [e["ports"] for e in outside] == [[80, 443], []]
    # A single address among the SSH sources; from the controller itself (no source given) every sshd
    # shows, as Ansible reaches them.
    assert [e["ports"] for e in firewall_visible_ports(["db1"], hostvars, [], "192.0.2.5")] == [[2222]]
    assert [e["ports"] for e in firewall_visible_ports(["db1"], hostvars, [], "")] == [[2222]]


FIREWALL_RULES = [{"name": "web", "ports": [80, 443], "sources": ["any"]},
                  {"name": "db", "ports": [5432], "sources": ["10.1.0.0/24"]}]


def test_a_valid_firewall_has_no_problems():
    assert hardening_firewall_problems(["10.0.0.0/8", "192.168.1.5"], FIREWALL_RULES, 22, "10.0.0.1") == []
    assert hardening_firewall_problems(["10.0.0.0/8"], [], 2222, "") == []   # the controller's address unknown


@pytest.mark.parametrize(("sources", "rules", "port", "controller", "expected"), [
    (["10.0.0.0/33"], [], 22, "", "invalid sources ['10.0.0.0/33'], invalid ports []"),
    (["10.0.0.0/8"], [{"name": "x", "ports": [70000], "sources": ["any"]}], 22, "", "invalid ports [70000]"),
    (["10.0.0.0/8"], [{"name": "x", "ports": [80], "sources": ["10.0.0.300"]}], 22, "", "['10.0.0.300']"),
    (["10.0.0.0/8"], [], 0, "", "invalid ports [0]"),
    (["10.0.0.0/8", "0.0.0.0/0"], [], 22, "", "contains 0.0.0.0/0: SSH open to the whole Internet"),
    (["::/0"], [], 22, "", "contains ::/0: SSH open to the whole Internet"),
    (["192.0.2.0/24"], [], 22, "10.80.0.1",
     "(['192.0.2.0/24']) does not include 10.80.0.1, the address Ansible connects from"),
    (["192.0.2.0/24"], [], 22, "2001:db8::1", "does not include 2001:db8::1"),
])
def test_each_firewall_problem_is_named(sources, rules, port, controller, expected):
    problems = hardening_firewall_problems(sources, rules, port, controller)
    assert len(problems) == 1 and expected in problems[0], problems


def test_the_controller_check_waits_for_valid_sources():
    # A source that is no network is reported once, not as a crash of the controller check.
    problems = hardening_firewall_problems(["10.0.0.0/33"], [], 22, "10.80.0.1")
    assert len(problems) == 1 and "invalid sources" in problems[0]


def test_ssh_sources_must_be_a_list():
    with pytest.raises(AnsibleFilterError, match="expected a list of SSH sources"):
        hardening_firewall_problems("10.0.0.0/8", [], 22)
