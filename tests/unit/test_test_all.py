"""scripts/test-all.py shows which task failed on which host when a converge fails,
not only the end of the log, and where a pytest step's time went."""

from __future__ import annotations

from pathlib import Path

from paas_testlib import load_script

runner = load_script("scripts/test-all.py")

LOG = """PLAY [Backup | pgBackRest] *****
TASK [pgbackrest : Create the stanza] *****
ok: [db1]
fatal: [backup1]: FAILED! => {"changed": true, "rc": 50, "stderr": "ERROR: [050]: unable to acquire lock"}
TASK [pgbackrest : Start the timers] *****
changed: [backup1]
""" + "\n".join(f"        Property{i}: 'x'" for i in range(60)) + "\nPLAY RECAP *****\n"


def test_failures_name_the_task_and_host():
    found = runner.ansible_failures(LOG.splitlines())
    assert found == [
        "TASK [pgbackrest : Create the stanza]",
        'fatal: [backup1]: FAILED! => {"changed": true, "rc": 50, "stderr": "ERROR: [050]: unable to acquire lock"}',
    ]


def test_a_log_without_ansible_failures_gives_none():
    assert runner.ansible_failures(["==== 3 passed in 1.2s ===="]) == []


def test_long_failure_lines_are_cut():
    found = runner.ansible_failures(["fatal: [h]: FAILED! => " + "x" * 5000], width=100)
    assert len(found) == 1 and len(found[0]) == 100


def test_the_excerpt_leads_with_the_failure(tmp_path: Path):
    log = tmp_path / "converge.log"
    log.write_text(LOG)
    excerpt = runner.tail(log).splitlines()
    assert "Create the stanza" in excerpt[0]
    assert "PLAY RECAP" in excerpt[-1]


JUNIT = """<testsuites><testsuite name="pytest" tests="3">
<testcase classname="tests.sandbox.test_drills" name="test_a" time="100.5"/>
<testcase classname="tests.sandbox.test_deploy" name="test_b" time="30"/>
<testcase classname="tests.sandbox.test_drills" name="test_c" time="20.5"/>
</testsuite></testsuites>"""


def test_seconds_per_test_file_slowest_first(tmp_path: Path):
    xml = tmp_path / "verify.xml"
    xml.write_text(JUNIT)
    assert runner.junit_file_seconds(xml) == [("test_drills.py", 121.0), ("test_deploy.py", 30.0)]


def test_no_junit_file_gives_no_seconds(tmp_path: Path):
    assert runner.junit_file_seconds(tmp_path / "missing.xml") == []


def test_the_excerpt_names_each_failed_test_before_molecules_clean_up(tmp_path: Path):
    log = tmp_path / "verify.log"
    log.write_text("\n".join([
        "tests/test_default.py::test_a PASSED",
        "E       assert '000' == '200'",
        "FAILED tests/test_default.py::test_renewal - AssertionError: 3 requests",
        "==== 1 failed, 9 passed in 9.78s ====",
        "ERROR    Molecule executed 1 scenario (1 failed)",
        *[f"clean-up line {n}" for n in range(40)],
    ]))
    excerpt = runner.tail(log).splitlines()
    assert excerpt[0].endswith("FAILED tests/test_default.py::test_renewal - AssertionError: 3 requests")
    assert not any("Molecule executed" in line for line in excerpt[:2])
