"""Filters for the monitoring roles (prometheus, node_exporter) and playbooks/monitoring.yml.

Pure functions: no I/O. Unit tests: tests/unit/test_monitoring.py.

    {{ exporters | scrape_jobs_from_groups(groups, hostvars) }}
        -> [{'name', 'targets': [{'address': 'ip:port', 'instance': host, 'labels'?}]}], one job per exporter
    {{ prometheus_scrape_jobs | prometheus_scrape_configs }}  -> Prometheus `scrape_configs` entries
    {{ prometheus_scrape_jobs | prometheus_scrape_problems }} -> [message naming the variable]
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

try:
    from ansible.errors import AnsibleFilterError
except ImportError:  # pragma: no cover - only without ansible-core installed
    class AnsibleFilterError(Exception):
        """Stand-in when ansible-core is absent."""

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
    carrying its C(__param_target).
positional: groups, hostvars, address_var
---
name: prometheus_scrape_configs
short_description: Prometheus scrape_configs entries from the prometheus role's scrape jobs
---
name: prometheus_scrape_problems
short_description: What is wrong with prometheus_scrape_jobs, one message per problem
"""

_JOB_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_-]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def scrape_jobs_from_groups(exporters: Mapping, groups: Mapping, hostvars: Mapping,
                            address_var: str = "private_ip") -> list[dict]:
    """One job per exporter, its targets the hosts of the exporter's group (sorted by name)."""
    if not isinstance(exporters, Mapping):
        raise AnsibleFilterError(f"scrape_jobs_from_groups: exporters must be a mapping, got {exporters!r}")
    jobs = []
    for name, exporter in exporters.items():
        scrapes = _exporter_scrapes(name, exporter)
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
            job.update({k: exporter[k] for k in ("scheme", "metrics_path", "params") if k in exporter})
            jobs.append(job)
    return jobs


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
    return [({label: str(probe), "__param_target": str(target)}, port) for probe, target in probes.items()]


def _host_part(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def prometheus_scrape_configs(jobs: list) -> list[dict]:
    """The scrape_configs entries: one static_config per target, carrying its instance label."""
    configs = []
    for job in jobs:
        entry = {"job_name": job["name"]}
        entry.update({k: job[k] for k in ("scheme", "metrics_path", "params") if k in job})
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
    return problems


def _target_problem(target) -> str:
    if not isinstance(target, Mapping) or not target.get("instance") or not target.get("address"):
        return f"target {target!r} needs an address (host:port) and an instance name"
    labels = target.get("labels", {})
    if not isinstance(labels, Mapping) or any(not _LABEL_NAME.match(str(k)) or k in ("instance", "job")
                                              or (str(k).startswith("__") and k != "__param_target")
                                              for k in labels):
        return (f"target {target['address']!r}: labels must map label names (not instance, job or __*, "
                "but __param_target) to values")
    host, _, port = str(target["address"]).rpartition(":")
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        return f"target {target['address']!r} needs a port (host:port)"
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if not re.match(r"^[a-zA-Z0-9.-]+$", host):
            return f"target {target['address']!r}: {host!r} is neither an address nor a host name"
    return ""


class FilterModule:
    """monitoring filters."""

    def filters(self):
        return {
            "scrape_jobs_from_groups": scrape_jobs_from_groups,
            "prometheus_scrape_configs": prometheus_scrape_configs,
            "prometheus_scrape_problems": prometheus_scrape_problems,
        }
