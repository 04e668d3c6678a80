"""Unit tests for roles/pgbackrest/files/pgbackrest-metrics.py (the textfile metrics writer)."""

from __future__ import annotations

import os

import pytest
from paas_testlib import load_script, prometheus_samples, registry_samples
from prometheus_client import generate_latest

metrics = load_script("roles/pgbackrest/files/pgbackrest-metrics.py")


def backup(kind: str, start: int, stop: int, size: int = 100, delta: int = 10, repo: int = 1) -> dict:
    return {"label": f"{kind}-{stop}", "type": kind, "timestamp": {"start": start, "stop": stop},
            "database": {"id": 1, "repo-key": repo}, "info": {"size": size, "repository": {"delta": delta}}}


INFO = [{"name": "main", "status": {"code": 0, "message": "ok"},
         "backup": [backup("full", 1000, 1600, 5000, 900), backup("diff", 2000, 2060, 5100, 40),
                    backup("full", 9000, 9500, 5200, 950), backup("diff", 3000, 3030)]}]


def test_the_newest_backup_of_each_type_gives_its_time_duration_and_sizes():
    found = registry_samples(metrics.repository_metrics(INFO, "main"))
    full, diff = '{repo="1",stanza="main",type="full"}', '{repo="1",stanza="main",type="diff"}'
    assert found[f"pgbackrest_backup_last_completion_timestamp_seconds{full}"] == 9500
    assert found[f"pgbackrest_backup_last_duration_seconds{full}"] == 500
    assert found[f"pgbackrest_backup_last_database_size_bytes{full}"] == 5200
    assert found[f"pgbackrest_backup_last_repository_size_bytes{full}"] == 950
    assert found[f"pgbackrest_backup_last_completion_timestamp_seconds{diff}"] == 3030
    assert found[f"pgbackrest_backups{full}"] == 2
    assert found['pgbackrest_backups{repo="1",stanza="main",type="incr"}'] == 0
    assert found['pgbackrest_info_success{stanza="main"}'] == 1
    assert found['pgbackrest_stanza_status_code{stanza="main"}'] == 0


TWO_REPOS = [{"name": "main", "status": {"code": 0},
              "repo": [{"key": 1, "status": {"code": 0}}, {"key": 2, "status": {"code": 2}}],
              "backup": [backup("full", 1000, 1600), backup("full", 1700, 2500, repo=2), backup("diff", 3000, 3100)]}]


def test_each_repository_has_its_own_newest_backups_and_status():
    found = registry_samples(metrics.repository_metrics(TWO_REPOS, "main"))
    assert found['pgbackrest_backup_last_completion_timestamp_seconds{repo="1",stanza="main",type="full"}'] == 1600
    assert found['pgbackrest_backup_last_completion_timestamp_seconds{repo="2",stanza="main",type="full"}'] == 2500
    assert found['pgbackrest_backups{repo="2",stanza="main",type="diff"}'] == 0
    assert 'pgbackrest_backup_last_completion_timestamp_seconds{repo="2",stanza="main",type="diff"}' not in found
    assert found['pgbackrest_repository_status_code{repo="2",stanza="main"}'] == 2


def test_each_metric_is_declared_once_as_a_gauge():
    text = generate_latest(metrics.repository_metrics(TWO_REPOS, "main")).decode()
    types = [line for line in text.splitlines() if line.startswith("# TYPE")]
    assert len(types) == len(set(types)) == 8
    assert all(line.endswith(" gauge") for line in types)


@pytest.mark.parametrize("info", [None, [], [{"name": "other", "backup": []}]])
def test_an_unanswered_or_foreign_info_says_so(info):
    assert registry_samples(metrics.repository_metrics(info, "main")) == {'pgbackrest_info_success{stanza="main"}': 0}


def test_a_new_stanza_has_no_backups_yet():
    new = [{"name": "main", "status": {"code": 2}, "backup": []}]
    found = registry_samples(metrics.repository_metrics(new, "main"))
    assert found['pgbackrest_backups{repo="1",stanza="main",type="full"}'] == 0
    assert not any("last_completion" in key for key in found)


@pytest.mark.parametrize(("result", "success"), [("success", 1), ("exit-code", 0), ("timeout", 0), ("", 0)])
def test_a_units_result_becomes_success_or_failure(result, success):
    found = registry_samples(metrics.unit_metrics("main", "backup-diff", result, 1234.5))
    assert found['pgbackrest_unit_last_run_success{stanza="main",unit="backup-diff"}'] == success
    assert found['pgbackrest_unit_last_run_timestamp_seconds{stanza="main",unit="backup-diff"}'] == 1234


def test_label_values_are_escaped():
    text = generate_latest(metrics.unit_metrics('we"ird\\', "check", "success", 1)).decode()
    assert 'stanza="we\\"ird\\\\"' in text


@pytest.mark.parametrize(("summary", "result", "success", "rto"), [
    ({"success": True, "rto_seconds": 42.36, "tables": 5}, "success", 1, 42.4),
    ({"success": True, "rto_seconds": 42.36, "tables": 5}, "exit-code", 0, None),   # killed after its summary
    ({"success": False, "rto_seconds": None, "tables": 0}, "exit-code", 0, None),
    (None, "success", 0, None),                                                     # no summary written
])
def test_a_restore_drill_is_a_success_only_with_its_unit_and_its_rto_only_then(summary, result, success, rto):
    found = registry_samples(metrics.drill_metrics(summary, 2, result, 1000.0))
    assert found['pgbackrest_restore_drill_success{repo="2"}'] == success
    assert found['pgbackrest_restore_drill_timestamp_seconds{repo="2"}'] == 1000
    assert found.get('pgbackrest_restore_drill_rto_seconds{repo="2"}') == rto


def test_the_drill_summary_becomes_the_repositorys_metrics_file_readable_by_the_exporter(tmp_path):
    summary = tmp_path / "restore-drill-repo1.json"
    summary.write_text('{"success": true, "rto_seconds": 12.0, "tables": 3}')
    metrics_dir = tmp_path / "textfile"
    metrics_dir.mkdir()
    previous = os.umask(0o077)   # the hardened login umask would leave the exporter unable to read it
    try:
        assert metrics.main(["--stanza=main", f"--dir={metrics_dir}", f"--drill-summary={summary}", "--repo=1",
                             "--result=success"]) == 0
    finally:
        os.umask(previous)
    written = metrics_dir / "pgbackrest_restore_drill_repo1.prom"
    found = prometheus_samples(written.read_text())
    assert found['pgbackrest_restore_drill_success{repo="1"}'] == 1
    assert found['pgbackrest_restore_drill_tables{repo="1"}'] == 3
    assert oct(written.stat().st_mode & 0o777) == "0o644"
    # no temporary file left behind, and no repository state read in this mode
    assert sorted(os.listdir(metrics_dir)) == [written.name]
