"""Unit tests for filter_plugins/golive.py (the go-live checklist's verdicts)."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from golive import checks_table, golive_evidence, golive_rows

DAY = 86400


def vector(*samples: tuple[dict, float]) -> list[dict]:
    return [{"metric": labels, "value": [1700000000.0, str(value)]} for labels, value in samples]


def statuses(rows: list[dict]) -> list[tuple[str, str]]:
    return [(row["subject"], row["status"]) for row in rows]


def test_only_the_evidence_gathered_gives_rows_and_unknown_evidence_is_refused():
    assert golive_rows({}) == []
    with pytest.raises(AnsibleFilterError, match="unknown evidence backups"):
        golive_rows({"backups": []})


def test_a_target_down_fails_and_all_up_is_one_passing_row():
    up = vector(({"job": "node", "instance": "db1"}, 1), ({"job": "redis", "instance": "redis1",
                                                            "redis_instance": "queue"}, 0))
    assert statuses(golive_rows({"targets": up})) == [("redis redis1 queue", "fail")]
    rows = golive_rows({"targets": vector(({"job": "node", "instance": "db1"}, 1))})
    assert statuses(rows) == [("scrape targets", "pass")] and "all 1 targets up" in rows[0]["detail"]


@pytest.mark.parametrize("key", ["targets", "probes", "certificates", "database_backups", "file_backups"])
def test_evidence_gathered_but_empty_fails(key):
    rows = golive_rows({key: []})
    assert [row["status"] for row in rows] == ["fail"]


def test_a_certificate_must_outlive_the_minimum_days():
    certs = vector(({"probe": "lb1 portfolio"}, 90 * DAY), ({"probe": "redis1 queue"}, 10 * DAY))
    assert statuses(golive_rows({"certificates": certs})) == [("lb1 portfolio", "pass"), ("redis1 queue", "fail")]
    assert statuses(golive_rows({"certificates": certs}, {"certificate_min_days": 5}))[1] == ("redis1 queue", "pass")
    assert statuses(golive_rows({"certificates": certs}, {"certificate_min_days": 100}))[0] == ("lb1 portfolio", "fail")


def test_a_failing_probe_fails():
    probes = vector(({"probe": "lb1 portfolio", "instance": "mon1"}, 1), ({"probe": "s3", "instance": "mon1"}, 0),
                    ({"instance": "https://example.test"}, 1))
    assert statuses(golive_rows({"probes": probes})) == [
        ("https://example.test", "pass"), ("lb1 portfolio", "pass"), ("s3", "fail")]


def test_backups_older_than_the_limit_fail_per_repository_and_host():
    database = vector(({"stanza": "main", "repo": "1"}, 3600), ({"stanza": "main", "repo": "2"}, 27 * 3600))
    files = vector(({"host": "app1", "repository": "local"}, 3600))
    rows = golive_rows({"database_backups": database, "file_backups": files})
    assert statuses(rows) == [("main 1", "pass"), ("main 2", "fail"), ("app1 local", "pass")]
    assert "27.0 h old" in rows[1]["detail"]


def test_a_restore_drill_must_have_passed_recently():
    drills = {"success": vector(({"repo": "1"}, 1), ({"repo": "2"}, 0), ({"repo": "3"}, 1)),
              "age": vector(({"repo": "1"}, DAY), ({"repo": "2"}, DAY), ({"repo": "3"}, 9 * DAY))}
    assert statuses(golive_rows({"database_drills": drills})) == [("1", "pass"), ("2", "fail"), ("3", "fail")]
    assert statuses(golive_rows({"file_drills": {"success": [], "age": []}})) == [("restore drill", "fail")]
    with pytest.raises(AnsibleFilterError, match="file_drills must be a mapping"):
        golive_rows({"file_drills": []})


def alert(name: str, severity: str, instance: str = "", silenced: tuple = (), inhibited: tuple = ()) -> dict:
    return {"labels": {"alertname": name, "severity": severity, **({"instance": instance} if instance else {})},
            "status": {"state": "suppressed" if silenced or inhibited else "active",
                       "silencedBy": list(silenced), "inhibitedBy": list(inhibited)}}


def test_a_critical_alert_fails_and_a_warning_only_warns():
    alerts = [alert("HostDown", "critical", "db2"), alert("HostMemoryLow", "warning", "app1")]
    assert statuses(golive_rows({"alerts": alerts})) == [("HostDown db2", "fail"), ("HostMemoryLow app1", "warn")]
    assert statuses(golive_rows({"alerts": []})) == [("Alertmanager", "pass")]


def test_a_silenced_or_inhibited_critical_alert_is_listed_not_failed():
    alerts = [alert("HttpErrorBudgetBurningFast", "critical", silenced=("5f1c",)),
              alert("RedisDown", "critical", "redis1", inhibited=("a1",))]
    rows = golive_rows({"alerts": alerts})
    assert statuses(rows) == [("HttpErrorBudgetBurningFast", "warn"), ("RedisDown redis1", "warn")]
    assert rows[0]["detail"] == "critical alert firing, silenced (5f1c)"
    with pytest.raises(AnsibleFilterError, match="alerts must be Alertmanager's list"):
        golive_rows({"alerts": {"alerts": []}})


def test_drift_fails_when_missing_stale_incomplete_or_pending():
    fresh = {"success": vector(({}, 1)), "age": vector(({}, 3600)), "changes": vector(({"host": "lb1"}, 0))}
    assert statuses(golive_rows({"drift": fresh})) == [("drift check", "pass")]
    assert statuses(golive_rows({"drift": {"success": [], "age": [], "changes": []}})) == [("drift check", "fail")]
    pending = dict(fresh, changes=vector(({"host": "lb1"}, 3), ({"host": "db1"}, 0)))
    assert statuses(golive_rows({"drift": pending})) == [("lb1", "fail")]
    stale = dict(fresh, age=vector(({}, 30 * 3600)), success=vector(({}, 0)))
    assert [row["status"] for row in golive_rows({"drift": stale})] == ["fail", "fail"]


def test_each_expected_replica_must_stream_within_the_lag_limit():
    replication = {"expected": ["db2", "db3", "db4", "db5"],
                   "rows": [{"application_name": "db2", "state": "streaming", "lag_bytes": "0"},
                            {"application_name": "db3", "state": "catchup", "lag_bytes": 0},
                            {"application_name": "db4", "state": "streaming", "lag_bytes": 10**9}]}
    assert statuses(golive_rows({"replication": replication})) == [
        ("db2", "pass"), ("db3", "fail"), ("db4", "fail"), ("db5", "fail")]
    error = golive_rows({"replication": {"expected": ["db2"], "error": "connection refused"}})
    assert statuses(error) == [("primary", "fail")] and "connection refused" in error[0]["detail"]


def test_critical_alerts_must_reach_a_paging_receiver_and_warnings_any_receiver():
    receivers = [{"name": "notify", "webhook_configs": [{"url": "http://chat"}]},
                 {"name": "page", "pagerduty_configs": [{"routing_key_file": "/k"}]}]
    paging = {"alertmanagers": 1, "routes": {"critical": ["page", "notify"], "warning": ["notify"]},
              "receivers": receivers}
    assert [row["status"] for row in golive_rows({"alerting": paging})] == ["pass", "pass", "pass"]
    unpaged = dict(paging, alertmanagers=0, routes={"critical": ["notify"], "warning": ["notify"]})
    rows = golive_rows({"alerting": unpaged})
    assert [row["status"] for row in rows] == ["fail", "fail", "pass"]
    assert rows[1]["detail"] == "pages nobody: receivers notify have no paging integration"
    silent = dict(paging, receivers=[{"name": "notify"}], routes={"critical": ["notify"], "warning": ["notify"]})
    rows = golive_rows({"alerting": silent})
    assert [row["status"] for row in rows] == ["pass", "fail", "fail"]
    assert rows[2]["detail"] == "reaches nobody: receivers notify have no integration"


def test_a_site_name_must_resolve_and_only_to_the_expected_addresses():
    dns = [{"name": "a.example", "addresses": ["10.0.0.10"], "expected": ["10.0.0.10"]},
           {"name": "b.example", "addresses": ["10.0.0.99"], "expected": ["10.0.0.10"]},
           {"name": "c.example", "addresses": [], "expected": []},
           {"name": "d.example", "addresses": ["203.0.113.5"], "expected": []}]
    assert statuses(golive_rows({"dns": dns})) == [
        ("a.example", "pass"), ("b.example", "fail"), ("c.example", "fail"), ("d.example", "pass")]


def test_a_malformed_prometheus_answer_is_refused():
    with pytest.raises(AnsibleFilterError, match="targets: not a Prometheus sample"):
        golive_rows({"targets": [{"metric": {}}]})
    with pytest.raises(AnsibleFilterError, match="must be a Prometheus instant vector"):
        golive_rows({"probes": "up"})


def test_the_table_lists_every_row_and_counts_each_status():
    rows = golive_rows({"alerts": [alert("X", "warning")],
                        "targets": vector(({"job": "node", "instance": "db1"}, 0))})
    table = checks_table(rows).splitlines()
    assert table[0].split() == ["STATUS", "CHECK", "SUBJECT", "DETAIL"]
    assert table[1].split()[:2] == ["FAIL", "monitoring"] and table[2].split()[:3] == ["WARN", "firing", "alerts"]
    assert table[-1] == "0 passed, 1 warnings, 1 failed"


def test_dns_addresses_may_be_getent_lines():
    dns = [{"name": "a.example", "addresses": ["10.0.0.10      STREAM a.example", "10.0.0.10      DGRAM"],
            "expected": ["10.0.0.10"]}]
    rows = golive_rows({"dns": dns})
    assert statuses(rows) == [("a.example", "pass")] and rows[0]["detail"] == "resolves to 10.0.0.10"


def test_what_could_not_be_asked_fails_and_limits_must_be_numbers():
    assert statuses(golive_rows({"unanswered": ["the primary (unreachable)"]})) == [
        ("the primary (unreachable)", "fail")]
    with pytest.raises(AnsibleFilterError, match="limit certificate_min_days must be a number"):
        golive_rows({}, {"certificate_min_days": "two weeks"})


SEEN = {
    "vectors": {"targets": vector(({"job": "node"}, 1)), "probes": vector(({"instance": "lb1"}, 1)),
                "certificates": vector(({"instance": "lb1"}, 90 * DAY)),
                "drift_changes": vector(({}, 0)), "drift_success": vector(({}, 1)), "drift_age": vector(({}, 60)),
                "database_drill_age": vector(({"repo": "1"}, DAY)),
                "database_drill_success": vector(({"repo": "1"}, 1)),
                "database_backups": vector(({"stanza": "main", "repo": "1"}, 3600))},
    "unanswered": [], "alerts": [],
    "alerting": {"alertmanagers": 1, "routes": {"critical": ["page"], "warning": ["page"]},
                 "receivers": [{"name": "page", "pagerduty_configs": [{"routing_key_file": "/k"}]}]},
    "dns": [{"name": "www.example.test", "addresses": ["10.0.0.10"]}],
}
TOPOLOGY = {"replication": {"query_result": [{"application_name": "db2", "state": "streaming", "lag_bytes": 0}]},
            "replica_slots": ["db2"], "load_balancers": True, "dns_addresses": ["10.0.0.10"]}


def test_evidence_is_gathered_for_what_the_inventory_has_and_what_was_seen():
    evidence = golive_evidence(SEEN, TOPOLOGY)
    assert set(evidence) == {"unanswered", "targets", "alerts", "probes", "certificates", "drift", "database_backups",
                             "database_drills", "replication", "alerting", "dns"}
    assert evidence["unanswered"] == []
    assert evidence["replication"] == {"expected": ["db2"], "rows": TOPOLOGY["replication"]["query_result"]}
    assert evidence["dns"] == [{"name": "www.example.test", "addresses": ["10.0.0.10"], "expected": ["10.0.0.10"]}]
    assert evidence["drift"]["changes"] == SEEN["vectors"]["drift_changes"]
    # Every row passes on healthy evidence: the filters agree on the shape.
    assert {row["status"] for row in golive_rows(evidence)} == {"pass"}
    # No load balancer: no probe or certificate rows; no drift metric published, no drill run: none of theirs.
    vectors = {k: v for k, v in SEEN["vectors"].items() if not k.startswith(("drift", "database"))}
    bare = golive_evidence({**SEEN, "vectors": vectors}, {**TOPOLOGY, "load_balancers": False})
    assert not {"probes", "certificates", "drift", "database_backups", "database_drills"} & set(bare)


def test_what_could_not_be_seen_is_named_in_unanswered():
    # The monitoring host's play did not run, and the primary could not be asked.
    evidence = golive_evidence({}, {**TOPOLOGY, "replication": {"msg": "connection refused"}})
    assert evidence["unanswered"] == ["the monitoring host (unreachable, or no monitoring group)",
                                      "the primary: connection refused"]
    assert "replication" not in evidence and "alerts" not in evidence and "alerting" not in evidence
    # Alertmanager unanswered: no alert or routing evidence (the unanswered row fails instead).
    evidence = golive_evidence({**SEEN, "unanswered": ["Alertmanager alerts"]}, TOPOLOGY)
    assert "alerts" not in evidence and "alerting" not in evidence
    # A companion query unanswered: an empty vector, so its row fails rather than the filter.
    vectors = {k: v for k, v in SEEN["vectors"].items() if k != "drift_age"}
    evidence = golive_evidence({**SEEN, "vectors": vectors, "unanswered": ["Prometheus query drift_age"]}, TOPOLOGY)
    assert [row["status"] for row in golive_rows(evidence) if row["check"] == "drift"] == ["fail"]
    with pytest.raises(AnsibleFilterError, match="seen and topology must be mappings"):
        golive_evidence([], TOPOLOGY)
