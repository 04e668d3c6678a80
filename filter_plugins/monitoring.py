"""Filters for the monitoring roles (prometheus, node_exporter) and playbooks/monitoring.yml.

Pure functions: no I/O. Unit tests: tests/unit/test_monitoring.py.

    {{ exporters | scrape_jobs_from_groups(groups, hostvars, tls_scrape=...) }}
        -> [{'name', 'targets': [{'address': 'ip:port', 'instance': host, 'labels'?}]}], one job per exporter
    {{ prometheus_scrape_jobs | prometheus_scrape_configs }}  -> Prometheus `scrape_configs` entries
    {{ prometheus_scrape_jobs | prometheus_scrape_problems }} -> [message naming the variable]
    {{ groups['lb'] | site_probes(hostvars) }}
        -> {"lb1 portfolio": {target: https://ADDRESS/up, module: site_portfolio}}, per site and host
    {{ nginx_sites | site_probe_modules }}       -> [{name, server_name}] for roles/blackbox_exporter
    {{ groups['redis'] | tls_probes({'queue': 'rediss://127.0.0.1:6380'}) }}
        -> {"redis1 queue": {target: redis1:6380, module: tls_connect}}
    {{ settings | prometheus_problems }}, alertmanager_problems, nginx_exporter_problems,
    blackbox_exporter_problems, node_exporter_problems, postgres_exporter_problems,
    pgbouncer_exporter_problems, auth_exporter_problems
        -> each role's preflight: [message naming the variable]

The roles' settings dictionaries hold their variables without the role's prefix;
an exporter's listen address is checked by network.py's listen_address_problems
beside these.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: scrape_jobs_from_groups
short_description: Prometheus scrape jobs from inventory groups
description:
  - exporters maps a job name to the inventory group (or list of groups) whose hosts run that exporter
    and its port (C({node: {group: all, port: 9100}}),
    C({postgres: {group: [db_primary, db_replica], port: 9187}})). Each host is scraped at its private address and named
    by its inventory name (the C(instance) label), so graphs and alerts say C(db1), not an address.
  - A multi-target exporter (one process per host reading several service instances, scraped at
    C(metrics_path) with a C(target) parameter) gives C(probes) (label value to target) and C(probe_label)
    (C({redis: {group: redis, port: 9121, metrics_path: /scrape, probes: {cache: "rediss://127.0.0.1:6379"},
    probe_label: redis_instance}})): one target per host and probe, labelled with the probe's name and
    carrying its C(__param_target). A probe may also be C({target: ..., module: ...}) (the blackbox
    exporter's module, C(__param_module)).
  - An exporter served over TLS says C(tls: true) (a boolean; playbooks/vars/monitoring.yml sets it from the
    inventory's C(<exporter>_tls)); its job then gets C(tls_scrape)'s options (C(scheme), C(tls_config)).
    Options in C(JOB_OPTIONS) given on the exporter itself pass through as they are.
positional: groups, hostvars, address_var
options:
  tls_scrape:
    description: What a TLS exporter's job gets, e.g. C({scheme: https, tls_config: {ca_file: ...}}).
    type: dict
---
name: prometheus_scrape_configs
short_description: Prometheus scrape_configs entries from the prometheus role's scrape jobs
---
name: prometheus_scrape_problems
short_description: What is wrong with prometheus_scrape_jobs, one message per problem
"""

_JOB_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_-]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


# What an exporter's entry may set on its job, passed to Prometheus' scrape_configs as given.
JOB_OPTIONS = ("scheme", "metrics_path", "params", "tls_config")


def scrape_jobs_from_groups(exporters: Mapping, groups: Mapping, hostvars: Mapping,
                            address_var: str = "private_ip", tls_scrape: Mapping | None = None) -> list[dict]:
    """One job per exporter, its targets the hosts of the exporter's group (sorted by name). An
    exporter whose `tls` is true is scraped as tls_scrape says (its scheme and tls_config)."""
    if not isinstance(exporters, Mapping):
        raise AnsibleFilterError(f"scrape_jobs_from_groups: exporters must be a mapping, got {exporters!r}")
    jobs = []
    for name, exporter in exporters.items():
        scrapes = _exporter_scrapes(name, exporter)
        exporter = _with_tls_scrape(name, exporter, tls_scrape)
        names = [exporter["group"]] if isinstance(exporter["group"], str) else list(exporter["group"])
        targets = []
        for host in sorted({host for name in names for host in groups.get(name, [])}):
            address = (hostvars.get(host) or {}).get(address_var)
            if not address:
                raise AnsibleFilterError(f"scrape_jobs_from_groups: host {host!r} has no {address_var}")
            for labels, port in scrapes:
                target = {"address": f"{_host_part(str(address))}:{port}", "instance": host}
                targets.append({**target, "labels": labels} if labels else target)
        if targets:
            job = {"name": name, "targets": targets}
            job.update({k: exporter[k] for k in JOB_OPTIONS if k in exporter})
            jobs.append(job)
    return jobs


def _with_tls_scrape(name, exporter: Mapping, tls_scrape: Mapping | None) -> Mapping:
    """The exporter's entry, with tls_scrape's options added when its `tls` is true."""
    tls = exporter.get("tls", False)
    if not isinstance(tls, bool):
        raise AnsibleFilterError(f"scrape_jobs_from_groups: exporter {name!r}: tls must be true or false, got {tls!r}")
    if not tls:
        return exporter
    if not isinstance(tls_scrape, Mapping) or not tls_scrape:
        raise AnsibleFilterError(f"scrape_jobs_from_groups: exporter {name!r} is served over TLS: give tls_scrape "
                                 "(its scheme and tls_config)")
    return {**exporter, **tls_scrape}


def _exporter_scrapes(name, exporter) -> list[tuple[dict, int]]:
    """(extra labels, port) for each scrape of an exporter on a host: one, or one per probe of a
    multi-target exporter (labelled `probe_label`, with its `__param_target`)."""
    if not isinstance(exporter, Mapping) or "group" not in exporter or "port" not in exporter:
        raise AnsibleFilterError(f"scrape_jobs_from_groups: exporter {name!r} needs a group and a port")
    port = int(exporter["port"])
    if "probes" not in exporter:
        return [({}, port)]
    probes, label = exporter["probes"], exporter.get("probe_label")
    if not isinstance(probes, Mapping) or not probes or not isinstance(label, str) or not label:
        raise AnsibleFilterError(f"scrape_jobs_from_groups: exporter {name!r}: probes must map names to targets, "
                                 "with probe_label naming the label")
    return [({label: str(probe), **_probe_params(name, probe, target)}, port) for probe, target in probes.items()]


def _probe_params(name, probe, target) -> dict:
    """The URL parameters of one probe: its target, and its module when it names one."""
    if not isinstance(target, Mapping):
        return {"__param_target": str(target)}
    if not target.get("target") or set(target) - {"target", "module"}:
        raise AnsibleFilterError(f"scrape_jobs_from_groups: exporter {name!r}: probe {probe!r} must be a target "
                                 "or {target, module}")
    return {f"__param_{key}": str(value) for key, value in target.items()}


def site_probes(hosts, hostvars: Mapping, path: str = "/up", address_var: str = "private_ip") -> dict:
    """The blackbox exporter's probes of each nginx site (the host's nginx_sites) at each load balancer's
    own address, with the site's module (roles/blackbox_exporter: its name as TLS server name and Host)."""
    probes = {}
    for host in hosts:
        variables = hostvars.get(host) or {}
        address = variables.get(address_var)
        if not address:
            raise AnsibleFilterError(f"site_probes: host {host!r} has no {address_var}")
        for site in variables.get("nginx_sites") or []:
            probes[f"{host} {site['name']}"] = {"target": f"https://{_host_part(str(address))}{path}",
                                                "module": f"site_{site['name']}"}
    return probes


def site_probe_modules(sites) -> list[dict]:
    """roles/blackbox_exporter's blackbox_exporter_sites from nginx sites: each by its canonical
    (first) name."""
    modules = []
    for site in sites or []:
        if not site.get("name") or not site.get("server_names"):
            raise AnsibleFilterError(f"site_probe_modules: site {site!r} needs a name and server_names")
        modules.append({"name": site["name"], "server_name": site["server_names"][0]})
    return modules


def tls_probes(hosts, services: Mapping) -> dict:
    """A TLS handshake probe (module tls_connect) of each service on each host, by the host's name
    (its certificate's): services maps a name to its port, or to a URI ending in the port."""
    probes = {}
    for host in hosts:
        for name, where in services.items():
            port = str(where).rpartition(":")[2]
            if not port.isdigit():
                raise AnsibleFilterError(f"tls_probes: service {name!r}: {where!r} ends in no port")
            probes[f"{host} {name}"] = {"target": f"{host}:{port}", "module": "tls_connect"}
    return probes


def _host_part(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def prometheus_scrape_configs(jobs: list) -> list[dict]:
    """The scrape_configs entries: one static_config per target, carrying its instance label."""
    configs = []
    for job in jobs:
        entry = {"job_name": job["name"]}
        entry.update({k: job[k] for k in JOB_OPTIONS if k in job})
        entry["static_configs"] = [{"targets": [t["address"]], "labels": {"instance": t["instance"],
                                                                           **t.get("labels", {})}}
                                   for t in job["targets"]]
        configs.append(entry)
    return configs


def prometheus_scrape_problems(jobs) -> list[str]:
    """Every broken rule of prometheus_scrape_jobs, as messages naming the job and target."""
    if not isinstance(jobs, list):
        return [f"prometheus_scrape_jobs must be a list, not {type(jobs).__name__}"]
    problems, seen = [], set()
    for index, job in enumerate(jobs):
        if not isinstance(job, Mapping):
            problems.append(f"prometheus_scrape_jobs[{index}] must be a mapping")
            continue
        name = job.get("name", "")
        where = f"prometheus_scrape_jobs[{name or index}]"
        if not isinstance(name, str) or not _JOB_NAME.match(name):
            problems.append(f"{where}: name must be letters, digits, _ or - (not {name!r})")
        elif name == "prometheus" or name in seen:
            problems.append(f"{where}: job name used twice (the server scrapes itself as 'prometheus')")
        seen.add(name)
        targets = job.get("targets")
        if not isinstance(targets, list) or not targets:
            problems.append(f"{where}: targets must be a non-empty list")
            continue
        for target in targets:
            problem = _target_problem(target)
            if problem:
                problems.append(f"{where}: {problem}")
        if job.get("scheme", "http") not in ("http", "https"):
            problems.append(f"{where}: scheme must be http or https")
        if not isinstance(job.get("tls_config", {}), Mapping):
            problems.append(f"{where}: tls_config must be a mapping (ca_file, server_name, ...)")
    return problems


def _target_problem(target) -> str:
    if not isinstance(target, Mapping) or not target.get("instance") or not target.get("address"):
        return f"target {target!r} needs an address (host:port) and an instance name"
    labels = target.get("labels", {})
    if not isinstance(labels, Mapping) or any(not _LABEL_NAME.match(str(k)) or k in ("instance", "job")
                                              or (str(k).startswith("__") and not str(k).startswith("__param_"))
                                              for k in labels):
        return (f"target {target['address']!r}: labels must map label names (not instance, job or __*, "
                "but __param_*) to values")
    host, _, port = str(target["address"]).rpartition(":")
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        return f"target {target['address']!r} needs a port (host:port)"
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if not re.match(r"^[a-zA-Z0-9.-]+$", host):
            return f"target {target['address']!r}: {host!r} is neither an address nor a host name"
    return ""


DURATION = re.compile(r"^[0-9]+(ms|s|m|h|d|w|y)$")
ALERTMANAGER_DURATION = re.compile(r"^[0-9]+(ms|s|m|h|d|w)$")
RETENTION_SIZE = re.compile(r"^[0-9]+(B|KB|MB|GB|TB|PB|EB)$")
HTTP_URL = re.compile(r"^https?://[^/ ]+")
MODULE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
SETTINGS = {
    "prometheus_problems": ("scrape_jobs", "retention_time", "retention_size", "rule_files", "shipped_rule_files"),
    "alertmanager_problems": ("webhook_urls", "pagerduty_url", "opsgenie_api_url", "group_wait", "group_interval",
                              "repeat_interval", "group_by"),
    "nginx_exporter_problems": ("port", "log_port", "duration_buckets", "tls", "listen_address"),
    "blackbox_exporter_problems": ("sites",),
    "node_exporter_problems": ("collectors_enabled", "collectors_disabled"),
    "postgres_exporter_problems": ("socket_dir",),
    "pgbouncer_exporter_problems": ("password_set",),
    "auth_exporter_problems": ("remote_logs",),
}


def _run(name: str, settings, rules) -> list:
    """The messages of every broken rule, in the rules' order, after checking the settings are a
    dictionary holding the keys the filter reads (SETTINGS)."""
    if not isinstance(settings, Mapping):
        raise AnsibleFilterError(f"{name}: expected the role's settings as a dictionary, got {settings!r}")
    missing = [key for key in SETTINGS[name] if key not in settings]
    if missing:
        raise AnsibleFilterError(f"{name}: settings lack {', '.join(missing)}")
    return [problem for rule in rules for problem in rule(settings)]


def _rule_prometheus_retention(settings: Mapping) -> list:
    problems = []
    if not DURATION.match(str(settings["retention_time"])):
        problems.append(f"prometheus_retention_time is not a duration (e.g. 30d): {settings['retention_time']}")
    if not RETENTION_SIZE.match(str(settings["retention_size"])):
        problems.append(f"prometheus_retention_size is not a size (e.g. 8GB): {settings['retention_size']}")
    return problems


def _rule_prometheus_rule_files_shipped(settings: Mapping) -> list:
    missing = [str(name) for name in settings["rule_files"] if name not in settings["shipped_rule_files"]]
    return [f"prometheus_rule_files: no such file in the role: {', '.join(missing)}"] if missing else []


def _rule_prometheus_scrape_jobs(settings: Mapping) -> list:
    return prometheus_scrape_problems(settings["scrape_jobs"])


PROMETHEUS_RULES = (
    _rule_prometheus_scrape_jobs,
    _rule_prometheus_retention,
    _rule_prometheus_rule_files_shipped,
)


def prometheus_problems(settings) -> list:
    """Every broken rule of the prometheus role's settings (shipped_rule_files: the role's rule file names)."""
    return _run("prometheus_problems", settings, PROMETHEUS_RULES)


def _rule_alertmanager_urls(settings: Mapping) -> list:
    urls = [*settings["webhook_urls"], settings["pagerduty_url"], settings["opsgenie_api_url"]]
    bad = [str(url) for url in urls if not HTTP_URL.match(str(url))]
    return [f"not http(s) URLs: {', '.join(bad)}"] if bad else []


def _rule_alertmanager_timings(settings: Mapping) -> list:
    timings = [settings["group_wait"], settings["group_interval"], settings["repeat_interval"]]
    bad = [str(timing) for timing in timings if not ALERTMANAGER_DURATION.match(str(timing))]
    if bad:
        return [f"alertmanager_group_wait, _group_interval, _repeat_interval: not durations: {', '.join(bad)}"]
    return []


def _rule_alertmanager_grouping(settings: Mapping) -> list:
    return [] if settings["group_by"] else ["alertmanager_group_by is empty: every alert would be one notification"]


ALERTMANAGER_RULES = (_rule_alertmanager_urls, _rule_alertmanager_timings, _rule_alertmanager_grouping)


def alertmanager_problems(settings) -> list:
    """Every broken rule of the alertmanager role's settings."""
    return _run("alertmanager_problems", settings, ALERTMANAGER_RULES)


def _rule_nginx_exporter_ports(settings: Mapping) -> list:
    if int(settings["port"]) == int(settings["log_port"]):
        return ["nginx_exporter_port and nginx_exporter_log_port must differ"]
    return []


def _rule_nginx_exporter_buckets(settings: Mapping) -> list:
    try:
        buckets = [float(bucket) for bucket in settings["duration_buckets"]]
    except (TypeError, ValueError):
        buckets = []
    if not buckets or buckets[0] <= 0 or any(b <= a for a, b in itertools.pairwise(buckets)):
        return ["nginx_exporter_duration_buckets must be positive numbers in increasing order"]
    return []


def _rule_nginx_exporter_tls_address(settings: Mapping) -> list:
    # Over TLS, nginx listens on the address and port and the exporters behind it on the loopback's.
    if settings["tls"] and str(settings["listen_address"]).startswith("127."):
        return ["nginx_exporter_tls needs nginx_exporter_listen_address off the loopback (nginx serves TLS "
                "there, the exporters listen on 127.0.0.1 behind it)"]
    return []


NGINX_EXPORTER_RULES = (_rule_nginx_exporter_ports, _rule_nginx_exporter_buckets, _rule_nginx_exporter_tls_address)


def nginx_exporter_problems(settings) -> list:
    """Every broken rule of the nginx_exporter role's settings."""
    return _run("nginx_exporter_problems", settings, NGINX_EXPORTER_RULES)


def _rule_blackbox_sites(settings: Mapping) -> list:
    problems = []
    for site in settings["sites"]:
        if not isinstance(site, Mapping) or "name" not in site:
            problems.append(f"blackbox_exporter_sites: {site} has no name")
            continue
        if not MODULE_NAME.match(str(site["name"])):
            problems.append(f"blackbox_exporter_sites: name {site['name']} must be a-z, 0-9, _ or - "
                            "(it names a module)")
        if "server_name" not in site:
            problems.append(f"blackbox_exporter_sites[{site['name']}] has no server_name")
    return problems


BLACKBOX_EXPORTER_RULES = (_rule_blackbox_sites,)


def blackbox_exporter_problems(settings) -> list:
    """Every broken rule of the blackbox_exporter role's settings."""
    return _run("blackbox_exporter_problems", settings, BLACKBOX_EXPORTER_RULES)


def _rule_node_exporter_collectors(settings: Mapping) -> list:
    both = [name for name in settings["collectors_enabled"] if name in settings["collectors_disabled"]]
    return [f"node_exporter_collectors_enabled and _disabled both name: {', '.join(both)}"] if both else []


def _rule_postgres_exporter_socket_dir(settings: Mapping) -> list:
    if str(settings["socket_dir"]).startswith("/"):
        return []
    return [f"postgres_exporter_socket_dir must be an absolute path, not {settings['socket_dir']}"]


def _rule_pgbouncer_exporter_password(settings: Mapping) -> list:
    if settings["password_set"]:
        return []
    return ["pgbouncer_exporter_password is empty (set it from the vault: the stats user's in pgbouncer_stats_users)"]


def _rule_auth_exporter_remote_logs(settings: Mapping) -> list:
    if "/*/" in str(settings["remote_logs"]):
        return []
    return ["auth_exporter_remote_logs must name the sender directory with * (as /var/log/remote/*/sshd.log)"]


NODE_EXPORTER_RULES = (_rule_node_exporter_collectors,)
POSTGRES_EXPORTER_RULES = (_rule_postgres_exporter_socket_dir,)
PGBOUNCER_EXPORTER_RULES = (_rule_pgbouncer_exporter_password,)
AUTH_EXPORTER_RULES = (_rule_auth_exporter_remote_logs,)


def node_exporter_problems(settings) -> list:
    """Every broken rule of the node_exporter role's settings (its listen address: listen_address_problems)."""
    return _run("node_exporter_problems", settings, NODE_EXPORTER_RULES)


def postgres_exporter_problems(settings) -> list:
    """Every broken rule of the postgres_exporter role's settings."""
    return _run("postgres_exporter_problems", settings, POSTGRES_EXPORTER_RULES)


def pgbouncer_exporter_problems(settings) -> list:
    """Every broken rule of the pgbouncer_exporter role's settings (the password only as set or not)."""
    return _run("pgbouncer_exporter_problems", settings, PGBOUNCER_EXPORTER_RULES)


def auth_exporter_problems(settings) -> list:
    """Every broken rule of the auth_exporter role's settings."""
    return _run("auth_exporter_problems", settings, AUTH_EXPORTER_RULES)


class FilterModule:
    """monitoring filters."""

    def filters(self):
        return {
            "scrape_jobs_from_groups": scrape_jobs_from_groups,
            "prometheus_scrape_configs": prometheus_scrape_configs,
            "site_probes": site_probes,
            "site_probe_modules": site_probe_modules,
            "tls_probes": tls_probes,
            "prometheus_scrape_problems": prometheus_scrape_problems,
            "prometheus_problems": prometheus_problems,
            "alertmanager_problems": alertmanager_problems,
            "nginx_exporter_problems": nginx_exporter_problems,
            "blackbox_exporter_problems": blackbox_exporter_problems,
            "node_exporter_problems": node_exporter_problems,
            "postgres_exporter_problems": postgres_exporter_problems,
            "pgbouncer_exporter_problems": pgbouncer_exporter_problems,
            "auth_exporter_problems": auth_exporter_problems,
        }
