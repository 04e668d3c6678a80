"""Shared by the benchmark scripts (run as `.venv/bin/python benchmarks/NAME.py`): commands run
from the repository root, a failed step stops the benchmark with its output, and throwaway test
hosts are started and removed with the shared Molecule create/destroy playbooks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")
# The venv's tools (ansible-inventory, ansible-vault) first on PATH for the test helpers below.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
# What the test suites also need comes from their helpers, written once.
sys.path.insert(0, str(ROOT / "tests" / "lib"))
from paas_testlib import (  # noqa: E402  (after the path it is found on)
    SANDBOX_VAULT_ID,
    container_ip,
    inventory_host,
    network_bridge,
)

__all__ = ["PLAYBOOK", "ROOT", "SANDBOX_VAULT_ID", "container_ip", "converge", "in_host", "inventory_host", "must",
           "network_bridge", "run", "test_hosts"]


def run(argv: list[str], timeout: int = 900, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False, timeout=timeout,
                          env={**os.environ, **(env or {})})


def must(argv: list[str], what: str, timeout: int = 900, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = run(argv, timeout, env)
    if proc.returncode != 0:
        sys.exit(f"{Path(sys.argv[0]).stem} benchmark: {what} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return proc


def in_host(name: str, command: str, what: str, timeout: int = 900) -> None:
    """Run a shell command in a test host's container; a failure stops the benchmark, naming what."""
    must(["docker", "exec", name, "sh", "-c", command], f"{what} on {name}", timeout=timeout)


@contextmanager
def test_hosts(names: list[str], network: str, keep: bool = False, memory: str | None = None) -> Iterator[None]:
    """Test hosts from the project image on one network, removed afterwards unless keep."""
    platforms = [{"name": n, "networks": [{"name": network}], **({"memory": memory} if memory else {})} for n in names]
    # Their own inventory (the controller only, with the controller's Python as Ansible's implicit
    # localhost has it), not ansible.cfg's default, the sandbox's, whose vaulted variables would
    # need the sandbox's vault identity.
    local = [PLAYBOOK, "-i", "localhost,", "-e", f"ansible_python_interpreter={sys.executable}",
             "-e", json.dumps({"molecule_yml": {"platforms": platforms}})]
    try:
        must([*local, ".config/molecule/create.yml"], "creating the test hosts", 600)
        yield
    finally:
        if not keep:
            run([*local, ".config/molecule/destroy.yml"], 300)


def converge(names: list[str], playbook: str, timeout: int = 1800) -> None:
    """Apply a playbook to the test hosts. Facts are gathered afresh: a host recreated under the same
    name has a new address, which the project's fact cache would not know."""
    must([PLAYBOOK, "-i", ",".join(names) + ",", "-c", "community.docker.docker", playbook],
         f"converging {', '.join(names)} with {playbook}", timeout, env={"ANSIBLE_CACHE_PLUGIN": "memory"})

