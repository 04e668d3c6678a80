"""No vault value in Ansible's output at -vvv, in a host's journal, or on the log host (issue 15).

scripts/test-all.py runs the sandbox's site.yml (then again in check mode) and the Kamal deploy at
-vvv and keeps their output in reports/; these tests read it back, then search
every host's journal (sudo logs each command it runs there) and the log host's
received files for each value of the sandbox's vault.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from paas_testlib import inventory_vault, ssh, vault_args

ROOT = Path(__file__).resolve().parents[2]
KEYS = ROOT / ".sandbox"
# The playbook runs of the sandbox suite (scripts/test-all.py), each at -vvv.
RUN_LOGS = ["sandbox-converge.log", "sandbox-check.log", "sandbox-deploy.log"]
# Searched on each host: its journal, and what a log host received from the others.
SEARCHED = "{ journalctl -q -o cat --no-pager; cat /var/log/remote/*/* 2>/dev/null; }"


def _leaves(value, path: str = "") -> dict[str, str]:
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _leaves(item, f"{path}.{key}".lstrip(".")).items()}
    return {path: str(value)} if isinstance(value, str | int) and len(str(value)) >= 8 else {}


SECRETS = _leaves(inventory_vault("inventories/sandbox"))
SANDBOX = "inventories/sandbox"
HOSTVARS = json.loads(subprocess.run(["ansible-inventory", "-i", SANDBOX, *vault_args(SANDBOX), "--list"], cwd=ROOT,
                                     check=True, capture_output=True, text=True, timeout=60).stdout)
HOSTVARS = HOSTVARS["_meta"]["hostvars"]


def leaked_in(text: str) -> list[str]:
    """The names (never the values) of the vault entries found in text."""
    return sorted(name for name, value in SECRETS.items() if value in text)


def test_the_vault_has_values_to_look_for():
    assert len(SECRETS) >= 10, sorted(SECRETS)


@pytest.mark.parametrize("log", RUN_LOGS)
def test_no_vault_value_in_the_playbook_output_at_vvv(log):
    path = ROOT / "reports" / log
    if not path.is_file():
        pytest.skip(f"reports/{log} is written by `scripts/test-all.py sandbox` (site.yml and the deploy at -vvv)")
    text = path.read_text(errors="replace")
    # Module arguments ("invocation") are printed from -vvv on: where a secret would show.
    assert "invocation:" in text, f"reports/{log} was not written at -vvv"
    assert leaked_in(text) == []


@pytest.mark.parametrize("host", sorted(HOSTVARS))
def test_no_vault_value_in_the_journal_or_the_received_logs(host):
    # The values to look for travel on standard input into a 0600 file, not on a command line.
    command = (f"sudo -n sh -c 'p=$(mktemp) && cat > \"$p\" && {SEARCHED} | grep -a -o -F -f \"$p\" | sort -u; "
               "rm -f \"$p\"'")
    result = ssh(HOSTVARS[host]["ansible_host"], "debian", str(KEYS / "ansible_ed25519"), command, timeout=60,
                 stdin="\n".join(SECRETS.values()) + "\n")
    assert result.returncode == 0, result.stderr
    assert leaked_in(result.stdout) == []
