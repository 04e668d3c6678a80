"""Unit tests for roles/restic/files/restic-metrics.py (the textfile metrics writer)."""

from __future__ import annotations

import json
import os

import pytest
from paas_testlib import load_script
from paas_testlib import prometheus_samples as samples

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
    found = samples(metrics.repository_metrics(SNAPSHOTS, "offsite", "app1"))
    labels = '{repository="offsite",host="app1"}'
    assert found[f"restic_snapshots{labels}"] == 2
    assert found[f"restic_snapshot_last_timestamp_seconds{labels}"] == int(metrics.snapshot_time(SNAPSHOTS[1]["time"]))
    assert found[f"restic_repository_success{labels}"] == 1


def test_a_new_repository_has_no_snapshot_time():
    found = samples(metrics.repository_metrics([], "local", "app1"))
    assert found['restic_snapshots{repository="local",host="app1"}'] == 0
    assert not any("last_timestamp" in key for key in found)


def test_an_unreadable_repository_says_so():
    assert samples(metrics.repository_metrics(None, "local", "app1")) == {
        'restic_repository_success{repository="local",host="app1"}': 0}


@pytest.mark.parametrize(("result", "success"), [("success", 1), ("exit-code", 0), ("signal", 0), ("", 0)])
def test_a_units_result_becomes_success_or_failure(result, success):
    found = samples(metrics.unit_metrics("local", "backup-local", result, 99.9))
    assert found['restic_unit_last_run_success{repository="local",unit="backup-local"}'] == success
    assert found['restic_unit_last_run_timestamp_seconds{repository="local",unit="backup-local"}'] == 99


def test_files_are_replaced_whole(tmp_path):
    metrics.write_atomically(str(tmp_path), "restic_local.prom", "one\n")
    metrics.write_atomically(str(tmp_path), "restic_local.prom", "two\n")
    assert (tmp_path / "restic_local.prom").read_text() == "two\n"
    assert sorted(os.listdir(tmp_path)) == ["restic_local.prom"]


DRILL_SUMMARY = {"success": True, "compared": 12, "rto_seconds": 4.2, "started_at": 1796083260.0,
                 "snapshot_time": "2026-12-01T00:00:00.5Z"}


def test_a_successful_drill_reports_its_files_rto_and_rpo():
    found = samples(metrics.drill_metrics(DRILL_SUMMARY, "local", "app1", "success", 1796083300.0))
    labels = '{repository="local",host="app1"}'
    assert found[f"restic_restore_drill_success{labels}"] == 1
    assert found[f"restic_restore_drill_files_compared{labels}"] == 12
    assert found[f"restic_restore_drill_rto_seconds{labels}"] == 4
    assert found[f"restic_restore_drill_rpo_seconds{labels}"] == 59   # started a minute after the snapshot
    assert found[f"restic_restore_drill_timestamp_seconds{labels}"] == 1796083300


@pytest.mark.parametrize(("summary", "result"), [
    ({**DRILL_SUMMARY, "success": False}, "success"),
    (DRILL_SUMMARY, "exit-code"),    # the unit failed after an older summary was left
    (None, "success"),               # no summary written
])
def test_a_failed_drill_is_a_failure_without_rto_or_rpo(summary, result):
    found = samples(metrics.drill_metrics(summary, "offsite", "app1", result, 1796083300.0))
    assert found['restic_restore_drill_success{repository="offsite",host="app1"}'] == 0
    assert not any("rto" in name or "rpo" in name for name in found)


def test_the_drill_metrics_file_is_written_from_the_summary(tmp_path):
    summary = tmp_path / "restore-drill-local.json"
    summary.write_text(json.dumps(DRILL_SUMMARY))
    assert metrics.main(["--repository", "local", "--host", "app1", "--dir", str(tmp_path),
                         "--drill-summary", str(summary), "--result", "success"]) == 0
    found = samples((tmp_path / "restic_restore_drill_local.prom").read_text())
    assert found['restic_restore_drill_success{repository="local",host="app1"}'] == 1
