#!/usr/bin/env python3
"""Every repository path a document or a comment names must exist.

Reads the Markdown files (README.md, docs/, role and inventory READMEs) and the
comments of the YAML, Python, shell and config files, finds what looks like a
path inside the repository (it starts with one of the repository's top-level
directories, or is a top-level file), and reports each one that exists neither
from the repository root nor from the naming file's own directory (a role
README names `defaults/main.yml`). Placeholders (`<role>`, `*`, `{a,b}`,
`...`) are read as glob patterns. Run by `make lint`; exit 1 on any miss.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOP_DIRS = ("roles", "playbooks", "docs", "scripts", "benchmarks", "tests", "inventories", "filter_plugins",
            "strategy_plugins", "sandbox", "examples", ".config", ".ci", "molecule")
TOP_FILES = ("ansible.cfg", "Makefile", "requirements.txt", "requirements-deploy.txt", "requirements.yml",
             "pyproject.toml", "README.md")
ROLE_PARTS = ("defaults/", "tasks/", "handlers/", "templates/", "meta/", "vars/", "files/", "molecule/")
COMMENTED = {".yml", ".yaml", ".py", ".sh", ".cfg", ".j2", ".toml"}
# A path: a top-level directory followed by path characters, or a top-level file name.
_DIRS = "|".join(re.escape(d) for d in TOP_DIRS)
_FILES = "|".join(re.escape(f) for f in TOP_FILES)
_PARTS = "|".join(re.escape(p) for p in ROLE_PARTS)
PATH_RE = re.compile(rf"(?<![\w./-])((?:{_DIRS})/[\w./<>*{{}},-]*|(?:{_FILES}))(?![\w/-])")
ROLE_RE = re.compile(rf"`((?:{_PARTS})[\w./<>*{{}},-]*)`")


def tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [ROOT / line for line in out.splitlines()]


def named_paths(text: str, in_role_readme: bool = False) -> list[str]:
    """The repository paths a line names, without the sentence's trailing punctuation."""
    found = [m.group(1) for m in PATH_RE.finditer(text)]
    if in_role_readme:
        found += [m.group(1) for m in ROLE_RE.finditer(text)]
    return [name.rstrip(".,:;)") for name in found if name.rstrip("/.,:;)") not in TOP_DIRS]


def exists(candidate: str, base: Path) -> bool:
    """True if the path exists, or is made from an `.example` beside it (a vault the user creates)."""
    if (ROOT / f"{candidate}.example").exists():
        return True
    if "..." in candidate:
        candidate = candidate.split("...")[0]
    pattern = re.sub(r"<[^>]*>|\{[^}]*\}", "*", candidate)
    for start in (ROOT, base):
        if any(ch in pattern for ch in "*?"):
            if any(start.glob(pattern.rstrip("/"))):
                return True
        elif (start / pattern).exists():
            return True
    return False


def texts(path: Path) -> list[tuple[int, str]]:
    """The lines of a file that are prose: every line of Markdown, the comments of code and config."""
    lines = path.read_text(errors="replace").splitlines()
    if path.suffix == ".md":
        return list(enumerate(lines, 1))
    out = []
    for number, line in enumerate(lines, 1):
        if "#" in line:
            out.append((number, line[line.index("#"):]))
    return out


def main() -> int:
    misses = []
    for path in tracked_files():
        if not path.is_file() or (path.suffix != ".md" and path.suffix not in COMMENTED and path.name != "Makefile"):
            continue
        rel = path.relative_to(ROOT)
        for number, text in texts(path):
            for candidate in named_paths(text, path.suffix == ".md" and rel.parts[0] == "roles"):
                if not exists(candidate, path.parent):
                    misses.append(f"{rel}:{number}: names {candidate}, which does not exist")
    for miss in misses:
        print(miss)
    print(f"check-doc-paths: {len(misses)} path(s) named but missing")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
