"""Filters for the kamal_host role and the Kamal deploy configuration.

Pure functions: no I/O. Unit tests: tests/unit/test_kamal.py.

    {{ ansible_facts.mounts | path_mount('/var/lib/docker') }}   -> the mount holding that path
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping

try:
    from ansible.errors import AnsibleFilterError
except ImportError:  # pragma: no cover - only without ansible-core installed
    class AnsibleFilterError(Exception):
        """Stand-in when ansible-core is absent."""

DOCUMENTATION = r"""
name: path_mount
short_description: The mount (from Ansible's mounts fact) whose filesystem holds a path
description:
  - The entry with the longest mount point that is the path or one of its parents; an empty
    dict when no mount matches (no facts gathered).
"""

EXAMPLES = r"""
__docker_mount: "{{ ansible_facts['mounts'] | path_mount('/var/lib/docker') }}"
# __docker_mount.size_available: free bytes
"""


def _is_under(path: str, mount_point: str) -> bool:
    return mount_point == "/" or path == mount_point or path.startswith(mount_point.rstrip("/") + "/")


def path_mount(mounts: Iterable[Mapping], path: str) -> dict:
    """The mounts-fact entry whose mount point is the deepest parent of path (or path itself)."""
    if isinstance(mounts, str | Mapping) or not isinstance(mounts, Iterable):
        raise AnsibleFilterError(f"path_mount: expected the mounts fact (a list), got {mounts!r}")
    if not isinstance(path, str) or not path.startswith("/"):
        raise AnsibleFilterError(f"path_mount: expected an absolute path, got {path!r}")
    path = posixpath.normpath(path)
    best: dict = {}
    for mount in mounts:
        point = mount.get("mount")
        if not isinstance(point, str) or not _is_under(path, point):
            continue
        if not best or len(point) >= len(best["mount"]):
            best = dict(mount)
    return best


class FilterModule:
    """Kamal filters."""

    def filters(self):
        return {
            "path_mount": path_mount,
        }
