"""scripts/check-doc-paths.py finds the repository paths prose names and tells a missing one."""

from __future__ import annotations

from pathlib import Path

from paas_testlib import load_script

ROOT = Path(__file__).resolve().parents[2]
check = load_script("scripts/check-doc-paths.py")


def test_paths_are_found_in_prose_and_comments():
    assert check.named_paths("Measured effect: benchmarks/ansible-cfg.sh, results in docs/benchmarks.md.") == [
        "benchmarks/ansible-cfg.sh", "docs/benchmarks.md"]
    assert check.named_paths("see `roles/<role>/defaults/main.yml` and ansible.cfg") == [
        "roles/<role>/defaults/main.yml", "ansible.cfg"]
    assert check.named_paths("a URL https://example.org/docs/x or the word roles alone") == []


def test_a_stale_path_is_missing_and_placeholders_are_globs():
    assert not check.exists("benchmarks/ansible-cfg.sh", ROOT)
    assert check.exists("benchmarks/ansible_cfg.py", ROOT)
    assert check.exists("roles/<role>/defaults/main.yml", ROOT)
    assert check.exists("roles/{common,hardening}/README.md", ROOT)
    assert check.exists("defaults/main.yml", ROOT / "roles" / "common")  # from a role README's own directory
    assert check.exists("inventories/production/group_vars/all/vault.yml", ROOT)  # made from its .example


def test_the_repository_names_no_missing_path(capsys):
    assert check.main() == 0, capsys.readouterr().out
