"""Backups on the converged sandbox (STORY-006): pgBackRest on backup1 backs up the database
hosts through the hardened SSH, sudo and firewall, WAL from the primary reaches it, and both
reach the encrypted off-site repository (SeaweedFS's S3 on the object_storage host, over TLS
from the internal CA, through the firewall). The app hosts' files reach backup1 over SFTP and
the off-site bucket with restic, and come back from either."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from paas_testlib import inventory_host, python_command, run_playbook, ssh, wait_for

ROOT = Path(__file__).resolve().parents[2]
KEY = str(ROOT / ".sandbox" / "ansible_ed25519")
BACKUP1 = inventory_host("inventories/sandbox", "backup1")["ansible_host"]
PGBACKREST = "sudo -n -u pgbackrest pgbackrest --stanza=main"


def on_backup_host(command: str):
    return ssh(BACKUP1, "debian", KEY, command, timeout=180)


def info() -> dict:
    result = on_backup_host(f"{PGBACKREST} --output=json info")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)[0]


def backups(repo: int = 1) -> list:
    return [b for b in info().get("backup", []) if b.get("database", {}).get("repo-key", 1) == repo]


def test_the_repository_holds_a_full_backup_taken_at_converge():
    # site.yml starts the first full backup in the background on a new repository.
    assert wait_for(lambda: any(b["type"] == "full" for b in backups()), timeout=300, interval=5)


def test_the_offsite_repository_holds_an_encrypted_full_backup():
    # Started after the local one by the same converge (one backup of a stanza at a time).
    assert wait_for(lambda: any(b["type"] == "full" for b in backups(repo=2)), timeout=420, interval=5), info()
    assert [(r["key"], r["cipher"], r["status"]["code"]) for r in info()["repo"]] == [
        (1, "none", 0), (2, "aes-256-cbc", 0)]


def test_wal_from_the_primary_reaches_the_backup_host():
    # check: a WAL segment switched on the primary must arrive in both repositories
    # (SSH db1 -> backup1, and HTTPS db1 -> backup1:8333).
    result = on_backup_host(f"{PGBACKREST} check")
    assert result.returncode == 0, result.stderr


def test_a_differential_backup_runs_from_its_unit():
    result = on_backup_host("sudo -n systemctl start pgbackrest-backup@diff.service")
    assert result.returncode == 0, result.stderr
    assert any(b["type"] == "diff" for b in backups())


def test_prometheus_sees_the_newest_backup_and_no_backup_alert_fires():
    # The unit's metrics (textfile on backup1) reach Prometheus on the monitoring host through the node exporter.
    monitoring = inventory_host("inventories/sandbox", "mon1")["ansible_host"]
    newest = max(b["timestamp"]["stop"] for b in backups() if b["type"] == "diff")
    script = ("import json, urllib.request, urllib.parse; q = urllib.parse.quote("
              "'pgbackrest_backup_last_completion_timestamp_seconds{type=\"diff\",repo=\"1\"}'); "
              "r = json.load(urllib.request.urlopen('http://127.0.0.1:9090/api/v1/query?query=' + q, timeout=5)); "
              "a = json.load(urllib.request.urlopen('http://127.0.0.1:9090/api/v1/alerts', timeout=5)); "
              "print(json.dumps({'seen': [float(s['value'][1]) for s in r['data']['result']], "
              "'alerts': [x['labels']['alertname'] for x in a['data']['alerts']]}))")

    def state() -> dict:
        out = ssh(monitoring, "debian", KEY, python_command(script), timeout=30)
        return json.loads(out.stdout) if out.returncode == 0 else {"seen": [], "alerts": [], "error": out.stderr}

    assert wait_for(lambda: state()["seen"] == [newest], timeout=90, interval=5), state()
    now = state()
    assert "error" not in now, now  # an unanswered query is not an absent alert
    assert not {"BackupTooOld", "BackupFailed", "WalArchivingCheckFailed"} & set(now["alerts"]), now


APP1 = inventory_host("inventories/sandbox", "app1")["ansible_host"]
STORAGE = "/var/lib/paas/storage"


def on_app1(command: str):
    return ssh(APP1, "debian", KEY, command, timeout=300)


def test_an_app_hosts_file_comes_back_from_each_restic_repository():
    marker = f"{STORAGE}/drill-{uuid.uuid4().hex}"
    assert on_app1(f"sudo -n sh -c 'head -c 65536 /dev/urandom > {marker}'").returncode == 0
    try:
        original = on_app1(f"sudo -n sha256sum {marker}").stdout.split()[0]
        for repository in ("local", "offsite"):
            backup = on_app1(f"sudo -n systemctl start restic-backup@{repository}.service")
            assert backup.returncode == 0, (repository, backup.stderr)
            target = f"/root/restore-{repository}"
            restore = on_app1(f"sudo -n paas-restic {repository} restore latest --target {target} --include {marker}")
            assert restore.returncode == 0, (repository, restore.stderr)
            restored = on_app1(f"sudo -n sha256sum {target}{marker}").stdout.split()
            on_app1(f"sudo -n rm -rf {target}")
            assert restored and restored[0] == original, repository
    finally:
        on_app1(f"sudo -n rm -f {marker}")


def test_the_restore_drill_playbook_restores_each_repository_exactly():
    # The primary is db1 (db2 streams from it); the drill finds it, locks the app's tables for
    # the record, and restores each repository on backup1 to the restore point it made.
    database = inventory_host("inventories/sandbox", "db1")["postgresql_databases"][0]["name"]
    result = run_playbook("inventories/sandbox", "restore-drill.yml")
    assert result.returncode == 0
    for repo in (1, 2):
        assert f"repository {repo}: restored exactly" in result.stdout, repo
        summary = json.loads(on_backup_host(f"sudo -n cat /var/lib/pgbackrest/restore-drill-repo{repo}.json").stdout)
        assert summary["success"] and summary["tables"] >= 1 and summary["database"] == database
    # And each app host's files, from each restic repository.
    for repository in ("local", "offsite"):
        assert result.stdout.count(f"files from {repository}: restored exactly") == 2, repository
