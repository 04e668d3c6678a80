#!/usr/bin/env python3
"""One vocabulary for tags and handler topics in every role (docs/development.md, "Tags and handlers").

Rules, per role:
- tasks/main.yml imports preflight.yml with `tags: [always]` only;
- every other import is tagged with the role's name and `<role>_<suffix>`, the
  suffix one of install, configure, service, or the name of one of the role's
  task files (a concern: `hardening_ssh` for ssh.yml);
- the role's README names every such tag;
- a handler listens on `<role> <action>[ <object>]`, and something notifies it.

Run by `make lint`; prints one line per breach and exits 1 if there is any.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("install", "configure", "service")
IMPORT = "ansible.builtin.import_tasks"


def notified_topics(role: Path) -> set[str]:
    """Every handler name or topic notified by a task of the role.

    A handler handed to an imported role counts too: a `vars` entry named
    `*_notify` (internal_ca's certificate entry point notifies the caller's handler).
    """
    found: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            notify = node.get("notify")
            if isinstance(notify, str):
                found.add(notify)
            elif isinstance(notify, list):
                found.update(n for n in notify if isinstance(n, str))
            passed = node.get("vars")
            if isinstance(passed, dict):
                found.update(v for k, v in passed.items() if k.endswith("_notify") and isinstance(v, str))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for path in [*sorted((role / "tasks").glob("*.yml")), role / "handlers" / "main.yml"]:
        if path.is_file():
            walk(yaml.safe_load(path.read_text()))
    return found


def role_breaches(role: Path) -> list[str]:
    name = role.name
    main = role / "tasks" / "main.yml"
    concerns = {p.stem for p in (role / "tasks").glob("*.yml")}
    allowed = {name} | {f"{name}_{suffix}" for suffix in (*STAGES, *concerns)}
    readme = (role / "README.md").read_text() if (role / "README.md").is_file() else ""
    breaches = []
    for entry in yaml.safe_load(main.read_text()) or []:
        target, tags = entry.get(IMPORT), entry.get("tags", [])
        if target is None:
            continue
        where = f"roles/{name}/tasks/main.yml ({target})"
        if target == "preflight.yml":
            if tags != ["always"]:
                breaches.append(f"{where}: preflight must be tagged [always] only, not {tags}")
            continue
        if name not in tags:
            breaches.append(f"{where}: tags {tags} lack the role's name '{name}'")
        for tag in tags:
            if tag not in allowed:
                breaches.append(f"{where}: tag '{tag}' is not {name}_install|_configure|_service or "
                                f"{name}_<task file>")
            elif f"`{tag}`" not in readme:
                breaches.append(f"roles/{name}/README.md: does not name the tag `{tag}`")
    handlers = role / "handlers" / "main.yml"
    if handlers.is_file():
        notified = notified_topics(role)
        for handler in yaml.safe_load(handlers.read_text()) or []:
            topic = handler.get("listen")
            where = f"roles/{name}/handlers/main.yml ('{handler.get('name')}')"
            if not isinstance(topic, str) or topic.split(" ")[0] != name or len(topic.split(" ")) < 2:
                breaches.append(f"{where}: listen must be '{name} <action>[ <object>]', not {topic!r}")
            elif topic not in notified and handler.get("name") not in notified:
                breaches.append(f"{where}: nothing notifies '{topic}'")
    return breaches


def main() -> int:
    roles = sorted(p for p in (ROOT / "roles").iterdir() if (p / "tasks" / "main.yml").is_file())
    breaches = list(dict.fromkeys(line for role in roles for line in role_breaches(role)))
    for line in breaches:
        print(line)
    print(f"check-tags: {len(roles)} roles, {len(breaches)} breach(es)")
    return 1 if breaches else 0


if __name__ == "__main__":
    sys.exit(main())
