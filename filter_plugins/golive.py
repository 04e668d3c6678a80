"""Filters for playbooks/go-live-check.yml: the go-live checklist's verdicts, one row per subject.

Pure functions: no I/O. Unit tests: tests/unit/test_golive.py.

    {{ seen | golive_evidence(topology) }} -> the evidence the inventory calls for, from what was seen
    {{ evidence | golive_rows(limits) }}  -> [{check, subject, status: pass|fail|warn, detail}]
    {{ rows | checks_table }}             -> the rows as a fixed-width text table

`evidence` is what the playbook gathered, each key optional (a check whose
key is absent does not apply to the inventory and gives no row); Prometheus
answers are instant vectors as its HTTP API returns them
(`[{"metric": {...}, "value": [time, "number"]}]`). A key that is present but
holds nothing is a failure: the thing the checklist needs was not seen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: golive_rows
short_description: The go-live checklist's rows from the evidence playbooks/go-live-check.yml gathered
description:
  - evidence keys (each optional; absent means the check does not apply) -
    C(targets) (vector of C(up)), C(probes) (vector of C(probe_success)), C(certificates)
    (vector of seconds until C(probe_ssl_earliest_cert_expiry)), C(database_backups) (vector of ages in
    seconds by stanza and repo), C(file_backups) (ages by host and repository), C(database_drills) and
    C(file_drills) (C({success: vector, age: vector})), C(alerts) (Alertmanager's alerts, its /api/v2/alerts),
    C(drift) (C({success, age, changes}) vectors), C(replication) (C({expected: [slot], rows:
    [{application_name, state, lag_bytes}], error})), C(alerting) (C({alertmanagers: count, routes:
    {severity: [receiver]}, receivers: [Alertmanager receiver]})), C(dns) (C([{name, addresses, expected}]),
    addresses as getent prints them or plain), C(unanswered) (what could not be asked: each a failure).
  - limits - C(certificate_min_days), C(backup_max_age_hours), C(drill_max_age_days),
    C(drift_max_age_hours), C(replica_max_lag_bytes).
  - Each row is C({check, subject, status, detail}); status C(fail) fails the checklist, C(warn) is shown only.
positional: limits
---
name: checks_table
short_description: Check rows (go-live checklist, security scan) as a fixed-width table
---
name: golive_evidence
short_description: The evidence golive_rows judges, from what the go-live check's plays saw
description:
  - seen - what the monitoring host's play kept (C({vectors, unanswered, alerts, alerting, dns}); C({}) when
    that play did not run or the host was unreachable).
  - topology - C(replication) (the primary's C(postgresql_query) result, or none when it was not asked),
    C(replica_slots) (the slot each replica streams to), C(load_balancers) (whether there are any),
    C(dns_addresses) (where each site's name must point).
  - Evidence is given only for what the inventory has (no load balancer, no probe rows) and what was
    deployed (no drift metric published, no drift row); what could not be asked is C(unanswered).
positional: topology
"""

LIMITS = {
    "certificate_min_days": 14,
    "backup_max_age_hours": 26,
    "drill_max_age_days": 8,
    "drift_max_age_hours": 26,
    "replica_max_lag_bytes": 16 * 1024 * 1024,
}

# A paging receiver has one of these; any *_configs entry makes a receiver deliver somewhere.
PAGING_INTEGRATIONS = ("pagerduty_configs", "opsgenie_configs")


def _row(check: str, subject: str, ok: bool | str, detail: str) -> dict:
    status = ok if isinstance(ok, str) else ("pass" if ok else "fail")
    return {"check": check, "subject": subject, "status": status, "detail": detail}


def _samples(vector, key: str) -> list[tuple[dict, float]]:
    """(labels, value) pairs of an instant vector, sorted by labels."""
    if not isinstance(vector, Sequence) or isinstance(vector, str):
        raise AnsibleFilterError(f"golive_rows: {key} must be a Prometheus instant vector (a list), got {vector!r}")
    samples = []
    for sample in vector:
        try:
            samples.append((dict(sample["metric"]), float(sample["value"][1])))
        except (KeyError, IndexError, TypeError, ValueError) as error:
            raise AnsibleFilterError(f"golive_rows: {key}: not a Prometheus sample: {sample!r}") from error
    return sorted(samples, key=lambda pair: sorted(pair[0].items()))


def _name(labels: Mapping, *names: str) -> str:
    return " ".join(str(labels[n]) for n in names if n in labels) or "(no labels)"


def _probe(labels: Mapping) -> str:
    """A probe's name (label probe), else the target it was scraped for."""
    return str(labels.get("probe") or labels.get("instance") or "(no labels)")


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


def check_targets(vector, limits: Mapping) -> list[dict]:
    """Every scrape target answers (up == 1)."""
    samples = _samples(vector, "targets")
    if not samples:
        return [_row("monitoring", "scrape targets", False, "Prometheus has no target")]
    down = [labels for labels, value in samples if value != 1]
    rows = [_row("monitoring", _name(labels, "job", "instance", "redis_instance", "probe"), False,
                 "target down (up == 0)") for labels in down]
    return rows or [_row("monitoring", "scrape targets", True, f"all {len(samples)} targets up")]


def check_probes(vector, limits: Mapping) -> list[dict]:
    """Every blackbox probe (each site at each load balancer, each TLS service) succeeds."""
    samples = _samples(vector, "probes")
    if not samples:
        return [_row("probes", "blackbox probes", False, "no probe result")]
    return [_row("probes", _probe(labels), value == 1,
                 "succeeds" if value == 1 else "failing (probe_success == 0)")
            for labels, value in samples]


def check_certificates(vector, limits: Mapping) -> list[dict]:
    """Every certificate a probe saw is valid for more than certificate_min_days."""
    samples = _samples(vector, "certificates")
    if not samples:
        return [_row("certificates", "TLS endpoints", False, "no certificate seen by a probe")]
    minimum = float(limits["certificate_min_days"])
    return [_row("certificates", _probe(labels), seconds / 86400 > minimum,
                 f"expires in {seconds / 86400:.0f} days (minimum {minimum:g})")
            for labels, seconds in samples]


def _ages(check: str, what: str, vector, key: str, names: tuple[str, ...], max_seconds: float) -> list[dict]:
    samples = _samples(vector, key)
    if not samples:
        return [_row(check, what, False, "no backup recorded")]
    return [_row(check, _name(labels, *names), age <= max_seconds,
                 f"newest {_hours(age)} old (limit {_hours(max_seconds)})")
            for labels, age in samples]


def check_database_backups(vector, limits: Mapping) -> list[dict]:
    """Each pgBackRest repository's newest backup is younger than backup_max_age_hours."""
    return _ages("database backups", "pgBackRest", vector, "database_backups", ("stanza", "repo"),
                 float(limits["backup_max_age_hours"]) * 3600)


def check_file_backups(vector, limits: Mapping) -> list[dict]:
    """Each host's newest restic snapshot, in each repository, is younger than backup_max_age_hours."""
    return _ages("file backups", "restic", vector, "file_backups", ("host", "repository"),
                 float(limits["backup_max_age_hours"]) * 3600)


def _drills(check: str, drills, key: str, names: tuple[str, ...], limits: Mapping) -> list[dict]:
    if not isinstance(drills, Mapping):
        raise AnsibleFilterError(f"golive_rows: {key} must be a mapping {{success, age}}, got {drills!r}")
    success = _samples(drills.get("success", []), key + ".success")
    ages = {_name(labels, *names): age for labels, age in _samples(drills.get("age", []), key + ".age")}
    if not success:
        return [_row(check, "restore drill", False, "no restore drill has run")]
    max_seconds = float(limits["drill_max_age_days"]) * 86400
    rows = []
    for labels, value in success:
        subject = _name(labels, *names)
        age = ages.get(subject)
        if value != 1:
            rows.append(_row(check, subject, False, "last drill did not restore exactly"))
        elif age is None or age > max_seconds:
            when = "unknown" if age is None else f"{age / 86400:.1f} days ago"
            rows.append(_row(check, subject, False, f"last drill passed but ran {when} "
                                                    f"(limit {limits['drill_max_age_days']} days)"))
        else:
            rows.append(_row(check, subject, True, f"last drill passed {_hours(age)} ago"))
    return rows


def check_database_drills(drills, limits: Mapping) -> list[dict]:
    """Each pgBackRest repository's last restore drill passed, within drill_max_age_days."""
    return _drills("database restore drill", drills, "database_drills", ("stanza", "repo"), limits)


def check_file_drills(drills, limits: Mapping) -> list[dict]:
    """Each host's files' last restore drill, from each restic repository, passed in time."""
    return _drills("file restore drill", drills, "file_drills", ("host", "repository"), limits)


def check_alerts(alerts, limits: Mapping) -> list[dict]:
    """No critical alert paging: Alertmanager's alerts (its /api/v2/alerts), a firing critical one fails;
    warnings, and critical alerts a person silenced (or a critical alert inhibited), are listed only."""
    if not isinstance(alerts, Sequence) or isinstance(alerts, str):
        raise AnsibleFilterError(f"golive_rows: alerts must be Alertmanager's list of alerts, got {alerts!r}")
    rows = []
    for alert in sorted(alerts, key=lambda a: sorted((a.get("labels") or {}).items())):
        labels, status = alert.get("labels") or {}, alert.get("status") or {}
        severity = labels.get("severity", "no severity")
        if status.get("silencedBy"):
            rows.append(_row("firing alerts", _name(labels, "alertname", "instance"), "warn",
                             f"{severity} alert firing, silenced ({', '.join(status['silencedBy'])})"))
        elif status.get("inhibitedBy"):
            rows.append(_row("firing alerts", _name(labels, "alertname", "instance"), "warn",
                             f"{severity} alert firing, inhibited by another"))
        else:
            rows.append(_row("firing alerts", _name(labels, "alertname", "instance"),
                             False if severity == "critical" else "warn", f"{severity} alert firing"))
    return rows or [_row("firing alerts", "Alertmanager", True, "no alert firing")]


def check_drift(drift, limits: Mapping) -> list[dict]:
    """The last drift check completed, recently, and found no change to make."""
    if not isinstance(drift, Mapping):
        raise AnsibleFilterError(f"golive_rows: drift must be a mapping {{success, age, changes}}, got {drift!r}")
    success = _samples(drift.get("success", []), "drift.success")
    ages = _samples(drift.get("age", []), "drift.age")
    if not success or not ages:
        return [_row("drift", "drift check", False, "no drift check result published (make drift PUBLISH=1)")]
    age = max(value for _, value in ages)
    max_seconds = float(limits["drift_max_age_hours"]) * 3600
    rows = []
    if min(value for _, value in success) != 1:
        rows.append(_row("drift", "drift check", False, "the last drift check did not complete on every host"))
    if age > max_seconds:
        rows.append(_row("drift", "drift check", False, f"last check {_hours(age)} ago (limit {_hours(max_seconds)})"))
    drifted = [(labels, value) for labels, value in _samples(drift.get("changes", []), "drift.changes") if value > 0]
    rows += [_row("drift", _name(labels, "host"), False, f"{value:.0f} changes pending") for labels, value in drifted]
    return rows or [_row("drift", "drift check", True, f"no drift, checked {_hours(age)} ago")]


def check_replication(replication, limits: Mapping) -> list[dict]:
    """Each replica streams from the primary, within replica_max_lag_bytes."""
    if not isinstance(replication, Mapping):
        raise AnsibleFilterError(f"golive_rows: replication must be a mapping, got {replication!r}")
    if replication.get("error"):
        return [_row("replication", "primary", False, f"no answer: {replication['error']}")]
    streaming = {row.get("application_name"): row for row in replication.get("rows") or []}
    limit = int(limits["replica_max_lag_bytes"])
    rows = []
    for slot in replication.get("expected") or []:
        row = streaming.get(slot)
        if row is None:
            rows.append(_row("replication", slot, False, "not connected to the primary"))
        elif row.get("state") != "streaming":
            rows.append(_row("replication", slot, False, f"state {row.get('state')}, not streaming"))
        elif row.get("lag_bytes") is None or int(float(row["lag_bytes"])) > limit:
            rows.append(_row("replication", slot, False, f"replay {row.get('lag_bytes')} bytes behind (limit {limit})"))
        else:
            rows.append(_row("replication", slot, True, f"streaming, {int(float(row['lag_bytes']))} bytes behind"))
    return rows


def _receivers_reached(alerting: Mapping, severity: str) -> list[dict]:
    names = alerting.get("routes", {}).get(severity) or []
    receivers = {r.get("name"): r for r in alerting.get("receivers") or [] if isinstance(r, Mapping)}
    return [receivers.get(name, {"name": name}) for name in names]


def check_alerting(alerting, limits: Mapping) -> list[dict]:
    """Prometheus sends to an Alertmanager; critical alerts page, warnings reach someone."""
    if not isinstance(alerting, Mapping):
        raise AnsibleFilterError(f"golive_rows: alerting must be a mapping, got {alerting!r}")
    count = int(alerting.get("alertmanagers") or 0)
    rows = [_row("alert routing", "Prometheus", count > 0,
                 f"sends to {count} Alertmanager(s)" if count else "no active Alertmanager")]
    for severity, wanted, what in (("critical", PAGING_INTEGRATIONS, "pages"), ("warning", None, "notifies")):
        reached = _receivers_reached(alerting, severity)
        kinds = sorted({key for receiver in reached for key, value in receiver.items()
                        if key.endswith("_configs") and value and (wanted is None or key in wanted)})
        names = ", ".join(r["name"] for r in reached) or "no receiver"
        rows.append(_row("alert routing", f"severity={severity}", bool(kinds),
                         f"{what} through {', '.join(kinds)} (receivers {names})" if kinds
                         else f"{'pages' if wanted else 'reaches'} nobody: receivers {names} have no "
                              f"{'paging ' if wanted else ''}integration"))
    return rows


def check_dns(names, limits: Mapping) -> list[dict]:
    """Each site's name resolves, and only to the expected addresses when some are given.

    An entry's addresses may be getent's lines (`10.0.0.10  STREAM name`): the first word of each counts.
    """
    if not isinstance(names, Sequence) or isinstance(names, str):
        raise AnsibleFilterError(f"golive_rows: dns must be a list of {{name, addresses, expected}}, got {names!r}")
    rows = []
    for entry in names:
        addresses = sorted({line.split()[0] for line in entry.get("addresses") or [] if line.strip()})
        expected = set(entry.get("expected") or [])
        if not addresses:
            rows.append(_row("dns", entry["name"], False, "does not resolve"))
        elif expected and not set(addresses) <= expected:
            rows.append(_row("dns", entry["name"], False, f"resolves to {', '.join(addresses)}, "
                                                          f"expected only {', '.join(sorted(expected))}"))
        else:
            rows.append(_row("dns", entry["name"], True, f"resolves to {', '.join(addresses)}"))
    return rows


def check_unanswered(what, limits: Mapping) -> list[dict]:
    """What the playbook could not ask (a host unreachable, a query refused): each fails."""
    if not isinstance(what, Sequence) or isinstance(what, str):
        raise AnsibleFilterError(f"golive_rows: unanswered must be a list, got {what!r}")
    return [_row("evidence", str(subject), False, "could not be asked") for subject in what]


CHECKS: dict[str, Callable[[object, Mapping], list[dict]]] = {
    "unanswered": check_unanswered,
    "targets": check_targets,
    "probes": check_probes,
    "certificates": check_certificates,
    "database_backups": check_database_backups,
    "database_drills": check_database_drills,
    "file_backups": check_file_backups,
    "file_drills": check_file_drills,
    "replication": check_replication,
    "alerting": check_alerting,
    "alerts": check_alerts,
    "drift": check_drift,
    "dns": check_dns,
}


def _in_vectors(vectors: Mapping, *names: str) -> dict:
    return {name: vectors[name] for name in names if name in vectors}


def golive_evidence(seen: Mapping, topology: Mapping) -> dict:
    """What golive_rows judges, from what the plays saw: each kind the inventory calls for."""
    if not isinstance(seen, Mapping) or not isinstance(topology, Mapping):
        raise AnsibleFilterError(f"golive_evidence: seen and topology must be mappings, got {seen!r}, {topology!r}")
    vectors = seen.get("vectors") or {}
    replication = topology.get("replication") or {}
    slots = list(topology.get("replica_slots") or [])
    unanswered = ([] if seen else ["the monitoring host (unreachable, or no monitoring group)"])
    unanswered += list(seen.get("unanswered") or [])
    if slots and "query_result" not in replication:
        unanswered.append(f"the primary: {replication.get('msg') or 'unreachable'}")
    evidence: dict = {"unanswered": unanswered, **_in_vectors(vectors, "targets")}
    if seen and "Alertmanager alerts" not in unanswered:
        evidence["alerts"] = seen.get("alerts") or []
    if topology.get("load_balancers"):
        evidence.update(_in_vectors(vectors, "probes", "certificates"))
    if "drift_changes" in vectors:
        # A companion query that went unanswered is an empty vector here (a failed row), and named
        # in unanswered.
        evidence["drift"] = {"success": vectors.get("drift_success", []), "age": vectors.get("drift_age", []),
                             "changes": vectors["drift_changes"]}
    for kind in ("database", "file"):
        if f"{kind}_drill_age" in vectors:
            evidence[f"{kind}_backups"] = vectors.get(f"{kind}_backups", [])
            evidence[f"{kind}_drills"] = {"success": vectors.get(f"{kind}_drill_success", []),
                                          "age": vectors[f"{kind}_drill_age"]}
    if "query_result" in replication:
        evidence["replication"] = {"expected": slots, "rows": replication["query_result"]}
    if seen and not [item for item in unanswered if str(item).startswith("Alertmanager")]:
        evidence["alerting"] = seen.get("alerting")
    if seen.get("dns"):
        evidence["dns"] = [{**name, "expected": list(topology.get("dns_addresses") or [])} for name in seen["dns"]]
    return evidence


def golive_rows(evidence: Mapping, limits: Mapping | None = None) -> list[dict]:
    """The checklist's rows, in CHECKS' order, for each kind of evidence gathered."""
    if not isinstance(evidence, Mapping):
        raise AnsibleFilterError(f"golive_rows: evidence must be a mapping, got {evidence!r}")
    unknown = sorted(set(evidence) - set(CHECKS))
    if unknown:
        raise AnsibleFilterError(f"golive_rows: unknown evidence {', '.join(unknown)} (known: {', '.join(CHECKS)})")
    merged = {**LIMITS, **(limits or {})}
    for name, value in merged.items():
        try:
            float(value)
        except (TypeError, ValueError) as error:
            raise AnsibleFilterError(f"golive_rows: limit {name} must be a number, got {value!r}") from error
    return [row for key, check in CHECKS.items() if key in evidence for row in check(evidence[key], merged)]


def checks_table(rows: Sequence[Mapping]) -> str:
    """STATUS  CHECK  SUBJECT  DETAIL, one line per row, columns padded; a summary line last."""
    header = ("STATUS", "CHECK", "SUBJECT", "DETAIL")
    lines = [header] + [(r["status"].upper(), r["check"], r["subject"], r["detail"]) for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(3)]
    text = ["  ".join(cell.ljust(widths[i]) if i < 3 else cell for i, cell in enumerate(line)).rstrip()
            for line in lines]
    count = {status: sum(1 for r in rows if r["status"] == status) for status in ("pass", "warn", "fail")}
    text.append(f"{count['pass']} passed, {count['warn']} warnings, {count['fail']} failed")
    return "\n".join(text)


class FilterModule:
    """Go-live checklist filters."""

    def filters(self):
        return {"golive_evidence": golive_evidence, "golive_rows": golive_rows, "checks_table": checks_table}
