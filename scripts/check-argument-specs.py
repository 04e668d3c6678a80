#!/usr/bin/env python3
"""Check every role's meta/argument_specs.yml against its defaults/main.yml.

For each role: the options of the `main` entry point must be exactly the keys of
defaults/main.yml, except options marked `required: true` (they have no safe
default and are left out of defaults on purpose), and each documented default
must equal the value in defaults/main.yml. Prints one line per role and exits
non-zero when any role disagrees.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def check_role(role: Path) -> list[str]:
    specs_file = role / "meta" / "argument_specs.yml"
    defaults_file = role / "defaults" / "main.yml"
    if not specs_file.is_file():
        return [f"{specs_file.relative_to(ROOT)} is missing"]
    specs = yaml.safe_load(specs_file.read_text()) or {}
    options = (specs.get("argument_specs", {}).get("main") or {}).get("options") or {}
    defaults = yaml.safe_load(defaults_file.read_text()) if defaults_file.is_file() else {}
    defaults = defaults or {}
    problems = []
    optional = {k for k, v in options.items() if not (v or {}).get("required")}
    for key in sorted(set(defaults) - set(options)):
        problems.append(f"{key} is in defaults/main.yml but not in argument_specs")
    for key in sorted(optional - set(defaults)):
        problems.append(f"{key} is an optional argument_specs option without a value in defaults/main.yml")
    for key in sorted(set(defaults) & optional):
        if "default" not in options[key]:
            problems.append(f"{key}: argument_specs has no default (defaults/main.yml has {defaults[key]!r})")
        elif options[key]["default"] != defaults[key]:
            problems.append(
                f"{key}: argument_specs default {options[key]['default']!r} != defaults/main.yml {defaults[key]!r}"
            )
    return problems


def main() -> int:
    roles = sorted(p for p in (ROOT / "roles").iterdir() if (p / "tasks").is_dir())
    failed = 0
    for role in roles:
        problems = check_role(role)
        if problems:
            failed += 1
            print(f"FAIL {role.name}")
            for problem in problems:
                print(f"  - {problem}")
        else:
            print(f"PASS {role.name}")
    print(f"{len(roles) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
