"""The drift check: clean after a converge, reports a hand-made change with its diff, and a converge repairs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from paas_testlib import ssh

ROOT = Path(__file__).resolve().parents[2]
HOST, ADDRESS = "redis1", "10.80.0.15"
JOURNALD_DROPIN = "/etc/systemd/journald.conf.d/50-common.conf"


def drift(*args: str) -> subprocess.CompletedProcess:
    # One host and the common role's configuration keep the test quick; the mechanism is the nightly one.
    return subprocess.run([sys.executable, "scripts/drift-report.py", "inventories/sandbox", "--limit", HOST,
                           "--tags", "common_configure", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


def as_root(command: str) -> subprocess.CompletedProcess:
    return ssh(ADDRESS, "debian", str(ROOT / ".sandbox" / "ansible_ed25519"), f"sudo sh -c '{command}'")


def test_drift_is_reported_with_its_diff_then_repaired():
    clean = drift()
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "No drift." in clean.stdout

    assert as_root(f"sed -i s/^SystemMaxUse=.*/SystemMaxUse=2G/ {JOURNALD_DROPIN}").returncode == 0
    try:
        found = drift()
        assert found.returncode == 2, found.stdout + found.stderr
        assert f"{HOST}:" in found.stdout
        assert "Configure journald storage and size cap" in found.stdout
        assert "-SystemMaxUse=2G" in found.stdout
        # Check mode changed nothing on the host.
        assert "SystemMaxUse=2G" in as_root(f"cat {JOURNALD_DROPIN}").stdout
    finally:
        repair = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "inventories/sandbox",
                                 "playbooks/site.yml", "--limit", HOST, "--tags", "common_configure"],
                                cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert repair.returncode == 0, repair.stdout[-3000:]
    assert drift().returncode == 0
