"""Unit tests for roles/restic/files/restic-metrics.py (the textfile metrics writer)."""

from __future__ import annotations

import json
import os

import pytest
from paas_testlib import load_script, prometheus_samples, registry_samples

metrics = load_script("roles/restic/files/restic-metrics.py")

SNAPSHOTS = [
    {"time": "2026-12-01T01:30:05.123456789Z", "hostname": "app1", "paths": ["/var/lib/paas/storage"]},
    {"time": "2026-12-02T01:31:00.5+00:00", "hostname": "app1", "paths": ["/var/lib/paas/storage"]},
    {"time": "2026-12-03T01:30:00Z", "hostname": "app2", "paths": ["/var/lib/paas/storage"]},
]


@pytest.mark.parametrize(("stamp", "seconds"), [
    ("2026-12-01T00:00:00Z", 1796083200),
    ("2026-12-01T00:00:00.999999999Z", 1796083200.999999),
    ("2026-12-01T01:00:00+01:00", 1796083200),
    ("2026-12-01T00:00:00.25-00:30", 1796085000.25),
])
def test_restic_times_are_read_with_any_precision_and_offset(stamp, seconds):
    assert metrics.snapshot_time(stamp) == pytest.approx(seconds)


def test_the_newest_snapshot_of_this_host_and_their_count():
    found = registry_samples(metrics.repository_metrics(SNAPSHOTS, "offsite", "app1"))
    labels = '{host="app1",repository="offsite"}'
    assert found[f"restic_snapshots{labels}"] == 2
    newest = metrics.snapshot_time(SNAPSHOTS[1]["time"])
    assert found[f"restic_snapshot_last_timestamp_seconds{labels}"] == pytest.approx(newest)
    assert found[f"restic_repository_success{labels}"] == 1


def test_a_new_repository_has_no_snapshot_time():
    found = registry_samples(metrics.repository_metrics([], "local", "app1"))
    assert found['restic_snapshots{host="app1",repository="local"}'] == 0
    assert not any("last_timestamp" in key for key in found)


def test_an_unreadable_repository_says_so():
    assert registry_samples(metrics.repository_metrics(None, "local", "app1")) == {
        'restic_repository_success{host="app1",repository="local"}': 0}


@pytest.mark.parametrize(("result", "success"), [("success", 1), ("exit-code", 0), ("signal", 0), ("", 0)])
def test_a_units_result_becomes_success_or_failure(result, success):
    found = registry_samples(metrics.unit_metrics("local", "backup-local", result, 99.9))
    assert found['restic_unit_last_run_success{repository="local",unit="backup-local"}'] == success
    assert found['restic_unit_last_run_timestamp_seconds{repository="local",unit="backup-local"}'] == 99.9


DRILL_SUMMARY = {"success": True, "compared": 12, "rto_seconds": 4.2, "started_at": 1796083260.0,
                 "snapshot_time": "2026-12-01T00:00:00.5Z"}


def test_a_successful_drill_reports_its_files_rto_and_rpo():
    found = registry_samples(metrics.drill_metrics(DRILL_SUMMARY, "local", "app1", "success", 1796083300.0))
    labels = '{host="app1",repository="local"}'
    assert found[f"restic_restore_drill_success{labels}"] == 1
    assert found[f"restic_restore_drill_files_compared{labels}"] == 12
    assert found[f"restic_restore_drill_rto_seconds{labels}"] == pytest.approx(4.2)
    assert found[f"restic_restore_drill_rpo_seconds{labels}"] == pytest.approx(59.5)   # a minute after the snapshot
    assert found[f"restic_restore_drill_timestamp_seconds{labels}"] == 1796083300


@pytest.mark.parametrize(("summary", "result"), [
    ({**DRILL_SUMMARY, "success": False}, "success"),
    (DRILL_SUMMARY, "exit-code"),    # the unit failed after an older summary was left
    (None, "success"),               # no summary written
])
def test_a_failed_drill_is_a_failure_without_rto_or_rpo(summary, result):
    found = registry_samples(metrics.drill_metrics(summary, "offsite", "app1", result, 1796083300.0))
    assert found['restic_restore_drill_success{host="app1",repository="offsite"}'] == 0
    assert not any("rto" in name or "rpo" in name for name in found)


def test_the_drill_metrics_file_is_written_from_the_summary_readable_by_the_exporter(tmp_path, monkeypatch):
    summary = tmp_path / "summary" / "restore-drill-local.json"
    summary.parent.mkdir()
    summary.write_text(json.dumps(DRILL_SUMMARY))
    metrics_dir = tmp_path / "textfile"
    metrics_dir.mkdir()
    previous = os.umask(0o077)   # the hardened login umask would leave the exporter unable to read it
    try:
        assert metrics.main(["--repository", "local", "--host", "app1", "--dir", str(metrics_dir),
                             "--drill-summary", str(summary), "--result", "success"]) == 0
    finally:
        os.umask(previous)
    written = metrics_dir / "restic_restore_drill_local.prom"
    found = prometheus_samples(written.read_text())
    assert found['restic_restore_drill_success{host="app1",repository="local"}'] == 1
    assert oct(written.stat().st_mode & 0o777) == "0o644"
    assert sorted(os.listdir(metrics_dir)) == [written.name]   # no temporary file left behind
