"""Which Debian packages a host lacks or still has, from dpkg-query's answer. Pure functions; tests:
tests/unit/test_packages.py.

    {{ query.stdout | dpkg_missing(packages) }}  -> the packages not installed, in the order asked
    {{ query.stdout | dpkg_present(packages) }}  -> the packages with anything left to remove or purge

The roles' install steps ask dpkg-query first (milliseconds) and run apt, which opens its whole package
cache on every call (about half a second of the host's CPU), only for a package that is missing
(docs/benchmarks.md, "apt only for a missing package").
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: dpkg_missing
short_description: The packages of a list that dpkg-query does not report as installed
description:
  - The input is the standard output of
    C(dpkg-query --show --showformat='${db:Status-Abbrev}${Package}\n' PACKAGE...), one line per package dpkg knows,
    its status letters then its name; a package dpkg does not know has no line.
  - A package counts as installed only with the status C(ii) and no error flag (C(ii ) then its name); half-installed,
    removed with its configuration kept (C(rc)) or marked for reinstallation counts as missing, so apt runs for it.
  - A name with a version or an architecture (C(pkg=1.0), C(pkg:amd64)) never matches a line and always counts as
    missing: apt decides for it, as without this filter.

---
name: dpkg_present
short_description: The packages of a list of which dpkg-query reports anything on the host
description:
  - The same input as dpkg_missing. A package counts as present in any state but not-installed (second status letter
    C(n)): installed, half-installed, or removed with its configuration kept (C(rc)), which a purge removes.
"""

INSTALLED = "ii "


def _check(name: str, query_output, packages) -> None:
    if not isinstance(query_output, str):
        raise AnsibleFilterError(f"{name}: expects dpkg-query's standard output (a string), got {query_output!r}")
    if not isinstance(packages, list) or not all(isinstance(package, str) for package in packages):
        raise AnsibleFilterError(f"{name}: expects a list of package names, got {packages!r}")


def dpkg_missing(query_output, packages) -> list:
    _check("dpkg_missing", query_output, packages)
    installed = {line[len(INSTALLED):].strip() for line in query_output.splitlines() if line.startswith(INSTALLED)}
    return [name for name in dict.fromkeys(packages) if name not in installed]


def dpkg_present(query_output, packages) -> list:
    _check("dpkg_present", query_output, packages)
    present = {line[3:].strip() for line in query_output.splitlines() if len(line) > 3 and line[1] != "n"}
    return [name for name in dict.fromkeys(packages) if name in present]


class FilterModule:
    """Package filters."""

    def filters(self):
        return {"dpkg_missing": dpkg_missing, "dpkg_present": dpkg_present}
