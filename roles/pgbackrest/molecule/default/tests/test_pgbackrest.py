"""pgBackRest: WAL archived from the primary to the backup host and to an encrypted off-site
repository in S3, backups taken into both on schedule, and a point-in-time restore from each that
brings back what was committed before the target and nothing after it.

The tests run in file order on the converged pair (pgbackrest-db, pgbackrest-repo).
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
from paas_testlib import journal_on_failure, load_script, prometheus_samples, run_playbook, said, wait_for

testinfra_hosts = ["ansible://pgbackrest-repo"]

STANZA = "main"
SCRATCH = "/srv/pitr"
SCRATCH_PORT = 5499
# The restore drill's recipe for a scratch server's postgresql.conf (from pg_controldata).
DRILL = load_script("roles/pgbackrest/files/pgbackrest-restore-drill.py")


@pytest.fixture(scope="module")
def primary(host):
    return host.get_host("ansible://pgbackrest-db", ansible_inventory=host.backend.ansible_inventory)


def pgbackrest(host, *args: str):
    return host.run(f"runuser -u pgbackrest -- pgbackrest --stanza={STANZA} {' '.join(args)}")


def info(host) -> dict:
    result = pgbackrest(host, "--output=json", "info")
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)[0]


def backups(host, kind: str, repo: int = 1) -> list:
    return [b for b in info(host).get("backup", [])
            if b["type"] == kind and b.get("database", {}).get("repo-key", 1) == repo]


def sql(node, statement: str, db: str = "app_production") -> str:
    result = node.run(f"runuser -u postgres -- psql -X -A -t -d {db} -c \"{statement}\"")
    assert result.rc == 0, result.stderr
    return result.stdout.strip()


def test_the_stanza_is_ok_and_the_first_full_backup_completes_in_each_repository(host):
    # The converge started them in the background, the off-site one after the local one;
    # a small database takes seconds.
    assert wait_for(lambda: len(backups(host, "full", repo=2)) >= 1, timeout=240, interval=3), info(host)["status"]
    assert len(backups(host, "full", repo=1)) >= 1
    assert info(host)["status"]["code"] == 0
    assert [(repo["key"], repo["status"]["code"]) for repo in info(host)["repo"]] == [(1, 0), (2, 0)]


def test_wal_is_archived_end_to_end(host):
    result = pgbackrest(host, "check")
    assert result.rc == 0, result.stderr


def test_a_quiet_primarys_last_commit_reaches_the_repository_without_a_wal_switch(primary):
    # archive_timeout (10 s here, 60 s by default) closes the segment holding the commit, so a
    # restore from the repository alone loses at most about that much (the recovery point).
    sql(primary, "CREATE TABLE IF NOT EXISTS rpo_probe (at timestamptz)")
    sql(primary, "INSERT INTO rpo_probe VALUES (now())")
    segment = sql(primary, "SELECT pg_walfile_name(pg_current_wal_lsn())")

    def archived() -> str:
        return sql(primary, "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")

    assert wait_for(lambda: archived()[:24] >= segment, timeout=90, interval=2), (archived(), segment)


def test_backups_and_checks_wait_minutes_for_their_wal_not_pgbackrests_60_seconds(host, primary):
    # After a bulk load an asynchronous push takes minutes; the role's archive-timeout is what
    # pgBackRest reads on both sides (the option's help shows the value it resolved).
    for node, user in ((host, "pgbackrest"), (primary, "postgres")):
        shown = node.check_output(f"runuser -u {user} -- pgbackrest help backup archive-timeout")
        assert "current: 600" in shown, shown


def test_timers_schedule_the_full_and_differential_backups_and_the_check(host):
    for timer in ("pgbackrest-backup-full", "pgbackrest-backup-diff", "pgbackrest-check",
                  "pgbackrest-backup-offsite-full", "pgbackrest-backup-offsite-diff"):
        assert host.service(f"{timer}.timer").is_enabled, timer
        assert host.service(f"{timer}.timer").is_running, timer
    listed = host.check_output("systemctl show -p Unit --value pgbackrest-backup-diff.timer")
    assert listed == "pgbackrest-backup@diff.service"


@pytest.mark.parametrize(("unit", "repo"), [("pgbackrest-backup@diff", 1), ("pgbackrest-backup-offsite@diff", 2)])
def test_the_differential_backup_units_take_a_backup_into_their_repository(host, unit, repo):
    with journal_on_failure(host, unit):
        assert host.run(f"systemctl start {unit}.service").rc == 0
    assert len(backups(host, "diff", repo=repo)) >= 1


def test_the_offsite_repository_is_encrypted_and_holds_no_secret_in_its_configuration(host):
    assert [repo["cipher"] for repo in info(host)["repo"]] == ["none", "aes-256-cbc"]
    # What the S3 store holds is ciphertext (OpenSSL's salted format), not pgBackRest's plain INI.
    stored = "/var/lib/pgbackrest/offsite-backup.info.copy"
    host.run_expect([0], "echo 'fs.cat /buckets/pgbackrest/pgbackrest/backup/main/backup.info' "
                         f"| /usr/local/bin/weed shell -master=127.0.0.1:9333 > {stored}")
    try:
        assert host.check_output(f"head -c 8 {stored}") == "Salted__"
        assert host.run(f"grep -c 'backup:current' {stored}").stdout.strip() == "0"
        local = host.run("grep -c 'backup:current' /var/lib/pgbackrest/backup/main/backup.info")
        assert local.stdout.strip() == "1"   # the same file in the local repository is plain text
    finally:
        host.run(f"rm -f {stored}")
    assert "repo2-s3-key" not in host.file("/etc/pgbackrest/pgbackrest.conf").content_string
    secrets = host.file("/etc/pgbackrest/conf.d/offsite-credentials.conf")
    assert (secrets.user, secrets.group, secrets.mode) == ("root", "pgbackrest", 0o640)


METRICS = "/var/lib/prometheus/node-exporter"


def textfile(host, name: str) -> dict[str, float]:
    return prometheus_samples(host.file(f"{METRICS}/{name}").content_string)


def test_each_backup_leaves_metrics_of_the_repository_and_its_result(host):
    # Written by the diff unit's ExecStopPost in the test above, from `pgbackrest info`.
    newest = backups(host, "diff")[-1]
    repository = textfile(host, "pgbackrest.prom")
    labels = f'{{repo="1",stanza="{STANZA}",type="diff"}}'
    assert repository[f"pgbackrest_backup_last_completion_timestamp_seconds{labels}"] == newest["timestamp"]["stop"]
    assert repository[f"pgbackrest_backup_last_database_size_bytes{labels}"] == newest["info"]["size"]
    assert repository[f'pgbackrest_stanza_status_code{{stanza="{STANZA}"}}'] == 0
    result = textfile(host, "pgbackrest_unit_backup-diff.prom")
    assert result[f'pgbackrest_unit_last_run_success{{stanza="{STANZA}",unit="backup-diff"}}'] == 1
    offsite = backups(host, "diff", repo=2)[-1]
    offsite_labels = f'{{repo="2",stanza="{STANZA}",type="diff"}}'
    assert repository[f"pgbackrest_backup_last_completion_timestamp_seconds{offsite_labels}"] == \
        offsite["timestamp"]["stop"]
    result = textfile(host, "pgbackrest_unit_backup-offsite-diff.prom")
    assert result[f'pgbackrest_unit_last_run_success{{stanza="{STANZA}",unit="backup-offsite-diff"}}'] == 1
    assert host.file(METRICS).user == "root" and oct(host.file(f"{METRICS}/pgbackrest.prom").mode) == "0o644"


def test_a_failed_backup_fails_its_unit_and_its_metric_says_so(host):
    # An incremental backup with a repository that is not writable fails as a real failure would.
    directory = f"/var/lib/pgbackrest/backup/{STANZA}"
    mode = host.check_output(f"stat -c %a {directory}")
    host.run(f"chmod 0500 {directory}")
    try:
        failed = host.run("systemctl start pgbackrest-backup@incr.service")
    finally:
        host.run(f"chmod {mode} {directory}")
    assert failed.rc != 0
    assert host.run("systemctl is-failed pgbackrest-backup@incr.service").stdout.strip() == "failed"
    result = textfile(host, "pgbackrest_unit_backup-incr.prom")
    assert result[f'pgbackrest_unit_last_run_success{{stanza="{STANZA}",unit="backup-incr"}}'] == 0
    assert "ERROR" in host.run("journalctl -u pgbackrest-backup@incr -n 30 --no-pager").stdout
    host.run("systemctl reset-failed pgbackrest-backup@incr.service")


def test_only_the_backup_host_and_the_primary_trust_each_other(host, primary):
    keys = primary.file("/var/lib/postgresql/.ssh/authorized_keys").content_string
    assert keys.count("ssh-ed25519") == 1
    assert 'from="10.86.0.17"' in keys and "no-pty" in keys
    keys = host.file("/var/lib/pgbackrest/.ssh/authorized_keys").content_string
    assert keys.count("ssh-ed25519") == 1
    assert 'from="10.86.0.11"' in keys


@pytest.mark.parametrize("repo", [1, 2])
def test_point_in_time_restore_brings_back_only_what_was_committed_before_the_target(host, primary, repo):
    sql(primary, "CREATE TABLE IF NOT EXISTS drill (v text NOT NULL)")
    run = uuid.uuid4().hex[:8]  # rows of this run only, whatever an earlier run left
    sql(primary, f"INSERT INTO drill VALUES ('before-{run}')")
    time.sleep(1)
    target = sql(primary, "SELECT clock_timestamp()")
    time.sleep(1)
    sql(primary, f"INSERT INTO drill VALUES ('after-{run}')")
    # `check` switches to a new WAL segment and waits until it is in the repository,
    # so both inserts are archived.
    assert pgbackrest(host, "check").rc == 0

    # The backup host's own configuration (both repositories), with the scratch directory as
    # the cluster to restore into instead of the primary.
    host.run(f"rm -rf {SCRATCH} && install -d -o pgbackrest -g pgbackrest -m 0700 {SCRATCH}")
    restore = host.run(f"runuser -u pgbackrest -- pgbackrest --stanza={STANZA} --repo={repo} "
                       f"--reset-pg1-host --pg1-path={SCRATCH} "
                       f"--type=time '--target={target}' --target-action=promote restore")
    assert restore.rc == 0, restore.stderr
    # Debian keeps the cluster's configuration outside the data directory: a minimal one here,
    # with the settings recovery needs at least as high as on the primary (from pg_controldata).
    control = host.check_output(f"runuser -u pgbackrest -- /usr/lib/postgresql/15/bin/pg_controldata {SCRATCH}")
    conf = DRILL.scratch_settings(control, SCRATCH_PORT, SCRATCH)
    for name, text in (("postgresql.conf", conf.rstrip()), ("pg_hba.conf", "local all all trust"),
                       ("pg_ident.conf", "")):
        host.run(f"printf '%s\\n' \"{text}\" > {SCRATCH}/{name} && chown pgbackrest {SCRATCH}/{name}")
    start = host.run(f"runuser -u pgbackrest -- /usr/lib/postgresql/15/bin/pg_ctl -D {SCRATCH} "
                     f"-l {SCRATCH}/pg_ctl.log -w -t 120 start")
    try:
        assert start.rc == 0, host.run(f"tail -n 30 {SCRATCH}/pg_ctl.log").stdout
        psql = f"runuser -u pgbackrest -- psql -X -A -t -h {SCRATCH} -p {SCRATCH_PORT} -U postgres -d app_production -c"
        assert wait_for(lambda: host.run(f"{psql} 'SELECT pg_is_in_recovery()'").stdout.strip() == "f",
                        timeout=120, interval=2), host.run(f"tail -n 30 {SCRATCH}/pg_ctl.log").stdout
        rows = host.check_output(f"{psql} \"SELECT string_agg(v, ',' ORDER BY v) FROM drill WHERE v LIKE '%-{run}'\"")
        assert rows == f"before-{run}"
    finally:
        host.run(f"runuser -u pgbackrest -- /usr/lib/postgresql/15/bin/pg_ctl -D {SCRATCH} -m immediate stop")
        host.run(f"rm -rf {SCRATCH}")


@pytest.mark.parametrize("repo", [1, 2])
def test_the_restore_drill_restores_the_database_exactly_and_times_it(host, primary, repo):
    sql(primary, "CREATE TABLE IF NOT EXISTS drill (v text NOT NULL)")
    sql(primary, "INSERT INTO drill SELECT 'row-' || g FROM generate_series(1, 500) g")
    with journal_on_failure(host, f"pgbackrest-restore-drill@{repo}"):
        assert host.run(f"systemctl start pgbackrest-restore-drill@{repo}.service").rc == 0
    summary = json.loads(host.file(f"/var/lib/pgbackrest/restore-drill-repo{repo}.json").content_string)
    assert summary["success"] and summary["problems"] == [] and summary["repo"] == repo
    assert summary["tables"] >= 1 and summary["rto_seconds"] > 0
    found = textfile(host, f"pgbackrest_restore_drill_repo{repo}.prom")
    assert found[f'pgbackrest_restore_drill_success{{repo="{repo}"}}'] == 1
    assert found[f'pgbackrest_restore_drill_rto_seconds{{repo="{repo}"}}'] == summary["rto_seconds"]
    assert host.run(f"ls -A /var/lib/pgbackrest-drill/repo{repo}").stdout.strip() == ""   # scratch removed


def test_the_restore_drill_fails_when_a_backup_file_is_corrupted(host):
    # The local repository's newest backup's pg_control (in every backup, always restored),
    # damaged on purpose.
    newest = [b for b in info(host)["backup"] if b["database"]["repo-key"] == 1][-1]["label"]
    target = f"/var/lib/pgbackrest/backup/{STANZA}/{newest}/pg_data/global/pg_control.zst"
    host.run_expect([0], f"cp -p {target} {target}.saved && "
                         f"printf 'damaged' | dd of={target} bs=1 seek=20 conv=notrunc")
    try:
        failed = host.run("systemctl start pgbackrest-restore-drill@1.service")
    finally:
        host.run(f"mv {target}.saved {target}")
        host.run("systemctl reset-failed pgbackrest-restore-drill@1.service")
    assert failed.rc != 0
    summary = json.loads(host.file("/var/lib/pgbackrest/restore-drill-repo1.json").content_string)
    assert not summary["success"] and summary["problems"]
    found = textfile(host, "pgbackrest_restore_drill_repo1.prom")
    assert found['pgbackrest_restore_drill_success{repo="1"}'] == 0


# Last: it replaces the primary's database (playbooks/db-restore.yml, the disaster-recovery path).
def test_db_restore_refuses_without_confirmation_then_rebuilds_the_primary_to_a_point_in_time(host, primary):
    inventory = host.backend.ansible_inventory
    run = uuid.uuid4().hex[:8]
    sql(primary, "CREATE TABLE IF NOT EXISTS drill (v text NOT NULL)")
    sql(primary, f"INSERT INTO drill VALUES ('before-{run}')")
    time.sleep(1)
    target = sql(primary, "SELECT clock_timestamp()")
    time.sleep(1)
    sql(primary, f"INSERT INTO drill VALUES ('after-{run}')")
    assert pgbackrest(host, "check").rc == 0   # both rows archived in both repositories
    restore = ("db-restore.yml", "-e", "db_restore_repo=2", "-e", f"db_restore_target_time='{target}'")

    refused = run_playbook(inventory, *restore)
    assert refused.returncode != 0
    assert "db_restore_confirm must name the host whose database the backup replaces" in said(refused)
    future = run_playbook(inventory, "db-restore.yml", "-e", "db_restore_confirm=pgbackrest-db",
                          "-e", "db_restore_target_time='2999-01-01 00:00:00+00'")
    assert future.returncode != 0 and "2999-01-01 00:00:00+00 is in the future" in said(future)
    # Nothing changed on the primary.
    assert sql(primary, f"SELECT count(*) FROM drill WHERE v LIKE '%-{run}'") == "2"

    done = run_playbook(inventory, *restore, "-e", "db_restore_confirm=pgbackrest-db")
    assert done.returncode == 0
    assert sql(primary, f"SELECT string_agg(v, ',' ORDER BY v) FROM drill WHERE v LIKE '%-{run}'") == f"before-{run}"
    # A primary again: it takes writes, and the data directory it had is kept beside.
    assert sql(primary, "SELECT pg_is_in_recovery()") == "f"
    sql(primary, f"INSERT INTO drill VALUES ('restored-{run}')")
    assert primary.run("ls -d /var/lib/postgresql/15/main.before-restore-*").rc == 0
    # Its new WAL reaches the repositories again.
    assert pgbackrest(host, "check").rc == 0
