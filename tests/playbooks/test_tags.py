"""Every tag a role's tasks/main.yml puts on a concern reaches every task of that concern.

`include_tasks` does not pass tags on to the tasks it includes, so a concern
reached through it is silently skipped by `--tags <concern>`. Ansible's own
task list (`ansible-playbook --list-tasks`, no host contacted) shows each
task with the tags it will run under; this test reads each concern's task
files (following `import_tasks`) and checks every task is listed with the
tags its concern promises.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "tasks" / "main.yml").is_file())
IMPORT = "ansible.builtin.import_tasks"
INCLUDE = "ansible.builtin.include_tasks"
IMPORT_ROLE = "ansible.builtin.import_role"
INCLUDE_ROLE = "ansible.builtin.include_role"


def tasks_in(path: Path, role: str, tasks: list | None = None) -> list[tuple[str, str]]:
    """(role, name) of the tasks a task file (or a block's task list in it) runs, following import_tasks
    and include_tasks of a fixed file, and import_role of another role's tasks_from (internal_ca's
    certificate entry point). An include_tasks whose `apply` tags what it includes `always` counts as
    one task, the include (internal_ca's once-per-run steps)."""
    names: list[tuple[str, str]] = []
    for task in (yaml.safe_load(path.read_text()) or []) if tasks is None else tasks:
        include = task.get(INCLUDE)
        if isinstance(include, dict) and "always" in (include.get("apply") or {}).get("tags", []):
            # What it includes runs whenever the include does: the include itself needs the tags.
            names.append((role, task["name"]))
            continue
        nested = task.get(IMPORT) or task.get(INCLUDE)
        imported = task.get(IMPORT_ROLE)
        if nested and "{{" not in nested:
            names += tasks_in(path.parent / nested, role)
        elif imported:
            other = imported["name"]
            names += tasks_in(path.parents[2] / other / "tasks" / imported.get("tasks_from", "main.yml"), other)
        elif "block" in task:  # --list-tasks shows a block's tasks, not its rescue or always parts
            names += tasks_in(path, role, task["block"])
        else:
            names.append((role, task["name"]))
    return names


def listed_tags(roles: Path, role: str, tmp_path: Path) -> dict[tuple[str, str], set[str]]:
    """(role, task name) -> tags, as `ansible-playbook --list-tasks` shows them for a play applying the role."""
    play = tmp_path / "play.yml"
    play.write_text(f"- hosts: localhost\n  gather_facts: false\n  roles: [{role}]\n")
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="false", ANSIBLE_ROLES_PATH=str(roles))
    out = subprocess.run(["ansible-playbook", "-i", "localhost,", str(play), "--list-tasks"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120, check=True).stdout
    listed: dict[tuple[str, str], set[str]] = {}
    for line in out.splitlines():
        # An include_role task is listed without its role's prefix.
        match = re.match(r"\s+(?:(\S+) : )?(.*)\tTAGS: \[(.*)\]$", line)
        if match:
            listed.setdefault((match[1] or role, match[2]), set()).update(
                t.strip() for t in match[3].split(",") if t.strip())
    return listed


def tasks_missing_tags(roles: Path, role: str, tmp_path: Path) -> list[str]:
    """Tasks of a concern that `--tags <concern tag>` would not run, one line each."""
    main = roles / role / "tasks" / "main.yml"
    listed = listed_tags(roles, role, tmp_path)
    missing = []
    for concern in yaml.safe_load(main.read_text()):
        tags = set(concern.get("tags", [])) - {"always"}
        if IMPORT not in concern or not tags:
            continue
        for name in tasks_in(main.parent / concern[IMPORT], role):
            if not tags <= listed.get(name, set()):
                missing.append(f"{concern[IMPORT]}: '{name[1]}' lacks {sorted(tags - listed.get(name, set()))}")
        # The tasks an include_role runs are not listed (it is dynamic), and get the concern's
        # tags only through its `apply`.
        for task in yaml.safe_load((main.parent / concern[IMPORT]).read_text()) or []:
            applied = set(((task.get(INCLUDE_ROLE) or {}).get("apply") or {}).get("tags", []))
            if INCLUDE_ROLE in task and not tags <= applied:
                missing.append(f"{concern[IMPORT]}: '{task['name']}' (include_role) applies {sorted(applied)}, "
                               f"not {sorted(tags)}")
    return missing


@pytest.mark.parametrize("role", ROLES)
def test_each_concern_tag_reaches_every_task_of_the_concern(role, tmp_path):
    missing = tasks_missing_tags(ROOT / "roles", role, tmp_path)
    assert not missing, "\n".join(missing)


def test_the_check_sees_a_concern_reached_through_include_tasks(tmp_path):
    """The check above can fail: a task reached through include_tasks loses its concern's tags."""
    tasks = tmp_path / "roles" / "probe" / "tasks"
    tasks.mkdir(parents=True)
    (tasks / "main.yml").write_text(f"- name: Concern\n  {IMPORT}: concern.yml\n  tags: [probe, probe_concern]\n")
    (tasks / "inner.yml").write_text("- name: Inner task\n  ansible.builtin.debug:\n    msg: inner\n")
    (tasks / "concern.yml").write_text(f"- name: Inner file\n  {INCLUDE}: inner.yml\n")
    assert tasks_missing_tags(tmp_path / "roles", "probe", tmp_path) == [
        "concern.yml: 'Inner task' lacks ['probe', 'probe_concern']"]
    (tasks / "concern.yml").write_text(f"- name: Inner file\n  {IMPORT}: inner.yml\n")
    assert tasks_missing_tags(tmp_path / "roles", "probe", tmp_path) == []
    # An include whose `apply` tags what it includes `always` passes: those tasks run whenever it does.
    (tasks / "concern.yml").write_text(
        f"- name: Inner file\n  {INCLUDE}:\n    file: inner.yml\n    apply:\n      tags: [always]\n")
    assert tasks_missing_tags(tmp_path / "roles", "probe", tmp_path) == []
