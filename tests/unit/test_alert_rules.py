"""Every alert rule the prometheus role ships is labelled, documented and tested with promtool.

The promtool tests themselves run in the prometheus role's Molecule scenario (promtool is
Debian's, on the monitoring host); this checks that each alert has them, firing and not firing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = sorted((ROOT / "roles" / "prometheus" / "files" / "rules").glob("*.yml"))
RULE_TESTS = sorted((ROOT / "roles" / "prometheus" / "molecule" / "default" / "rule_tests").glob("*_test.yml"))


def alerts() -> list[tuple[str, dict]]:
    found = []
    for path in RULES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            found += [(path.name, rule) for rule in group["rules"] if "alert" in rule]
    return found


def anchors(markdown: str) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file."""
    headings = re.findall(r"^#+\s+(.+?)\s*$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^a-z0-9 _-]", "", h.lower()).replace(" ", "-") for h in headings}


def test_there_are_rules_and_tests():
    assert alerts() and RULE_TESTS


@pytest.mark.parametrize(("file", "rule"), alerts(), ids=lambda v: v["alert"] if isinstance(v, dict) else v)
def test_each_alert_has_a_severity_a_summary_and_a_runbook_that_exists(file, rule):
    assert rule["labels"]["severity"] in ("critical", "warning"), file
    assert rule["annotations"]["summary"].strip()
    path, _, anchor = rule["annotations"]["runbook_url"].partition("#")
    runbook = ROOT / path
    assert runbook.is_file(), f"{rule['alert']}: {path} does not exist"
    assert anchor in anchors(runbook.read_text()), f"{rule['alert']}: {path} has no heading for #{anchor}"


def test_each_alert_is_tested_firing_and_not_firing():
    firing, silent = set(), set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    names = {rule["alert"] for _, rule in alerts()}
    assert names - firing == set(), "never tested firing"
    assert names - silent == set(), "never tested not firing"
