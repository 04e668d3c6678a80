"""Unit tests for filter_plugins/security.py (the security scan's verdicts)."""

from __future__ import annotations

import base64
import json

import pytest
from ansible.errors import AnsibleFilterError
from security import lynis_report, nmap_open_ports, security_rows

NMAP = """<?xml version="1.0"?>
<nmaprun scanner="nmap">
  <host><status state="up"/><address addr="10.0.0.10" addrtype="ipv4"/>
    <ports>
      <port protocol="tcp" portid="80"><state state="open"/></port>
      <port protocol="tcp" portid="443"><state state="open"/></port>
      <port protocol="tcp" portid="22"><state state="filtered"/></port>
    </ports></host>
  <host><status state="up"/><address addr="10.0.0.11" addrtype="ipv4"/><ports/></host>
</nmaprun>"""

LYNIS = """# Lynis Report
report_version_major=1
hardening_index=83
warning[]=FIRE-4512|iptables module(s) loaded, but no rules active|-|-|
suggestion[]=DEB-0810|Install apt-listbugs|-|-|
suggestion[]=SSH-7408|Consider hardening SSH configuration|-|-|
"""


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def statuses(rows: list[dict]) -> list[tuple[str, str, str]]:
    return [(row["check"], row["subject"], row["status"]) for row in rows]


def test_lynis_report_reads_the_index_warnings_and_suggestions():
    assert lynis_report(LYNIS) == {"index": 83, "warnings": ["FIRE-4512"], "suggestions": 2}
    assert lynis_report("nothing here")["index"] is None
    with pytest.raises(AnsibleFilterError, match="hardening_index is not a number"):
        lynis_report("hardening_index=high")


def test_nmap_open_ports_lists_only_open_tcp_ports_per_address():
    assert nmap_open_ports(NMAP) == {"10.0.0.10": [80, 443], "10.0.0.11": []}
    with pytest.raises(AnsibleFilterError, match="not an nmap XML report"):
        nmap_open_ports("Starting Nmap")


def test_open_ports_pass_only_when_exactly_the_expected_ones_are_open():
    expected = [{"host": "lb1", "address": "10.0.0.10", "ports": [80, 443]},
                {"host": "db1", "address": "10.0.0.11", "ports": [22]},
                {"host": "mon1", "address": "10.0.0.16", "ports": []}]
    rows = security_rows({"ports": {"rc": 0, "xml": NMAP, "source": "198.51.100.7", "expected": expected}})
    assert statuses(rows) == [("open ports", "lb1", "pass"), ("open ports", "db1", "fail"),
                              ("open ports", "mon1", "fail")]
    assert rows[1]["detail"] == "open from 198.51.100.7: none; expected but closed: 22"
    assert "not in nmap's report" in rows[2]["detail"]
    extra = [{"host": "lb1", "address": "10.0.0.10", "ports": [443]}]
    row = security_rows({"ports": {"rc": 0, "xml": NMAP, "expected": extra}})[0]
    assert row["status"] == "fail" and "not expected: 80" in row["detail"]
    failed = security_rows({"ports": {"rc": 1, "xml": "", "error": "nmap: not found", "expected": expected}})
    assert statuses(failed) == [("open ports", "nmap", "fail")] and "not found" in failed[0]["detail"]


def test_ssh_audit_and_sslyze_pass_on_exit_zero_with_their_verdicts():
    rows = security_rows({
        "ssh_audit": [{"host": "db1", "rc": 0, "stdout": "Passed"},
                      {"host": "db2", "rc": 3, "stdout": "Host Key Types: * ssh-rsa: Failed"}],
        "tls": [{"site": "a.test", "lb": "lb1", "rc": 0,
                 "stdout": "COMPLIANCE AGAINST MOZILLA\n a.test: OK - Compliant."},
                {"site": "a.test", "lb": "lb2", "rc": 1,
                 "stdout": "COMPLIANCE AGAINST MOZILLA\n a.test: FAILED - Not compliant.\n"
                           "    * tls_versions: TLS 1.0 is supported"}]})
    assert statuses(rows) == [("ssh-audit", "db1", "pass"), ("ssh-audit", "db2", "fail"),
                              ("TLS (sslyze, Mozilla intermediate)", "a.test at lb1", "pass"),
                              ("TLS (sslyze, Mozilla intermediate)", "a.test at lb2", "fail")]
    assert "ssh-rsa" in rows[1]["detail"] and rows[3]["detail"] == "* tls_versions: TLS 1.0 is supported"


def test_testssl_fails_on_a_high_or_critical_finding_and_on_a_missing_report():
    good = [{"id": "TLS1_3", "severity": "OK", "finding": "offered"}, {"id": "BREACH", "severity": "LOW"}]
    bad = [*good, {"id": "SWEET32", "severity": "HIGH", "finding": "VULNERABLE"}]
    rows = security_rows({"testssl": [{"site": "a.test", "lb": "lb1", "content": b64(json.dumps(good))},
                                      {"site": "a.test", "lb": "lb2", "content": b64(json.dumps(bad))},
                                      {"site": "a.test", "lb": "lb3", "content": None}]})
    assert [r["status"] for r in rows] == ["pass", "fail", "fail"]
    assert rows[0]["detail"] == "no finding rated CRITICAL or HIGH but those accepted (LOW 1, OK 1)"
    assert rows[1]["detail"].startswith("SWEET32 (HIGH: VULNERABLE)")
    assert rows[2]["detail"] == "no report read"


def test_testssl_findings_accepted_with_a_reason_pass_and_are_named():
    bad = [{"id": "cipher_order", "severity": "HIGH", "finding": "NOT a cipher order configured"},
           {"id": "SWEET32", "severity": "HIGH", "finding": "VULNERABLE"}]
    evidence = {"testssl": [{"site": "a.test", "lb": "lb1", "content": b64(json.dumps(bad))}]}
    accepted = {"cipher_order": "Mozilla intermediate: the client chooses"}
    row = security_rows(evidence, {"testssl_accepted": accepted})[0]
    assert row["status"] == "fail" and row["detail"].startswith("SWEET32")
    row = security_rows(evidence, {"testssl_accepted": {**accepted, "SWEET32": "no 3DES offered to users"}})[0]
    assert row["status"] == "pass"
    assert "accepted: cipher_order (Mozilla intermediate: the client chooses); SWEET32" in row["detail"]
    with pytest.raises(AnsibleFilterError, match="testssl_accepted must map each finding to the reason"):
        security_rows(evidence, {"testssl_accepted": {"SWEET32": ""}})


def test_observatory_grade_is_compared_with_the_minimum():
    answer = {"grade": "A+", "score": 115, "passed": 10, "tests": 10, "failed": []}
    worse = {"grade": "B", "score": 70, "passed": 8, "tests": 10, "failed": ["content-security-policy"]}
    results = [{"site": "a.test", "lb": "lb1", "rc": 0, "stdout": json.dumps(answer)},
               {"site": "a.test", "lb": "lb2", "rc": 0, "stdout": json.dumps(worse)},
               {"site": "a.test", "lb": "lb3", "rc": 1, "stdout": "Traceback"}]
    rows = security_rows({"observatory": results})
    assert [r["status"] for r in rows] == ["pass", "fail", "fail"]
    assert "failed: content-security-policy" in rows[1]["detail"]
    lenient = security_rows({"observatory": results[1:2]}, {"observatory_min_grade": "B"})
    assert [r["status"] for r in lenient] == ["pass"]
    with pytest.raises(AnsibleFilterError, match="observatory_min_grade must be one of"):
        security_rows({"observatory": results}, {"observatory_min_grade": "excellent"})


def test_lynis_index_is_compared_with_the_minimum_and_a_missing_report_fails():
    rows = security_rows({"lynis": {"db1": b64(LYNIS), "db2": "", "db3": b64("# Lynis Report\n")}},
                         {"lynis_min_index": 80})
    assert statuses(rows) == [("Lynis", "db1", "pass"), ("Lynis", "db2", "fail"), ("Lynis", "db3", "fail")]
    assert rows[0]["detail"] == "hardening index 83 (at least 80), 1 warnings (FIRE-4512), 2 suggestions"
    assert rows[1]["detail"] == "no report: the host failed or was unreachable during the scan"
    assert rows[2]["detail"] == "no hardening index in the report"
    assert security_rows({"lynis": {"db1": b64(LYNIS)}}, {"lynis_min_index": 85})[0]["status"] == "fail"


def dast(findings: list[dict], crawled: int = 12, rc: int = 0, lb: str = "lb1") -> dict:
    return {"site": "a.test", "lb": lb, "rc": rc, "stdout": json.dumps({"crawled": crawled, "findings": findings}),
            "stderr": ""}


def finding(category: str, level: int, path: str = "/portfolios", parameter: str = "name") -> dict:
    return {"category": category, "level": level, "method": "POST", "path": path, "parameter": parameter,
            "info": "..."}


def test_dast_fails_on_a_high_or_critical_finding_and_counts_the_others():
    quiet = dast([finding("Cross Site Request Forgery", 2), finding("Internal Server Error", 1)])
    rows = security_rows({"dast": [quiet, dast([finding("SQL Injection", 4)], lb="lb2")]})
    assert statuses(rows) == [("DAST (Wapiti)", "a.test at lb1", "pass"), ("DAST (Wapiti)", "a.test at lb2", "fail")]
    assert rows[0]["detail"] == "12 URLs and forms crawled and attacked; findings: 1 medium, 1 low"
    assert rows[1]["detail"] == "SQL Injection (critical: POST /portfolios name)"
    # A stricter level makes the medium finding fail too.
    assert security_rows({"dast": [dast([finding("Cross Site Request Forgery", 2)])]},
                         {"dast_fail_level": 2})[0]["status"] == "fail"


def test_dast_high_findings_accepted_with_a_reason_pass_and_are_named():
    evidence = {"dast": [dast([finding("Cross Site Scripting", 3)])]}
    assert security_rows(evidence)[0]["status"] == "fail"
    row = security_rows(evidence, {"dast_accepted": {"Cross Site Scripting": "reflected in a JSON API only"}})[0]
    assert row["status"] == "pass"
    assert row["detail"].endswith("accepted: Cross Site Scripting (reflected in a JSON API only)")
    with pytest.raises(AnsibleFilterError, match="dast_accepted must map each finding to the reason"):
        security_rows(evidence, {"dast_accepted": {"Cross Site Scripting": " "}})


def test_a_dast_scan_that_failed_or_crawled_nothing_fails():
    failed = {"site": "a.test", "lb": "lb1", "rc": 1, "stdout": "", "stderr": "Traceback\nSSLError: bad certificate"}
    rows = security_rows({"dast": [failed, dast([], crawled=0, lb="lb2")]})
    assert [row["status"] for row in rows] == ["fail", "fail"]
    assert rows[0]["detail"] == "no scan of the site: SSLError: bad certificate"
    assert rows[1]["detail"] == "no scan of the site: exit 0"


def test_unknown_evidence_and_a_bad_limit_are_refused():
    assert security_rows({}) == []
    with pytest.raises(AnsibleFilterError, match="unknown evidence nikto"):
        security_rows({"nikto": []})
    with pytest.raises(AnsibleFilterError, match="lynis_min_index must be a number"):
        security_rows({}, {"lynis_min_index": "high"})
    with pytest.raises(AnsibleFilterError, match="dast_fail_level must be a number"):
        security_rows({"dast": []}, {"dast_fail_level": "high"})
