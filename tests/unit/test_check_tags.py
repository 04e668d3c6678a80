"""scripts/check-tags.py holds every role to one tag and handler vocabulary, and can fail."""

from __future__ import annotations

from pathlib import Path

from paas_testlib import load_script

check = load_script("scripts/check-tags.py")


def make_role(tmp_path: Path, main: str, handlers: str = "", readme: str = "") -> Path:
    role = tmp_path / "probe"
    (role / "tasks").mkdir(parents=True)
    (role / "handlers").mkdir()
    (role / "tasks" / "main.yml").write_text(main)
    for stem in ("preflight", "install", "tls"):
        (role / "tasks" / f"{stem}.yml").write_text("- name: T\n  ansible.builtin.debug:\n  notify: probe reload\n")
    (role / "handlers" / "main.yml").write_text(handlers)
    (role / "README.md").write_text(readme)
    return role


GOOD_MAIN = """
- {name: P, ansible.builtin.import_tasks: preflight.yml, tags: [always]}
- {name: I, ansible.builtin.import_tasks: install.yml, tags: [probe, probe_install]}
- {name: T, ansible.builtin.import_tasks: tls.yml, tags: [probe, probe_tls]}
"""
GOOD_HANDLERS = "- {name: Reload, ansible.builtin.debug: {}, listen: probe reload}\n"
GOOD_README = "`probe` `probe_install` `probe_tls`"


def test_a_role_in_the_vocabulary_passes(tmp_path):
    assert check.role_breaches(make_role(tmp_path, GOOD_MAIN, GOOD_HANDLERS, GOOD_README)) == []


def test_each_breach_is_named(tmp_path):
    main = GOOD_MAIN.replace("probe_install]", "probe_config]").replace("tags: [always]", "tags: [always, probe]")
    handlers = GOOD_HANDLERS + "- {name: Restart, ansible.builtin.debug: {}, listen: restart probe}\n" \
                               "- {name: Stop, ansible.builtin.debug: {}, listen: probe stop}\n"
    breaches = "\n".join(check.role_breaches(make_role(tmp_path, main, handlers, "`probe` `probe_tls`")))
    assert "preflight must be tagged [always] only" in breaches
    assert "tag 'probe_config' is not probe_install|_configure|_service" in breaches
    assert "listen must be 'probe <action>[ <object>]', not 'restart probe'" in breaches
    assert "nothing notifies 'probe stop'" in breaches
    assert "README.md: does not name the tag `probe_install`" not in breaches  # probe_config replaced it


def test_the_repository_keeps_the_vocabulary(capsys):
    assert check.main() == 0, capsys.readouterr().out
