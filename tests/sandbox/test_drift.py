"""The drift check: clean after a converge, reports a hand-made change with its diff, and a converge repairs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from paas_testlib import ssh, vault_args

ROOT = Path(__file__).resolve().parents[2]
HOST, ADDRESS = "redis1", "10.80.0.15"
JOURNALD_DROPIN = "/etc/systemd/journald.conf.d/50-common.conf"


def drift(limit: str = HOST, tags: str = "common_configure", *extra: str) -> subprocess.CompletedProcess:
    # One host and a few concerns keep the test quick; the mechanism is the nightly one.
    return subprocess.run([sys.executable, "scripts/drift-report.py", "inventories/sandbox", "--limit", limit,
                           *vault_args("inventories/sandbox"),
                           "--tags", tags, *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


def playbook(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "inventories/sandbox",
                           *vault_args("inventories/sandbox"), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


def converge(limit: str, tags: str) -> subprocess.CompletedProcess:
    return playbook("playbooks/site.yml", "--limit", limit, "--tags", tags)


def as_root(command: str, address: str = ADDRESS) -> subprocess.CompletedProcess:
    return ssh(address, "debian", str(ROOT / ".sandbox" / "ansible_ed25519"), f"sudo sh -c '{command}'")


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
        repair = converge(HOST, "common_configure")
    assert repair.returncode == 0, repair.stdout[-3000:]
    assert drift().returncode == 0


# What the hardening role owns besides its files (issue 15): planted on the load
# balancer, each is reported by `make drift` with its task, and a converge undoes it.
LB, LB_ADDRESS = "lb1", "10.80.0.10"
MON_ADDRESS = "10.80.0.16"
OWNED = "hardening_ssh,hardening_sudo,hardening_firewall"
PLANTED = [
    # (shell command run as root, task that reports it)
    ("printf 'PasswordAuthentication yes\\nPermitRootLogin yes\\n' > /etc/ssh/sshd_config.d/00-x.conf",
     "Remove sshd drop-ins the role does not know"),
    ("echo \"nobody ALL=(ALL) NOPASSWD: ALL\" > /etc/sudoers.d/99-x && chmod 0440 /etc/sudoers.d/99-x",
     "Remove the other drop-ins"),
    ("echo ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOx3m0nQpe2bJxZkqY1sB3v9rT5u8wV0yZa1b2c3d4e5 x >> "
     "/root/.ssh/authorized_keys", "Keep only the listed keys in root's authorized_keys"),
    ("nft insert rule inet paas_firewall input tcp dport 5432 accept",
     "Compare the running firewall with the rules file"),
]


def test_drift_reports_what_the_hardening_role_owns_and_a_converge_undoes_it():
    for command, _ in PLANTED:
        planted = as_root(command.replace("'", "'\\''"), LB_ADDRESS)
        assert planted.returncode == 0, planted.stderr
    metrics = ROOT / "reports" / "drift-sandbox-test.prom"
    try:
        found = drift(LB, OWNED, "--metrics-file", str(metrics))
        assert found.returncode == 2, found.stdout + found.stderr
        for _, task in PLANTED:
            assert task in found.stdout, found.stdout
        assert "tcp dport 5432 accept" in found.stdout
        # Published as `make drift PUBLISH=1` does: the monitoring host's node exporter serves it.
        published = playbook("playbooks/drift-metrics.yml", "-e", f"drift_metrics_file={metrics}")
        assert published.returncode == 0, published.stdout[-3000:]
        served = as_root('python3 -c "import sys, urllib.request as u; print(u.urlopen(sys.argv[1], timeout=10)'
                         f'.read().decode())" https://{MON_ADDRESS}:9100/metrics', MON_ADDRESS).stdout
        changes = [line for line in served.splitlines() if line.startswith(f'paas_drift_changes{{host="{LB}"}}')]
        assert changes and float(changes[0].split()[-1]) >= len(PLANTED), changes
        assert "paas_drift_check_success 1" in served
    finally:
        repair = converge(LB, OWNED)
    assert repair.returncode == 0, repair.stdout[-3000:]
    assert "5432" not in as_root("nft list chain inet paas_firewall input", LB_ADDRESS).stdout
    leftover = as_root("test -e /etc/ssh/sshd_config.d/00-x.conf || test -e /etc/sudoers.d/99-x", LB_ADDRESS)
    assert leftover.returncode != 0
    clean = drift(LB, OWNED, "--metrics-file", str(metrics))
    assert clean.returncode == 0, clean.stdout
    # The clean result is published too (the go-live check, tests/sandbox/test_golive.py, reads it).
    published = playbook("playbooks/drift-metrics.yml", "-e", f"drift_metrics_file={metrics}")
    assert published.returncode == 0, published.stdout[-3000:]
