"""The repository's shape: one naming rule for the Testinfra files of every Molecule scenario,
one rule for what the roles install, and one outline for the role READMEs.

A role's default scenario tests live in test_<role>.py, another scenario's in test_<scenario>.py;
a scenario with more than one file names the others <that stem>_<topic>.py, so they sort after it
(pytest runs the files in name order, and the extra files build on the main one's host state).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# A linked scenario (shared with a companion role) is checked under its owner's name.
SCENARIOS = sorted(p for p in ROOT.glob("roles/*/molecule/*") if (p / "tests").is_dir() and not p.is_symlink())


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: f"{p.parts[-3]}/{p.name}")
def test_testinfra_files_are_named_after_the_role_or_the_scenario(scenario):
    role = scenario.parts[-3]
    stem = f"test_{role}" if scenario.name == "default" else f"test_{scenario.name}"
    files = sorted(p.stem for p in (scenario / "tests").glob("test_*.py"))
    assert stem in files, f"{scenario.relative_to(ROOT)}/tests has no {stem}.py (it has {files})"
    assert all(name == stem or name.startswith(f"{stem}_") for name in files), files


def _tasks(node):
    """Every task in a task list, blocks and their rescue/always lists included."""
    for task in node or []:
        if isinstance(task, dict):
            yield task
            for key in ("block", "rescue", "always"):
                yield from _tasks(task.get(key))


APT_TASKS = sorted(
    (f"{path.relative_to(ROOT)}: {task.get('name')}", task["ansible.builtin.apt"])
    for path in sorted([*ROOT.glob("roles/*/tasks/*.yml"), *ROOT.glob("playbooks/**/*.yml"),
                        *ROOT.glob("sandbox/*.yml"), *ROOT.glob("roles/*/molecule/*/*.yml")])
    for play in (yaml.safe_load(path.read_text()) or [])
    for task in _tasks(play.get("tasks") if isinstance(play, dict) and "hosts" in play else [play])
    if isinstance(task.get("ansible.builtin.apt"), dict) and task["ansible.builtin.apt"].get("state") == "present"
)


def test_the_roles_install_packages_with_apt():
    assert len(APT_TASKS) >= 20


@pytest.mark.parametrize("task", APT_TASKS, ids=[name for name, _ in APT_TASKS])
def test_each_install_leaves_out_recommends_and_names_what_it_uses(task):
    # A recommend a role relies on is listed by name beside the package (roles/hardening/vars/main.yml).
    _, arguments = task
    assert arguments.get("install_recommends") is False


# A role's install runs apt only for a missing package (filter_plugins/packages.py): apt opens its whole
# package cache on every call, about half a second of the host's CPU, where dpkg-query answers in milliseconds.
ROLE_APT_TASKS = sorted(
    (f"{path.relative_to(ROOT)}: {task.get('name')}", str(task.get("when", "")))
    for path in sorted(ROOT.glob("roles/*/tasks/*.yml"))
    for task in _tasks(yaml.safe_load(path.read_text()))
    if isinstance(task.get("ansible.builtin.apt"), dict) and task["ansible.builtin.apt"].get("state") == "present"
)


@pytest.mark.parametrize("task", ROLE_APT_TASKS, ids=[name for name, _ in ROLE_APT_TASKS])
def test_each_role_install_runs_apt_only_for_a_missing_package(task):
    _, when = task
    assert "| dpkg_missing(" in when, "ask dpkg-query first and run apt only for a missing package (packages.py)"


# Every role README has these sections, in this order (others may sit between them).
README_SECTIONS = ("Requirements", "Role variables", "Tags", "Dependencies", "Example", "Idempotence and check mode",
                   "Tests")
ROLES = sorted(p for p in (ROOT / "roles").iterdir() if (p / "meta" / "argument_specs.yml").is_file())


def readme_named_variables(text: str) -> set:
    """The variables a README names in backquotes; a row's `_suffix` shorthand after a full name
    (`certbot_rfc2136_server`, `_port`) names the variable with that suffix in place of the full
    name's last words, or after all of them (`nginx_rate_limit`, `_burst`)."""
    names = set()
    for line in text.splitlines():
        full = ""
        for token in re.findall(r"`([a-z0-9_]+)`", line):
            if not token.startswith("_"):
                full = token
                names.add(token)
            elif full:
                words = full.split("_")
                names.update("_".join(words[:len(words) - k]) + token for k in range(len(words)))
    return names


def test_a_shorthand_suffix_names_the_variable_it_completes():
    named = readme_named_variables("| `certbot_rfc2136_server`, `_port`, `_key_name` | ... |")
    assert {"certbot_rfc2136_server", "certbot_rfc2136_port", "certbot_rfc2136_key_name"} <= named
    assert "certbot_port" in named and "_port" not in named
    assert "nginx_rate_limit_burst" in readme_named_variables("| `nginx_rate_limit`, `_burst` |")


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_the_readme_has_the_house_sections_in_order(role):
    headings = re.findall(r"^## (.+?)\s*$", (role / "README.md").read_text(), re.MULTILINE)
    found = [h for h in headings if h in README_SECTIONS]
    assert found == list(README_SECTIONS), f"roles/{role.name}/README.md sections: {headings}"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_the_readme_names_every_variable_of_the_argument_specs(role):
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    named = readme_named_variables((role / "README.md").read_text())
    missing = sorted(f"{entry}: {option}" for entry, spec in specs.items()
                     for option in spec.get("options") or {} if option not in named)
    assert not missing, f"roles/{role.name}/README.md does not name {missing}"
