"""The repository's shape: one naming rule for the Testinfra files of every Molecule scenario,
and one rule for what the roles install.

A role's default scenario tests live in test_<role>.py, another scenario's in test_<scenario>.py;
a scenario with more than one file names the others <that stem>_<topic>.py, so they sort after it
(pytest runs the files in name order, and the extra files build on the main one's host state).
"""

from __future__ import annotations

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
