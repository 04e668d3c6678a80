"""Unit tests for roles/restic/files/restic-restore-drill.py (the file restore drill)."""

from __future__ import annotations

import os

from paas_testlib import load_script

drill = load_script("roles/restic/files/restic-restore-drill.py")


def tree(root, files: dict[str, bytes], mtime: int = 1796083200) -> None:
    for name, content in files.items():
        path = root / name.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        os.utime(path, (mtime, mtime))


def test_unchanged_files_are_compared_byte_for_byte(tmp_path):
    live, scratch = tmp_path / "live", tmp_path / "scratch"
    files = {"/srv/storage/ab/cd/blob": b"image", "/srv/storage/report.pdf": b"pdf"}
    tree(live, files)
    tree(scratch, files)
    result = drill.compare_tree(str(scratch), str(live))
    assert result == {"files": 2, "compared": 2, "changed_since": 0, "gone": 0, "different": []}


def test_same_size_and_time_with_other_bytes_is_a_difference(tmp_path):
    live, scratch = tmp_path / "live", tmp_path / "scratch"
    tree(live, {"/srv/storage/blob": b"Xmage"})
    tree(scratch, {"/srv/storage/blob": b"image"})
    assert drill.compare_tree(str(scratch), str(live))["different"] == ["/srv/storage/blob"]


def test_files_changed_or_deleted_since_the_snapshot_are_counted_not_compared(tmp_path):
    live, scratch = tmp_path / "live", tmp_path / "scratch"
    tree(scratch, {"/srv/a": b"old", "/srv/b": b"kept", "/srv/gone": b"x"})
    tree(live, {"/srv/a": b"new and longer", "/srv/b": b"kept"})
    result = drill.compare_tree(str(scratch), str(live))
    assert (result["compared"], result["changed_since"], result["gone"], result["different"]) == (1, 1, 1, [])


def test_the_newest_snapshot_of_this_host_is_the_last_one_listed():
    listed = [{"id": "1", "hostname": "app1"}, {"id": "2", "hostname": "app1"}, {"id": "3", "hostname": "app2"}]
    assert drill.newest_snapshot(listed, "app1")["id"] == "2"
    assert drill.newest_snapshot(listed, "app3") is None


def test_success_needs_a_snapshot_a_restore_and_no_difference():
    snapshot = {"id": "abc", "short_id": "abc", "time": "2026-12-01T00:00:00Z"}
    same = {"files": 2, "compared": 2, "changed_since": 0, "gone": 0, "different": []}
    assert drill.summarise("local", snapshot, True, "", same, 0.0, 1.5)["success"]
    assert drill.summarise("local", None, False, "", None, 0.0, 0.1)["problems"] == [
        "no snapshot of this host in the repository"]
    failed = drill.summarise("local", snapshot, False, "ciphertext verification failed", None, 0.0, 1.0)
    assert failed["problems"] == ["restore failed: ciphertext verification failed"]
    differs = drill.summarise("local", snapshot, True, "", {**same, "different": ["/srv/a"]}, 0.0, 1.0)
    assert differs["problems"] == ["/srv/a differs from the live file"] and not differs["success"]
