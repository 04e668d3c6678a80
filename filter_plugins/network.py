"""Filters for addresses, ports and firewall allow-lists.

Pure functions: no I/O, no network. Unit tests: tests/unit/test_network.py.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: tier_firewall_rules
short_description: A host's firewall allow-list from inventory groups
description:
  - tier_rules maps a group to the services its hosts offer; each service lists the groups
    (or "any") that may reach it. The result is the allow-list of one host: the services of
    every group the host is in, with source groups resolved to /32 or /128 addresses.
  - Rules whose sources resolve to nothing are left out (nobody may connect).
positional: group_names, groups, hostvars, address_var
---
name: invalid_cidrs
short_description: The entries of a list that are not IP addresses or networks
---
name: invalid_ports
short_description: The entries of a list that are not TCP/UDP port numbers (1-65535)
---
name: address_in_cidrs
short_description: Whether an IP address lies in any of a list of networks
---
name: addresses_in_cidrs
short_description: The addresses of a list that lie in any of a list of networks
---
name: firewall_visible_ports
short_description: The TCP ports the firewall is meant to show a scan from an address, per host
positional: hostvars, lbs, source
---
name: hardening_firewall_problems
short_description: The hardening role's firewall rules checked before anything changes
description:
  - One message per problem, each naming its variables; an empty list when the SSH sources, the rules
    (hardening_firewall_rules + hardening_firewall_extra_rules) and the SSH port are valid, SSH is not open
    to every address, and the controller's address (when known) is inside the SSH sources.
positional: rules, ssh_port, controller_address
---
name: listen_address_problems
short_description: A preflight rule - a service's listen address must be one IP address
description:
  - An empty list when the value is one IPv4 or IPv6 address (no prefix length, no name), else one
    message naming the variable (the second argument). The exporter roles' preflights use it.
positional: variable
"""

EXAMPLES = r"""
hardening_firewall_rules: >-
  {{ firewall_tiers | tier_firewall_rules(group_names, groups, hostvars) }}
# firewall_tiers:
#   db_primary:
#     - {name: postgresql, ports: [5432], sources: [db_replica, pgbouncer, backup]}
#   lb:
#     - {name: https, ports: [80, 443], sources: [any]}
"""


def _network(value):
    return ipaddress.ip_network(str(value), strict=False)


def invalid_cidrs(values: Iterable) -> list:
    """Entries that are neither an IP address nor a CIDR network."""
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise AnsibleFilterError(f"invalid_cidrs: expected a list, got {values!r}")
    bad = []
    for value in values:
        try:
            _network(value)
        except ValueError:
            bad.append(value)
    return bad


def listen_address_problems(address, variable: str) -> list[str]:
    """[] when address is one IP address; else a message naming the variable."""
    try:
        ipaddress.ip_address(str(address))
    except ValueError:
        return [f"{variable} must be one IP address, not {address}"]
    return []


def invalid_ports(values: Iterable) -> list:
    """Entries that are not integers from 1 to 65535 (booleans and floats are invalid)."""
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise AnsibleFilterError(f"invalid_ports: expected a list, got {values!r}")
    bad = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | str):
            bad.append(value)
            continue
        try:
            port = int(value)
        except ValueError:
            bad.append(value)
            continue
        if not 1 <= port <= 65535:
            bad.append(value)
    return bad


def address_in_cidrs(address: str, cidrs: Iterable) -> bool:
    """True when address lies in one of the networks."""
    try:
        ip = ipaddress.ip_address(str(address))
    except ValueError:
        raise AnsibleFilterError(f"address_in_cidrs: not an IP address: {address!r}") from None
    bad = invalid_cidrs(cidrs)
    if bad:
        raise AnsibleFilterError(f"address_in_cidrs: not networks: {bad!r}")
    return any(ip in _network(c) for c in cidrs if _network(c).version == ip.version)


def hardening_firewall_problems(ssh_sources: Sequence, rules: Sequence[Mapping], ssh_port,
                                controller_address: str = "") -> list[str]:
    """The hardening role's firewall preflight, one message per problem (each naming its variables):
    addresses that are not networks and ports that are not ports; SSH open to every address (a /0 source);
    SSH sources without controller_address, the address Ansible connects from (skipped when it is not
    known, or when a source is not a network)."""
    if isinstance(ssh_sources, str) or not isinstance(ssh_sources, Iterable):
        raise AnsibleFilterError(f"hardening_firewall_problems: expected a list of SSH sources, got {ssh_sources!r}")
    problems = []
    sources = [s for s in [*ssh_sources, *(src for rule in rules for src in rule.get("sources", []))] if s != "any"]
    bad_cidrs = invalid_cidrs(sources)
    bad_ports = invalid_ports([ssh_port, *(port for rule in rules for port in rule.get("ports", []))])
    if bad_cidrs or bad_ports:
        problems.append("hardening_firewall_ssh_sources / hardening_firewall_rules / hardening_firewall_extra_rules: "
                        f"invalid sources {bad_cidrs}, invalid ports {bad_ports}")
    everywhere = [str(s) for s in ssh_sources if str(s).endswith("/0")]
    if everywhere:
        problems.append(f"hardening_firewall_ssh_sources contains {', '.join(everywhere)}: SSH open to the whole "
                        "Internet. List the administrators' and the controller's networks instead.")
    if controller_address and not invalid_cidrs(ssh_sources) and not address_in_cidrs(controller_address,
                                                                                       ssh_sources):
        problems.append(f"hardening_firewall_ssh_sources ({list(ssh_sources)}) does not include {controller_address}, "
                        "the address Ansible connects from: the next run would be locked out.")
    return problems


def addresses_in_cidrs(addresses: Iterable, cidrs: Iterable) -> list:
    """The addresses (in their order) that lie in one of the networks."""
    if isinstance(addresses, str) or not isinstance(addresses, Iterable):
        raise AnsibleFilterError(f"addresses_in_cidrs: expected a list of addresses, got {addresses!r}")
    return [a for a in addresses if address_in_cidrs(a, cidrs)]


def firewall_visible_ports(hosts: Sequence[str], hostvars: Mapping, lbs: Sequence[str],
                           source: str) -> list[dict]:
    """What the firewall is meant to show a scan from source (an address; "" for the controller, which is in
    every host's SSH sources since Ansible reaches the hosts over SSH): 80 and 443 on the load balancers, 22
    where source is in the host's hardening_firewall_ssh_sources, nothing else."""
    expected = []
    for host in hosts:
        variables = hostvars[host]
        ssh_sources = variables.get("hardening_firewall_ssh_sources") or []
        ssh = not source or address_in_cidrs(source, ssh_sources)
        ports = ([80, 443] if host in lbs else []) + ([int(variables.get("ansible_port") or 22)] if ssh else [])
        expected.append({"host": host, "address": str(variables.get("ansible_host") or host), "ports": sorted(ports)})
    return expected


def tier_firewall_rules(tier_rules: Mapping, group_names: Iterable[str], groups: Mapping, hostvars: Mapping,
                        address_var: str = "private_ip") -> list[dict]:
    """The allow-list of a host in group_names, sources resolved to host addresses."""
    if not isinstance(tier_rules, Mapping):
        raise AnsibleFilterError(f"tier_firewall_rules: tier rules must map group names to lists, got {tier_rules!r}")
    member_of = set(group_names)
    rules: list[dict] = []
    for group, services in tier_rules.items():
        if group not in member_of:
            continue
        for service in services or []:
            missing = [k for k in ("name", "ports", "sources") if k not in service]
            if missing:
                raise AnsibleFilterError(f"tier_firewall_rules: rule {service!r} of group {group!r} lacks {missing}")
            if service["sources"] == ["any"]:
                sources = ["any"]
            else:
                hosts = sorted({h for g in service["sources"] for h in groups.get(g, [])})
                sources = []
                for host in hosts:
                    address = hostvars[host].get(address_var)
                    if not address:
                        raise AnsibleFilterError(f"tier_firewall_rules: host {host!r} has no {address_var}")
                    sources.append(_network(address))
                sources = [str(n) for n in sorted(set(sources), key=lambda n: (n.version, n))]
                if not sources:
                    continue
            rules.append({"name": service["name"], "proto": service.get("proto", "tcp"),
                          "ports": list(service["ports"]), "sources": sources})
    return rules


def nft_comparable(listing: str) -> str:
    """An `nft -s list table` listing without the entries of its dynamic sets.

    Dynamic sets (the SSH rate meter) fill with client addresses at run time; everything
    else (chains, rules, policies, the static sets' elements) stays, so the running table
    compares equal to the one its rules file defines exactly when no rule, set element or
    policy was changed by hand.
    """
    kept: list[str] = []
    block: list[str] | None = None  # the lines of the set being read
    for line in (listing or "").splitlines():
        stripped = line.strip()
        if block is None and stripped.startswith("set ") and stripped.endswith("{"):
            block = [line]
            continue
        if block is None:
            kept.append(line.rstrip())
            continue
        block.append(line)
        if stripped == "}":
            kept += _without_dynamic_elements(block)
            block = None
    return "\n".join(kept + (block or [])) + "\n"


def _without_dynamic_elements(block: list[str]) -> list[str]:
    if not any(line.strip().startswith("flags") and "dynamic" in line for line in block):
        return [line.rstrip() for line in block]
    kept, in_elements = [], False
    for line in block:
        stripped = line.strip()
        if stripped.startswith("elements = {"):
            in_elements = not stripped.endswith("}")
            continue
        if in_elements:
            in_elements = not stripped.endswith("}")
            continue
        kept.append(line.rstrip())
    return kept


class FilterModule:
    """Network filters."""

    def filters(self):
        return {
            "invalid_cidrs": invalid_cidrs,
            "invalid_ports": invalid_ports,
            "listen_address_problems": listen_address_problems,
            "hardening_firewall_problems": hardening_firewall_problems,
            "address_in_cidrs": address_in_cidrs,
            "addresses_in_cidrs": addresses_in_cidrs,
            "firewall_visible_ports": firewall_visible_ports,
            "tier_firewall_rules": tier_firewall_rules,
            "nft_comparable": nft_comparable,
        }
