"""Helpers shared by every Testinfra suite (on PYTHONPATH via the Molecule base config).

Everything here is bounded: waits take a timeout, SSH takes a connect timeout.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from contextlib import contextmanager


def wait_for(probe: Callable[[], bool], timeout: float = 30.0, interval: float = 1.0) -> bool:
    """Call probe until it returns true or timeout seconds pass; return the last result."""
    deadline = time.monotonic() + timeout
    while True:
        if probe():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def journal(host, unit: str, lines: int = 40) -> str:
    """Last lines of a unit's journal on a Testinfra host, for failure messages."""
    return host.run(f"journalctl -u {unit} -n {lines} --no-pager").stdout


@contextmanager
def journal_on_failure(host, unit: str):
    """Print the unit's journal when the wrapped assertions fail, then re-raise."""
    try:
        yield
    except AssertionError:
        print(f"--- journalctl -u {unit} on {host.backend.get_hostname()} ---")
        print(journal(host, unit))
        raise


def ephemeral_path(name: str) -> str:
    """Path of a file in the scenario's Molecule ephemeral directory."""
    return os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], name)


def container_ip(name: str) -> str:
    """First IP address Docker gave the named container."""
    out = subprocess.run(
        ["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", name],
        check=True, capture_output=True, text=True, timeout=30,
    ).stdout.split()
    return out[0]


def ssh(address: str, user: str, key: str, command: str = "true", timeout: int = 10) -> subprocess.CompletedProcess:
    """Log in over SSH from the test machine with only the given key, as a real user would."""
    return subprocess.run(
        [
            "ssh", "-i", key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", f"ConnectTimeout={timeout}", "-o", "LogLevel=ERROR",
            f"{user}@{address}", command,
        ],
        capture_output=True, text=True, timeout=timeout + 20,
    )


def tcp_probe_command(address: str, port: int, timeout: float = 3.0) -> str:
    """Shell command that tries one TCP connection and prints 'open', 'refused' or 'timeout'.

    'refused' means the packet reached the host and nothing listens (allowed by its
    firewall); 'timeout' means it was dropped on the way (a firewall's drop policy).
    """
    script = (
        "import socket\n"
        f"s=socket.socket(socket.AF_INET6 if ':' in '{address}' else socket.AF_INET); s.settimeout({timeout})\n"
        f"try:\n s.connect(('{address}',{int(port)})); print('open')\n"
        "except ConnectionRefusedError: print('refused')\n"
        "except OSError: print('timeout')\n"
    )
    return f'python3 -c "{script}"'
