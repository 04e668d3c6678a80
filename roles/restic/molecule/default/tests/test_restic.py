"""restic: an app host's files backed up to the backup host over SFTP and off-site to S3,
restored byte for byte from each, with the retention policy applied and each run's result
left as metrics. The tests run in file order on the converged pair (restic-client, restic-repo).
"""

from __future__ import annotations

import json

import pytest
from paas_testlib import journal_on_failure, prometheus_samples

testinfra_hosts = ["ansible://restic-client"]

REPOSITORIES = ["local", "offsite"]
STORAGE = "/var/lib/paas/storage"
KEPT = "ab/cd/abcd1234"
METRICS = "/var/lib/prometheus/node-exporter"
SSH = ("ssh -i /etc/restic/ssh/id_ed25519 -o IdentitiesOnly=yes -o BatchMode=yes "
       "-o UserKnownHostsFile=/etc/restic/ssh/known_hosts -o StrictHostKeyChecking=yes")
LOGIN = "restic-restic-client@10.87.0.17"


def restic(host, repository: str, *args: str):
    return host.run(f"/usr/local/sbin/paas-restic {repository} {' '.join(args)}")


def snapshots(host, repository: str) -> list:
    result = restic(host, repository, "snapshots", "--json")
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout) or []


@pytest.mark.parametrize("repository", REPOSITORIES)
def test_the_backup_unit_takes_a_snapshot_of_the_files(host, repository):
    with journal_on_failure(host, f"restic-backup@{repository}"):
        assert host.run(f"systemctl start restic-backup@{repository}.service").rc == 0
    taken = snapshots(host, repository)
    assert taken and taken[-1]["paths"] == [STORAGE] and taken[-1]["hostname"] == "restic-client"
    listed = restic(host, repository, "ls", "latest").stdout
    assert f"{STORAGE}/{KEPT}" in listed and f"{STORAGE}/ab/report.pdf" in listed
    assert "upload.tmp" not in listed   # excluded


@pytest.mark.parametrize("repository", REPOSITORIES)
def test_a_deleted_file_comes_back_with_the_same_checksum(host, repository):
    original = host.check_output(f"sha256sum {STORAGE}/{KEPT}").split()[0]
    owner = host.file(f"{STORAGE}/{KEPT}").uid
    host.run_expect([0], f"rm {STORAGE}/{KEPT}")
    try:
        result = restic(host, repository, "restore", "latest", "--target", "/", "--include", f"{STORAGE}/{KEPT}")
        assert result.rc == 0, result.stderr
        assert host.check_output(f"sha256sum {STORAGE}/{KEPT}").split()[0] == original
        assert host.file(f"{STORAGE}/{KEPT}").uid == owner
    finally:
        host.run(f"test -e {STORAGE}/{KEPT} || printf 'portfolio image bytes\\n' > {STORAGE}/{KEPT}")


def test_the_offsite_repository_is_in_the_bucket_and_encrypted(host):
    repo = host.get_host("ansible://restic-repo", ansible_inventory=host.backend.ansible_inventory)
    listing = repo.run("echo 'fs.ls /buckets/restic/restic-client' | /usr/local/bin/weed shell -master=127.0.0.1:9333")
    assert "config" in listing.stdout and "data" in listing.stdout, listing.stdout
    stored = repo.run("echo 'fs.cat /buckets/restic/restic-client/config' "
                      "| /usr/local/bin/weed shell -master=127.0.0.1:9333 | grep -c chunker_polynomial")
    assert stored.stdout.strip() == "0"   # restic's config is stored encrypted


def test_retention_keeps_the_newest_snapshot_of_a_day(host):
    # Three snapshots on one past day, then the unit's backup and retention run:
    # keep-daily keeps only the newest of that day.
    for hour in ("10", "11", "12"):
        result = restic(host, "local", "backup", "--host", "restic-client", "--tag", "paas",
                        "--time", f"'2026-11-20 {hour}:00:00'", STORAGE)
        assert result.rc == 0, result.stderr
    assert host.run("systemctl start restic-backup@local.service").rc == 0
    that_day = sorted(s["time"][11:13] for s in snapshots(host, "local") if s["time"].startswith("2026-11-20"))
    assert that_day == ["12"]


def test_each_run_leaves_the_newest_snapshot_and_its_result_as_metrics(host):
    newest = max(s["time"] for s in snapshots(host, "offsite"))
    found = prometheus_samples(host.file(f"{METRICS}/restic_offsite.prom").content_string)
    labels = '{host="restic-client",repository="offsite"}'
    assert found[f"restic_snapshots{labels}"] >= 1
    assert found[f"restic_snapshot_last_timestamp_seconds{labels}"] == pytest.approx(
        float(host.check_output(f"date -d '{newest}' +%s.%N")), abs=1e-3)
    result = prometheus_samples(host.file(f"{METRICS}/restic_unit_backup-offsite.prom").content_string)
    assert result['restic_unit_last_run_success{repository="offsite",unit="backup-offsite"}'] == 1


def test_a_failed_backup_fails_its_unit_and_its_metric_says_so(host):
    repo = host.get_host("ansible://restic-repo", ansible_inventory=host.backend.ansible_inventory)
    data = "/var/lib/restic/restic-client/repo/data"
    repo.run_expect([0], f"chmod -R a-w {data}")
    try:
        host.run("printf 'new bytes\\n' > /var/lib/paas/storage/new-file")
        failed = host.run("systemctl start restic-backup@local.service")
    finally:
        repo.run(f"chmod -R u+w {data}")
        host.run("rm -f /var/lib/paas/storage/new-file")
    assert failed.rc != 0
    assert host.run("systemctl is-failed restic-backup@local.service").stdout.strip() == "failed"
    result = prometheus_samples(host.file(f"{METRICS}/restic_unit_backup-local.prom").content_string)
    assert result['restic_unit_last_run_success{repository="local",unit="backup-local"}'] == 0
    host.run("systemctl reset-failed restic-backup@local.service")


def test_the_repository_checks_pass(host):
    for repository in REPOSITORIES:
        with journal_on_failure(host, f"restic-check@{repository}"):
            assert host.run(f"systemctl start restic-check@{repository}.service").rc == 0


def test_timers_schedule_backups_checks_and_drills_of_each_repository(host):
    for unit in ("restic-backup", "restic-check", "restic-restore-drill"):
        for repository in REPOSITORIES:
            timer = host.service(f"{unit}@{repository}.timer")
            assert timer.is_enabled and timer.is_running, f"{unit}@{repository}"


def sftp(host, command: str):
    batch = "/root/restic-sftp-batch"
    host.run(f"printf '%s\\n' '{command}' > {batch}")
    try:
        return host.run(f"sftp -b {batch} {SSH.removeprefix('ssh ')} {LOGIN}")
    finally:
        host.run(f"rm -f {batch}")


def test_the_backup_login_is_sftp_only_and_cannot_change_its_keys(host):
    assert sftp(host, "ls repo").rc == 0   # the login works, for SFTP
    # A command is not run (the forced internal-sftp takes its place).
    assert "uid=" not in host.run(f"{SSH} {LOGIN} id").stdout
    # Its keys file belongs to root: SFTP cannot replace it.
    attempt = sftp(host, "put /etc/hostname .ssh/authorized_keys")
    assert attempt.rc != 0
    assert "Permission denied" in attempt.stderr + attempt.stdout


def test_secrets_sit_in_root_only_files(host):
    for path in ("/etc/restic/password", "/etc/restic/offsite.env"):
        secret = host.file(path)
        assert (secret.user, secret.mode) == ("root", 0o600), path
    wrapper = host.file("/usr/local/sbin/paas-restic").content_string
    assert "restic-test-password" not in wrapper and "restic-test-secret-key" not in wrapper


DRILL = "/var/lib/restic-drill"


def drill(host, repository: str):
    run = host.run(f"systemctl start restic-restore-drill@{repository}.service")
    summary = json.loads(host.file(f"{DRILL}/restore-drill-{repository}.json").content_string)
    found = prometheus_samples(host.file(f"{METRICS}/restic_restore_drill_{repository}.prom").content_string)
    host.run(f"systemctl reset-failed restic-restore-drill@{repository}.service")
    return run, summary, found


@pytest.mark.parametrize("repository", REPOSITORIES)
def test_the_restore_drill_restores_the_newest_snapshot_and_compares_every_file(host, repository):
    with journal_on_failure(host, f"restic-restore-drill@{repository}"):
        run, summary, found = drill(host, repository)
        assert run.rc == 0
    assert summary["success"] and summary["problems"] == []
    # Every file of the snapshot unchanged since is compared with the live one (none changed here).
    assert summary["compared"] == summary["files"] >= 2
    assert summary["rto_seconds"] > 0
    labels = f'{{host="restic-client",repository="{repository}"}}'
    assert found[f"restic_restore_drill_success{labels}"] == 1
    assert found[f"restic_restore_drill_files_compared{labels}"] == summary["compared"]
    assert 0 <= found[f"restic_restore_drill_rpo_seconds{labels}"] < 3600
    assert host.run(f"ls -A {DRILL}/scratch/{repository}").rc != 0   # the copy is removed


def test_the_restore_drill_fails_when_a_live_file_differs_from_its_backup(host):
    # Other bytes, the same size and time: what silent corruption on the live disk looks like.
    path = f"{STORAGE}/{KEPT}"
    host.run_expect([0], f"cp -p {path} /root/kept.saved && "
                         f"printf 'X' | dd of={path} bs=1 seek=0 conv=notrunc && touch -r /root/kept.saved {path}")
    try:
        run, summary, found = drill(host, "local")
    finally:
        host.run(f"cp -p /root/kept.saved {path} && rm -f /root/kept.saved")
    assert run.rc != 0
    assert summary["problems"] == [f"{path} differs from the live file"]
    assert found['restic_restore_drill_success{host="restic-client",repository="local"}'] == 0


def test_the_restore_drill_fails_when_the_repository_is_damaged(host):
    # Every data file of the client's repository on the backup host, damaged on purpose.
    repo = host.get_host("ansible://restic-repo", ansible_inventory=host.backend.ansible_inventory)
    data = "/var/lib/restic/restic-client/repo/data"
    repo.run_expect([0], f"cp -a {data} {data}.saved && find {data} -type f -exec sh -c "
                         "'printf damaged | dd of=\"$1\" bs=1 seek=64 conv=notrunc 2>/dev/null' _ {} \\;")
    try:
        run, summary, found = drill(host, "local")
    finally:
        repo.run(f"rm -rf {data} && mv {data}.saved {data}")
    assert run.rc != 0
    assert not summary["success"] and summary["problems"][0].startswith("restore failed")
    assert found['restic_restore_drill_success{host="restic-client",repository="local"}'] == 0
