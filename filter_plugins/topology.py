"""Filters that turn the inventory topology into data roles consume.

Pure functions: no I/O, no network. Unit tests: tests/unit/test_topology.py.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: etc_hosts_entries
short_description: /etc/hosts entries for inventory hosts
description:
  - Builds one entry per host from its address variable (private_ip by default),
    with the fully qualified name first and the short name second.
  - Fails on a missing or invalid address and on two hosts sharing one address.
positional: hosts, domain, address_var
options:
  _input:
    description: hostvars (or any mapping of host name to its variables).
    type: dict
    required: true
  hosts:
    description: Inventory host names to include, usually groups['all'].
    type: list
    elements: str
    required: true
  domain:
    description: DNS domain appended to short host names; empty leaves names as they are.
    type: str
    default: ""
  address_var:
    description: Host variable that holds the address.
    type: str
    default: private_ip
---
name: unfilled_inventory
short_description: What an operator still has to fill in before a run
description:
  - For each host and each variable required of its groups, reports the variable when it is
    missing, contains the placeholder marker, or is an address in an RFC 5737 documentation range.
  - Returns one line per variable, naming the hosts concerned, sorted.
positional: groups, required, marker
"""

EXAMPLES = r"""
common_etc_hosts: "{{ hostvars | etc_hosts_entries(groups['all'], paas_internal_domain) }}"
# -> [{'ip': '10.80.0.10', 'names': ['lb1.sandbox.internal', 'lb1']}, ...]

problems: "{{ hostvars | unfilled_inventory(groups, {'all': ['ansible_host', 'vault_admin_password_hashes']}) }}"
# -> ['vault_admin_password_hashes is missing on: app1, app2, ...']
"""

# RFC 5737: addresses reserved for documentation, used as placeholders in the inventories.
DOCUMENTATION_NETWORKS = tuple(
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)


def _host_names(host: str, domain: str) -> list[str]:
    if "." in host or not domain:
        short = host.split(".", 1)[0]
        return [host] if short == host else [host, short]
    return [f"{host}.{domain}", host]


def etc_hosts_entries(
    hostvars: Mapping, hosts: Iterable[str], domain: str = "", address_var: str = "private_ip"
) -> list[dict]:
    """Return [{'ip': ..., 'names': [fqdn, short]}] for hosts, in the given order."""
    if not isinstance(hosts, Iterable) or isinstance(hosts, str | bytes):
        raise AnsibleFilterError(f"etc_hosts_entries: hosts must be a list of host names, got {hosts!r}")
    if not isinstance(domain, str):
        raise AnsibleFilterError(f"etc_hosts_entries: domain must be a string, got {domain!r}")
    entries: list[dict] = []
    seen: dict[str, str] = {}
    for host in hosts:
        variables = hostvars.get(host) if hasattr(hostvars, "get") else None
        if variables is None:
            raise AnsibleFilterError(f"etc_hosts_entries: host {host!r} is not in hostvars")
        raw = variables.get(address_var)
        if raw in (None, ""):
            raise AnsibleFilterError(f"etc_hosts_entries: host {host!r} has no {address_var}")
        try:
            address = str(ipaddress.ip_address(str(raw)))
        except ValueError:
            raise AnsibleFilterError(
                f"etc_hosts_entries: {address_var} of host {host!r} is not an IP address: {raw!r}"
            ) from None
        if address in seen:
            raise AnsibleFilterError(
                f"etc_hosts_entries: hosts {seen[address]!r} and {host!r} share {address_var} {address}"
            )
        seen[address] = host
        entries.append({"ip": address, "names": _host_names(host, domain)})
    return entries


def _is_placeholder(value, marker: str) -> bool:
    if isinstance(value, str):
        if marker and marker in value:
            return True
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            return False
        return any(network.subnet_of(doc) for doc in DOCUMENTATION_NETWORKS if doc.version == network.version)
    if isinstance(value, Mapping):
        return any(_is_placeholder(v, marker) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_is_placeholder(v, marker) for v in value)
    return False


def unfilled_inventory(hostvars: Mapping, groups: Mapping, required: Mapping, marker: str = "CHANGE_ME") -> list[str]:
    """Return sorted lines 'VAR is missing on: h1, h2' / 'VAR is still a placeholder on: ...'."""
    if not isinstance(required, Mapping):
        raise AnsibleFilterError(
            f"unfilled_inventory: required must map group names to variable lists, got {required!r}"
        )
    missing: dict[str, set[str]] = {}
    placeholder: dict[str, set[str]] = {}
    for group, names in required.items():
        if isinstance(names, str) or not isinstance(names, Iterable):
            raise AnsibleFilterError(f"unfilled_inventory: required[{group!r}] must be a list of names, got {names!r}")
        for host in groups.get(group, []):
            variables = hostvars[host]
            for name in names:
                try:
                    present = name in variables
                    value = variables[name] if present else None
                except Exception:  # an undefined vault_* reference surfaces here as any AnsibleError
                    present, value = False, None
                if not present:
                    missing.setdefault(name, set()).add(host)
                elif _is_placeholder(value, marker):
                    placeholder.setdefault(name, set()).add(host)
    lines = [f"{n} is missing on: {', '.join(sorted(h))}" for n, h in missing.items()]
    lines += [f"{n} is still a placeholder ({marker} or a documentation address) on: {', '.join(sorted(h))}"
              for n, h in placeholder.items()]
    return sorted(lines)


class FilterModule:
    """Topology filters."""

    def filters(self):
        return {
            "etc_hosts_entries": etc_hosts_entries,
            "unfilled_inventory": unfilled_inventory,
        }
