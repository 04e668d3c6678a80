"""Unit tests for filter_plugins/monitoring.py."""

from __future__ import annotations

import re

import pytest
from ansible.errors import AnsibleFilterError
from monitoring import (
    alertmanager_problems,
    auth_exporter_problems,
    blackbox_exporter_problems,
    nginx_exporter_problems,
    node_exporter_problems,
    pgbouncer_exporter_problems,
    postgres_exporter_problems,
    prometheus_problems,
    prometheus_scrape_configs,
    prometheus_scrape_problems,
    scrape_jobs_from_groups,
    site_probe_modules,
    site_probes,
    tls_probes,
)

GROUPS = {"all": ["db1", "app1", "mon1"], "db_primary": ["db1"], "redis": []}
HOSTVARS = {"db1": {"private_ip": "10.0.0.13"}, "app1": {"private_ip": "10.0.0.11"},
            "mon1": {"private_ip": "10.0.0.16"}}


def test_each_exporter_becomes_a_job_over_its_groups_hosts_named_by_inventory_name():
    jobs = scrape_jobs_from_groups({"node": {"group": "all", "port": 9100},
                                    "postgres": {"group": "db_primary", "port": 9187}}, GROUPS, HOSTVARS)
    assert jobs == [
        {"name": "node", "targets": [{"address": "10.0.0.11:9100", "instance": "app1"},
                                     {"address": "10.0.0.13:9100", "instance": "db1"},
                                     {"address": "10.0.0.16:9100", "instance": "mon1"}]},
        {"name": "postgres", "targets": [{"address": "10.0.0.13:9187", "instance": "db1"}]},
    ]


def test_an_exporter_on_an_empty_group_has_no_job_and_options_pass_through():
    jobs = scrape_jobs_from_groups({"redis": {"group": "redis", "port": 9121},
                                    "probe": {"group": "db_primary", "port": 9115, "metrics_path": "/probe"}},
                                   GROUPS, HOSTVARS)
    assert [j["name"] for j in jobs] == ["probe"]
    assert jobs[0]["metrics_path"] == "/probe"


def test_an_exporter_may_run_on_several_groups_each_host_once():
    groups = {**GROUPS, "db_replica": ["db2"], "pgbouncer": ["db1"]}
    hostvars = {**HOSTVARS, "db2": {"private_ip": "10.0.0.14"}}
    jobs = scrape_jobs_from_groups({"postgres": {"group": ["db_primary", "db_replica", "pgbouncer"], "port": 9187}},
                                   groups, hostvars)
    assert jobs[0]["targets"] == [{"address": "10.0.0.13:9187", "instance": "db1"},
                                  {"address": "10.0.0.14:9187", "instance": "db2"}]


def test_a_multi_target_exporter_gets_a_labelled_target_per_probe():
    groups = {**GROUPS, "redis": ["redis1"]}
    hostvars = {**HOSTVARS, "redis1": {"private_ip": "10.0.0.15"}}
    probes = {"cache": "rediss://127.0.0.1:6379", "queue": "rediss://127.0.0.1:6380"}
    jobs = scrape_jobs_from_groups({"redis": {"group": "redis", "port": 9121, "metrics_path": "/scrape",
                                              "probes": probes, "probe_label": "redis_instance"}}, groups, hostvars)
    assert jobs == [{"name": "redis", "metrics_path": "/scrape", "targets": [
        {"address": "10.0.0.15:9121", "instance": "redis1",
         "labels": {"redis_instance": "cache", "__param_target": "rediss://127.0.0.1:6379"}},
        {"address": "10.0.0.15:9121", "instance": "redis1",
         "labels": {"redis_instance": "queue", "__param_target": "rediss://127.0.0.1:6380"}}]}]
    assert prometheus_scrape_configs(jobs)[0]["static_configs"][1] == {
        "targets": ["10.0.0.15:9121"],
        "labels": {"instance": "redis1", "redis_instance": "queue", "__param_target": "rediss://127.0.0.1:6380"}}
    assert prometheus_scrape_problems(jobs) == []


def test_a_probe_may_name_its_module():
    probes = {"lb1 portfolio": {"target": "https://lb1.internal/up", "module": "site_portfolio"},
              "redis1 queue": "redis1.internal:6380"}
    jobs = scrape_jobs_from_groups({"probe": {"group": "all", "port": 9115, "metrics_path": "/probe",
                                              "params": {"module": ["tls_connect"]},
                                              "probes": probes, "probe_label": "probe"}},
                                   {"all": ["mon1"]}, HOSTVARS)
    assert [t["labels"] for t in jobs[0]["targets"]] == [
        {"probe": "lb1 portfolio", "__param_target": "https://lb1.internal/up", "__param_module": "site_portfolio"},
        {"probe": "redis1 queue", "__param_target": "redis1.internal:6380"}]
    assert jobs[0]["params"] == {"module": ["tls_connect"]}
    assert prometheus_scrape_problems(jobs) == []


def test_ipv6_addresses_are_bracketed():
    jobs = scrape_jobs_from_groups({"node": {"group": "x", "port": 9100}}, {"x": ["h"]},
                                   {"h": {"private_ip": "fd00::1"}})
    assert jobs[0]["targets"][0]["address"] == "[fd00::1]:9100"


@pytest.mark.parametrize(
    ("exporters", "hostvars", "named"),
    [
        ({"node": {"group": "all"}}, HOSTVARS, "needs a group and a port"),
        ({"redis": {"group": "all", "port": 9121, "probes": {"cache": "redis://a"}}}, HOSTVARS, "probe_label naming"),
        ({"redis": {"group": "all", "port": 9121, "probes": ["redis://a"], "probe_label": "x"}}, HOSTVARS,
         "probes must map"),
        ({"p": {"group": "all", "port": 9115, "probes": {"x": {"module": "m"}}, "probe_label": "probe"}}, HOSTVARS,
         "probe 'x' must be a target or"),
        ({"p": {"group": "all", "port": 9115, "probes": {"x": {"target": "t", "timeout": 3}}, "probe_label": "p"}},
         HOSTVARS, "probe 'x' must be a target or"),
        ({"node": {"group": "all", "port": 9100}}, {**HOSTVARS, "app1": {}}, "'app1' has no private_ip"),
        (["node"], HOSTVARS, "exporters must be a mapping"),
    ],
)
def test_unusable_input_raises_naming_the_problem(exporters, hostvars, named):
    with pytest.raises(AnsibleFilterError, match=named):
        scrape_jobs_from_groups(exporters, GROUPS, hostvars)


def test_scrape_configs_carry_the_instance_label_per_target():
    configs = prometheus_scrape_configs([{"name": "node", "scheme": "https",
                                          "targets": [{"address": "10.0.0.11:9100", "instance": "app1"}]}])
    assert configs == [{"job_name": "node", "scheme": "https", "static_configs": [
        {"targets": ["10.0.0.11:9100"], "labels": {"instance": "app1"}}]}]


def test_an_exporter_over_tls_gets_its_scheme_and_ca_through_to_the_scrape_config():
    tls = {"ca_file": "/usr/local/share/ca-certificates/paas-internal-ca.crt"}
    jobs = scrape_jobs_from_groups({"node": {"group": "all", "port": 9100, "scheme": "https", "tls_config": tls}},
                                   {"all": ["app1"]}, {"app1": {"private_ip": "10.0.0.11"}})
    assert prometheus_scrape_configs(jobs) == [{"job_name": "node", "scheme": "https", "tls_config": tls,
                                                "static_configs": [{"targets": ["10.0.0.11:9100"],
                                                                    "labels": {"instance": "app1"}}]}]


def test_an_exporter_marked_tls_is_scraped_as_tls_scrape_says_and_one_not_marked_over_http():
    tls_scrape = {"scheme": "https", "tls_config": {"ca_file": "/etc/ca.crt"}}
    jobs = scrape_jobs_from_groups({"node": {"group": "all", "port": 9100, "tls": True},
                                    "auth": {"group": "all", "port": 3904, "tls": False}},
                                   {"all": ["app1"]}, {"app1": {"private_ip": "10.0.0.11"}}, tls_scrape=tls_scrape)
    assert [(job["name"], job.get("scheme"), job.get("tls_config")) for job in jobs] == [
        ("node", "https", {"ca_file": "/etc/ca.crt"}), ("auth", None, None)]


@pytest.mark.parametrize(("exporter", "tls_scrape", "message"), [
    ({"group": "all", "port": 9100, "tls": "yes"}, {"scheme": "https"}, "tls must be true or false, got 'yes'"),
    ({"group": "all", "port": 9100, "tls": True}, None, "is served over TLS: give tls_scrape"),
])
def test_a_tls_flag_that_is_not_a_boolean_or_lacks_its_settings_is_refused(exporter, tls_scrape, message):
    with pytest.raises(AnsibleFilterError, match=re.escape(message)):
        scrape_jobs_from_groups({"node": exporter}, {"all": ["app1"]}, {"app1": {"private_ip": "10.0.0.11"}},
                                tls_scrape=tls_scrape)


GOOD_JOB = {"name": "node", "targets": [{"address": "10.0.0.11:9100", "instance": "app1"}]}


def test_good_jobs_have_no_problems():
    assert prometheus_scrape_problems([GOOD_JOB, {**GOOD_JOB, "name": "node-2"}]) == []
    by_name = {**GOOD_JOB, "targets": [{"address": "db1.internal:9187", "instance": "db1"}]}
    assert prometheus_scrape_problems([by_name]) == []
    target = {"address": "10.0.0.1:9121", "instance": "r", "labels": {"redis_instance": "a"}}
    labelled = {**GOOD_JOB, "targets": [target]}
    assert prometheus_scrape_problems([labelled]) == []


@pytest.mark.parametrize(
    ("jobs", "named"),
    [
        ({"node": {}}, "must be a list"),
        ([GOOD_JOB, GOOD_JOB], "job name used twice"),
        ([{**GOOD_JOB, "name": "prometheus"}], "job name used twice"),
        ([{**GOOD_JOB, "name": "bad name"}], "name must be letters"),
        ([{**GOOD_JOB, "targets": [{"address": "10.0.0.1:9121", "instance": "r", "labels": {"job": "x"}}]}],
         "labels must map label names"),
        ([{**GOOD_JOB, "targets": []}], "targets must be a non-empty list"),
        ([{**GOOD_JOB, "targets": [{"address": "10.0.0.11", "instance": "app1"}]}], "needs a port"),
        ([{**GOOD_JOB, "targets": [{"address": "10.0.0.11:9100"}]}], "needs an address (host:port) and an instance"),
        ([{**GOOD_JOB, "targets": [{"address": "a b:9100", "instance": "x"}]}], "neither an address nor a host name"),
        ([{**GOOD_JOB, "scheme": "ftp"}], "scheme must be http or https"),
        ([{**GOOD_JOB, "tls_config": "/etc/ca.crt"}], "tls_config must be a mapping"),
    ],
)
def test_broken_jobs_are_named(jobs, named):
    assert any(named in problem for problem in prometheus_scrape_problems(jobs)), prometheus_scrape_problems(jobs)


def test_each_site_is_probed_at_each_load_balancer_with_its_module():
    hostvars = {"lb1": {"private_ip": "10.0.0.10", "nginx_sites": [{"name": "portfolio"}, {"name": "admin"}]},
                "lb2": {"private_ip": "fd00::10", "nginx_sites": [{"name": "portfolio"}]}}
    assert site_probes(["lb1", "lb2"], hostvars) == {
        "lb1 portfolio": {"target": "https://10.0.0.10/up", "module": "site_portfolio"},
        "lb1 admin": {"target": "https://10.0.0.10/up", "module": "site_admin"},
        "lb2 portfolio": {"target": "https://[fd00::10]/up", "module": "site_portfolio"}}
    with pytest.raises(AnsibleFilterError, match="'lb3' has no private_ip"):
        site_probes(["lb3"], {"lb3": {}})


def test_each_tls_service_is_probed_by_host_name():
    assert tls_probes(["redis1"], {"queue": "rediss://127.0.0.1:6380", "s3": 8333}) == {
        "redis1 queue": {"target": "redis1:6380", "module": "tls_connect"},
        "redis1 s3": {"target": "redis1:8333", "module": "tls_connect"}}
    with pytest.raises(AnsibleFilterError, match="service 'x': 'rediss://host' ends in no port"):
        tls_probes(["redis1"], {"x": "rediss://host"})


def test_the_probe_module_of_a_site_uses_its_canonical_name():
    sites = [{"name": "portfolio", "server_names": ["portfolio.example.com", "www.portfolio.example.com"],
              "hsts": True}]
    assert site_probe_modules(sites) == [{"name": "portfolio", "server_name": "portfolio.example.com"}]
    with pytest.raises(AnsibleFilterError, match="needs a name and server_names"):
        site_probe_modules([{"name": "x"}])


PROMETHEUS_OK = {"scrape_jobs": [{"name": "node", "targets": [{"address": "10.0.0.11:9100", "instance": "app1"}]}],
                 "retention_time": "30d", "retention_size": "8GB", "rule_files": ["hosts", "postgresql"],
                 "shipped_rule_files": ["hosts", "postgresql", "redis"]}
ALERTMANAGER_OK = {"webhook_urls": ["http://127.0.0.1:9095/"], "pagerduty_url": "https://events.pagerduty.com/v2/enqueue",
                   "opsgenie_api_url": "https://api.opsgenie.com/", "group_wait": "30s", "group_interval": "5m",
                   "repeat_interval": "4h", "group_by": ["alertname", "instance"]}
NGINX_EXPORTER_OK = {"port": 9113, "log_port": 3903, "duration_buckets": [0.05, 0.1, 0.5, 1], "tls": True,
                     "listen_address": "10.0.0.20"}
BLACKBOX_OK = {"sites": [{"name": "portfolio", "server_name": "paas.example.org"}]}
ROLE_FILTERS = {"prometheus": (prometheus_problems, PROMETHEUS_OK),
                "alertmanager": (alertmanager_problems, ALERTMANAGER_OK),
                "nginx_exporter": (nginx_exporter_problems, NGINX_EXPORTER_OK),
                "blackbox_exporter": (blackbox_exporter_problems, BLACKBOX_OK),
                "node_exporter": (node_exporter_problems, {"collectors_enabled": ["systemd"],
                                                           "collectors_disabled": ["mdadm"]}),
                "postgres_exporter": (postgres_exporter_problems, {"socket_dir": "/run/postgresql"}),
                "pgbouncer_exporter": (pgbouncer_exporter_problems, {"password_set": True}),
                "auth_exporter": (auth_exporter_problems, {"remote_logs": "/var/log/remote/*/sshd.log"})}


@pytest.mark.parametrize("role", sorted(ROLE_FILTERS))
def test_the_roles_usual_settings_break_no_rule(role):
    problems, settings = ROLE_FILTERS[role]
    assert problems(settings) == []


@pytest.mark.parametrize(("role", "changes", "message"), [
    ("prometheus", {"scrape_jobs": []}, None),
    ("prometheus", {"scrape_jobs": [{"name": "node", "targets": []}]},
     "prometheus_scrape_jobs[node]: targets must be a non-empty list"),
    ("prometheus", {"retention_time": "30 days"}, "prometheus_retention_time is not a duration (e.g. 30d): 30 days"),
    ("prometheus", {"retention_size": "8G"}, "prometheus_retention_size is not a size (e.g. 8GB): 8G"),
    ("prometheus", {"rule_files": ["hosts", "mysql"]}, "prometheus_rule_files: no such file in the role: mysql"),
    ("alertmanager", {"webhook_urls": ["127.0.0.1:9095"]}, "not http(s) URLs: 127.0.0.1:9095"),
    ("alertmanager", {"repeat_interval": "4 hours"},
     "alertmanager_group_wait, _group_interval, _repeat_interval: not durations: 4 hours"),
    ("alertmanager", {"group_by": []}, "alertmanager_group_by is empty: every alert would be one notification"),
    ("nginx_exporter", {"log_port": 9113}, "nginx_exporter_port and nginx_exporter_log_port must differ"),
    ("nginx_exporter", {"listen_address": "127.0.0.1"},
     "nginx_exporter_tls needs nginx_exporter_listen_address off the loopback (nginx serves TLS there, the "
     "exporters listen on 127.0.0.1 behind it)"),
    ("nginx_exporter", {"duration_buckets": [1, 0.5]},
     "nginx_exporter_duration_buckets must be positive numbers in increasing order"),
    ("nginx_exporter", {"duration_buckets": [0.1, 0.1]},
     "nginx_exporter_duration_buckets must be positive numbers in increasing order"),
    ("nginx_exporter", {"duration_buckets": [0, 1]},
     "nginx_exporter_duration_buckets must be positive numbers in increasing order"),
    ("nginx_exporter", {"duration_buckets": ["fast"]},
     "nginx_exporter_duration_buckets must be positive numbers in increasing order"),
    ("nginx_exporter", {"duration_buckets": []},
     "nginx_exporter_duration_buckets must be positive numbers in increasing order"),
    ("blackbox_exporter", {"sites": [{"server_name": "x.test"}]},
     "blackbox_exporter_sites: {'server_name': 'x.test'} has no name"),
    ("blackbox_exporter", {"sites": [{"name": "Bad Name", "server_name": "x.test"}]},
     "blackbox_exporter_sites: name Bad Name must be a-z, 0-9, _ or - (it names a module)"),
    ("blackbox_exporter", {"sites": [{"name": "portfolio"}]}, "blackbox_exporter_sites[portfolio] has no server_name"),
    ("node_exporter", {"collectors_disabled": ["systemd", "mdadm"]},
     "node_exporter_collectors_enabled and _disabled both name: systemd"),
    ("postgres_exporter", {"socket_dir": "run/postgresql"},
     "postgres_exporter_socket_dir must be an absolute path, not run/postgresql"),
    ("pgbouncer_exporter", {"password_set": False},
     "pgbouncer_exporter_password is empty (set it from the vault: the stats user's in pgbouncer_stats_users)"),
    ("auth_exporter", {"remote_logs": "/var/log/remote/sshd.log"},
     "auth_exporter_remote_logs must name the sender directory with * (as /var/log/remote/*/sshd.log)"),
])
def test_each_monitoring_role_rule_is_broken_alone_with_its_message(role, changes, message):
    problems, settings = ROLE_FILTERS[role]
    assert problems({**settings, **changes}) == ([message] if message else [])


@pytest.mark.parametrize("role", sorted(ROLE_FILTERS))
def test_monitoring_role_settings_of_the_wrong_shape_are_an_error_naming_the_filter(role):
    problems, settings = ROLE_FILTERS[role]
    with pytest.raises(AnsibleFilterError, match=f"{role}_problems: expected the role's settings as a dictionary"):
        problems([settings])
    first = next(iter(settings))
    with pytest.raises(AnsibleFilterError, match=f"{role}_problems: settings lack {first}"):
        problems({key: value for key, value in settings.items() if key != first})
