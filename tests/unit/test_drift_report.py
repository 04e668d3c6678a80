"""scripts/drift-report.py: the result of a drift check as Prometheus metrics."""

from __future__ import annotations

from paas_testlib import load_script, prometheus_samples

DRIFT = load_script("scripts/drift-report.py")


def test_each_checked_host_gets_its_count_of_changes():
    stats = {"lb1": {"ok": 40}, "db1": {"ok": 50}, "mon1": {"ok": 30}}
    found = [("lb1", "Remove sshd drop-ins the role does not know", []),
             ("lb1", "Compare the running firewall with the rules file", ["+ x"]),
             ("db1", "Configure journald", [])]
    samples = prometheus_samples(DRIFT.metrics_text(stats, found, True, 1_700_000_000.4))
    assert samples == {
        "paas_drift_check_timestamp_seconds": 1_700_000_000,
        "paas_drift_check_success": 1,
        'paas_drift_changes{host="db1"}': 1,
        'paas_drift_changes{host="lb1"}': 2,
        'paas_drift_changes{host="mon1"}': 0,
    }


def test_a_failed_check_says_so_and_claims_no_host_clean():
    samples = prometheus_samples(DRIFT.metrics_text({}, [], False, 1_700_000_000))
    assert samples["paas_drift_check_success"] == 0
    assert not any(key.startswith("paas_drift_changes") for key in samples)
