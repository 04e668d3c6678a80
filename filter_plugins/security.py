"""Filters for playbooks/security-scan.yml: the scanners' answers read and judged, one row per subject.

Pure functions: no I/O. Unit tests: tests/unit/test_security.py.

    {{ report_text | lynis_report }}         -> {index, warnings: [test id], suggestions: count}
    {{ nmap_xml | nmap_open_ports }}         -> {address: [open TCP port]}
    {{ evidence | security_rows(limits) }}   -> [{check, subject, status: pass|fail, detail}]

The rows print with `checks_table` (filter_plugins/golive.py), as the go-live checklist's do.
"""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: security_rows
short_description: The security scan's rows from the scanners' answers playbooks/security-scan.yml gathered
description:
  - evidence keys (each optional; absent means the scan was not run) -
    C(ssh_audit) (C([{host, rc, stdout}]), ssh-audit against a policy),
    C(ports) (C({rc, xml, error, source, expected}), nmap's XML report and firewall_visible_ports' answer),
    C(tls) (C([{site, lb, rc, stdout}]), sslyze against Mozilla's profile),
    C(testssl) (C([{site, lb, content}]), testssl.sh's JSON report as slurp returns it),
    C(observatory) (C([{site, lb, rc, stdout}]), scripts/observatory-scan.py's JSON),
    C(lynis) (C({host: content}), each host's Lynis report as slurp returns it, '' when unread),
    C(dast) (C([{site, lb, rc, stdout, stderr}]), scripts/dast-scan.py's JSON).
  - limits - C(lynis_min_index), C(observatory_min_grade), C(testssl_fail_severities), C(testssl_accepted)
    (finding id to the reason it is accepted), C(dast_fail_level) (Wapiti's level, 3 high),
    C(dast_accepted) (Wapiti category to the reason its findings are accepted).
  - Each row is C({check, subject, status, detail}); status C(fail) fails the scan.
positional: limits
---
name: lynis_report
short_description: The hardening index, warnings and suggestion count of a Lynis report (lynis-report.dat)
---
name: nmap_open_ports
short_description: The open TCP ports per address of an nmap XML report (-oX)
"""

LIMITS = {
    "lynis_min_index": 80,
    "observatory_min_grade": "A",
    "testssl_fail_severities": ["HIGH", "CRITICAL"],
    "testssl_accepted": {},
    "dast_fail_level": 3,
    "dast_accepted": {},
}
NUMBER_LIMITS = ("lynis_min_index", "dast_fail_level")


def _accepted(limits: Mapping, key: str) -> Mapping:
    accepted = limits.get(key) or {}
    if not isinstance(accepted, Mapping) or not all(str(reason).strip() for reason in accepted.values()):
        raise AnsibleFilterError(f"security_rows: {key} must map each finding to the reason it is accepted, "
                                 f"got {accepted!r}")
    return accepted


def _json_answer(result: Mapping) -> dict | None:
    """A scanner wrapper's JSON answer on stdout (scripts/observatory-scan.py, scripts/dast-scan.py), or None."""
    try:
        answer = json.loads(result.get("stdout") or "")
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def _row(check: str, subject: str, ok: bool, detail: str) -> dict:
    return {"check": check, "subject": subject, "status": "pass" if ok else "fail", "detail": detail}


def lynis_report(text: str) -> dict:
    """Lynis's report file is KEY=VALUE lines; warnings and suggestions repeat (`warning[]=TEST-ID|text|...`)."""
    if not isinstance(text, str):
        raise AnsibleFilterError(f"lynis_report: expected the report's text, got {type(text).__name__}")
    index, warnings, suggestions = None, [], 0
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            continue
        if key == "hardening_index":
            try:
                index = int(value)
            except ValueError as error:
                raise AnsibleFilterError(f"lynis_report: hardening_index is not a number: {value!r}") from error
        elif key == "warning[]":
            warnings.append(value.split("|", 1)[0])
        elif key == "suggestion[]":
            suggestions += 1
    return {"index": index, "warnings": warnings, "suggestions": suggestions}


def nmap_open_ports(xml: str) -> dict:
    """Open TCP ports by IPv4 address from `nmap -oX -`; hosts nmap saw down or with nothing open map to []."""
    try:
        root = ET.fromstring(xml)  # noqa: S314 - nmap's report of a scan this machine ran
    except ET.ParseError as error:
        raise AnsibleFilterError(f"nmap_open_ports: not an nmap XML report ({error})") from error
    found = {}
    for host in root.iter("host"):
        address = next((a.get("addr") for a in host.iter("address") if a.get("addrtype") == "ipv4"), None)
        if address is None:
            continue
        found[address] = sorted(int(port.get("portid")) for port in host.iter("port") if _open_tcp(port))
    return found


def _open_tcp(port) -> bool:
    state = port.find("state")
    return port.get("protocol") == "tcp" and state is not None and state.get("state") == "open"


def _decode(content) -> str:
    if not content:
        return ""
    try:
        return base64.b64decode(content).decode("utf-8", errors="replace")
    except (ValueError, TypeError) as error:
        raise AnsibleFilterError(f"security_rows: a slurped report is not base64 ({error})") from error


def check_ssh_audit(results, limits: Mapping) -> list[dict]:
    rows = []
    for result in results:
        ok = result.get("rc") == 0
        failed = [line.strip() for line in (result.get("stdout") or "").splitlines()
                  if line.strip().startswith("*") or "Failed" in line]
        rows.append(_row("ssh-audit", result["host"], ok, "policy passed" if ok
                         else "; ".join(failed[:3]) or f"exit {result.get('rc')}"))
    return rows


def check_ports(ports: Mapping, limits: Mapping) -> list[dict]:
    source = ports.get("source") or "this machine"
    if ports.get("rc") != 0:
        return [_row("open ports", "nmap", False, f"nmap failed: {(ports.get('error') or '').strip()[:200]}")]
    seen, rows = nmap_open_ports(ports.get("xml") or ""), []
    for expectation in ports.get("expected", []):
        address, wanted = expectation["address"], sorted(int(p) for p in expectation["ports"])
        if address not in seen:
            rows.append(_row("open ports", expectation["host"], False, f"not in nmap's report (from {source})"))
            continue
        open_ports = seen[address]
        extra = [p for p in open_ports if p not in wanted]
        closed = [p for p in wanted if p not in open_ports]
        detail = f"open from {source}: {', '.join(map(str, open_ports)) or 'none'}"
        if extra:
            detail += f"; not expected: {', '.join(map(str, extra))}"
        if closed:
            detail += f"; expected but closed: {', '.join(map(str, closed))}"
        rows.append(_row("open ports", expectation["host"], not extra and not closed, detail))
    return rows


def check_tls(results, limits: Mapping) -> list[dict]:
    rows = []
    for result in results:
        text = result.get("stdout") or ""
        ok = result.get("rc") == 0 and "OK - Compliant" in text
        part = text[text.find("COMPLIANCE AGAINST"):] if "COMPLIANCE AGAINST" in text else text
        reasons = [line.strip() for line in part.splitlines() if line.strip().startswith("*")]
        rows.append(_row("TLS (sslyze, Mozilla intermediate)", f"{result['site']} at {result['lb']}", ok,
                         "compliant" if ok else "; ".join(reasons[:4]) or f"exit {result.get('rc')}"))
    return rows


def check_testssl(results, limits: Mapping) -> list[dict]:
    """No finding rated HIGH or CRITICAL (testssl_fail_severities), except those accepted with a reason
    (testssl_accepted: {finding id: reason}), which the row names."""
    severities = {s.upper() for s in limits["testssl_fail_severities"]}
    accepted = _accepted(limits, "testssl_accepted")
    rows = []
    for result in results:
        subject = f"{result['site']} at {result['lb']}"
        text = _decode(result.get("content"))
        try:
            findings = json.loads(text) if text else []
        except ValueError:
            findings = []
        if not isinstance(findings, list) or not findings:
            rows.append(_row("TLS (testssl.sh)", subject, False, "no report read"))
            continue
        rated = [f for f in findings if str(f.get("severity", "")).upper() in severities]
        bad = [f"{f.get('id')} ({f.get('severity')}: {f.get('finding')})" for f in rated if f.get("id") not in accepted]
        excused = [f"{f.get('id')} ({accepted[f.get('id')]})" for f in rated if f.get("id") in accepted]
        counted = Counter(str(finding.get("severity", "?")) for finding in findings)
        summary = ", ".join(f"{k} {v}" for k, v in sorted(counted.items()))
        detail = ("; ".join(bad[:5]) if bad
                  else f"no finding rated {' or '.join(sorted(severities))} but those accepted ({summary})")
        if excused:
            detail += "; accepted: " + "; ".join(excused)
        rows.append(_row("TLS (testssl.sh)", subject, not bad, detail))
    return rows


GRADES = ["A+", "A", "A-", "B+", "B", "B-", "C+", "C", "C-", "D+", "D", "D-", "F"]


def check_observatory(results, limits: Mapping) -> list[dict]:
    minimum = str(limits["observatory_min_grade"])
    if minimum not in GRADES:
        raise AnsibleFilterError(f"security_rows: observatory_min_grade must be one of {', '.join(GRADES)}, "
                                 f"got {minimum!r}")
    rows = []
    for result in results:
        subject = f"{result['site']} at {result['lb']}"
        answer = _json_answer(result)
        if result.get("rc") != 0 or answer is None or answer.get("grade") not in GRADES:
            rows.append(_row("HTTP Observatory", subject, False, f"no grade (exit {result.get('rc')})"))
            continue
        ok = GRADES.index(answer["grade"]) <= GRADES.index(minimum)
        rows.append(_row("HTTP Observatory", subject, ok,
                         f"grade {answer['grade']} (at least {minimum}), score {answer.get('score')}, "
                         f"{answer.get('passed')} of {answer.get('tests')} tests passed"
                         + (f"; failed: {', '.join(answer.get('failed') or [])}" if answer.get("failed") else "")))
    return rows


def check_lynis(reports: Mapping, limits: Mapping) -> list[dict]:
    rows = []
    for host, content in reports.items():
        if not content:
            # Nothing was fetched: the host failed or was unreachable before its report was read.
            rows.append(_row("Lynis", host, False, "no report: the host failed or was unreachable during the scan"))
            continue
        report = lynis_report(_decode(content))
        index = report["index"]
        ok = index is not None and index >= int(limits["lynis_min_index"])
        detail = (f"hardening index {index} (at least {limits['lynis_min_index']}), "
                  f"{len(report['warnings'])} warnings ({', '.join(report['warnings']) or 'none'}), "
                  f"{report['suggestions']} suggestions") if index is not None else "no hardening index in the report"
        rows.append(_row("Lynis", host, ok, detail))
    return rows


WAPITI_LEVELS = {4: "critical", 3: "high", 2: "medium", 1: "low", 0: "info"}


def check_dast(results, limits: Mapping) -> list[dict]:
    """No Wapiti finding at dast_fail_level or above (3: high) but those of a category accepted with a reason
    (dast_accepted: {category: reason}); a scan that crawled nothing fails (it never reached the app)."""
    accepted = _accepted(limits, "dast_accepted")
    fail_level = int(limits["dast_fail_level"])
    rows = []
    for result in results:
        subject = f"{result['site']} at {result['lb']}"
        answer = _json_answer(result)
        if result.get("rc") != 0 or answer is None or not answer.get("crawled"):
            error = (result.get("stderr") or "").strip().splitlines()[-1:] or [f"exit {result.get('rc')}"]
            rows.append(_row("DAST (Wapiti)", subject, False, f"no scan of the site: {error[0]}"))
            continue
        findings = answer.get("findings") or []
        rated = [f for f in findings if int(f.get("level", 0)) >= fail_level]
        bad = [f"{f.get('category')} ({WAPITI_LEVELS.get(int(f['level']), f['level'])}: "
               + " ".join(str(part) for part in (f.get("method"), f.get("path"), f.get("parameter")) if part) + ")"
               for f in rated if f.get("category") not in accepted]
        excused = sorted({f"{f.get('category')} ({accepted[f.get('category')]})" for f in rated
                          if f.get("category") in accepted})
        counted = Counter(WAPITI_LEVELS.get(int(f.get("level", 0)), "?") for f in findings)
        summary = ", ".join(f"{counted[level]} {level}" for level in WAPITI_LEVELS.values() if counted[level])
        detail = ("; ".join(bad[:5]) if bad else
                  f"{answer['crawled']} URLs and forms crawled and attacked; findings: {summary or 'none'}")
        if excused:
            detail += "; accepted: " + "; ".join(excused)
        rows.append(_row("DAST (Wapiti)", subject, not bad, detail))
    return rows


CHECKS = {
    "ssh_audit": check_ssh_audit,
    "ports": check_ports,
    "tls": check_tls,
    "testssl": check_testssl,
    "observatory": check_observatory,
    "lynis": check_lynis,
    "dast": check_dast,
}


def security_rows(evidence: Mapping, limits: Mapping | None = None) -> list[dict]:
    """The scan's rows, in CHECKS' order, for each scan that ran."""
    if not isinstance(evidence, Mapping):
        raise AnsibleFilterError(f"security_rows: evidence must be a mapping, got {evidence!r}")
    unknown = sorted(set(evidence) - set(CHECKS))
    if unknown:
        raise AnsibleFilterError(f"security_rows: unknown evidence {', '.join(unknown)} (known: {', '.join(CHECKS)})")
    merged = {**LIMITS, **(limits or {})}
    for name in NUMBER_LIMITS:
        try:
            int(merged[name])
        except (TypeError, ValueError) as error:
            raise AnsibleFilterError(f"security_rows: {name} must be a number, got {merged[name]!r}") from error
    return [row for key, check in CHECKS.items() if key in evidence for row in check(evidence[key], merged)]


class FilterModule:
    """Security scan filters."""

    def filters(self):
        return {"lynis_report": lynis_report, "nmap_open_ports": nmap_open_ports, "security_rows": security_rows}
