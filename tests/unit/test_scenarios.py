"""The Molecule scenarios can run side by side (scripts/test-all.py runs two at a time):
no two scenarios share a container name, a network name or a fixed subnet, and none
uses the sandbox's."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
# A role's scenario may be a link to a companion role's (one scenario, both roles): counted once.
SCENARIOS = sorted(path for path in [*ROOT.glob("roles/*/molecule/*/molecule.yml"),
                                      *ROOT.glob("molecule/*/molecule.yml")] if not path.parent.is_symlink())
SANDBOX = yaml.safe_load((ROOT / "inventories/sandbox/hosts.yml").read_text())["all"]["vars"]


def platforms() -> list[tuple[str, dict]]:
    found = []
    for path in SCENARIOS:
        data = yaml.safe_load(path.read_text()) or {}
        found += [(str(path.parent.relative_to(ROOT)), p) for p in data.get("platforms", [])]
    return found


def test_there_are_scenarios():
    assert len(SCENARIOS) >= 8


def test_every_role_has_a_scenario_and_a_linked_one_resolves_to_another_roles():
    for role in sorted(p for p in (ROOT / "roles").iterdir() if p.is_dir()):
        default = role / "molecule" / "default"
        assert (default / "molecule.yml").is_file(), f"{role.name} has no Molecule scenario"
        if default.is_symlink():
            target = default.resolve()
            assert target.parts[-4] == "roles" and target.parts[-3] != role.name, (role.name, target)
            assert f"role: {role.name}" in (target / "converge.yml").read_text(), (role.name, target)


def test_container_names_are_unique_across_scenarios():
    names = Counter(p["name"] for _, p in platforms())
    assert [n for n, k in names.items() if k > 1] == []


def test_networks_belong_to_one_scenario_each():
    owners: dict[str, set[str]] = {}
    for scenario, platform in platforms():
        for network in platform.get("networks", []):
            owners.setdefault(network["name"], set()).add(scenario)
    shared = {name: sorted(s) for name, s in owners.items() if len(s) > 1}
    assert shared == {}
    assert SANDBOX["sandbox_network"] not in owners


def test_fixed_subnets_do_not_overlap():
    subnets = [c["subnet"] for _, p in platforms() for n in p.get("docker_networks", [])
               for c in n.get("ipam_config", [])]
    subnets.append(SANDBOX["sandbox_subnet"])
    assert len(subnets) == len(set(subnets)), subnets
