"""Filters for the kamal_host role and the Kamal deploy configuration.

Pure functions: no I/O. Unit tests: tests/unit/test_kamal.py.

    {{ ansible_facts.mounts | path_mount('/var/lib/docker') }}   -> the mount holding that path
    {{ settings | kamal_deploy_config }}          -> {'base': deploy.yml, 'destination': deploy.DEST.yml}
    {{ settings | kamal_config_problems(app_addresses, secrets) }} -> [message naming the inventory variable]
    {{ secret_names | kamal_secrets_file }}      -> text of .kamal/secrets.DEST (names only; values: environment)
    {{ kamal_stderr | kamal_error_hint }}        -> Kamal's error and the inventory variables behind it
    {{ host_settings | kamal_host_problems }}    -> the kamal_host role's preflight: [message naming the variable]

`settings` is one dictionary that playbooks/vars/kamal.yml builds from the
inventory's kamal_* variables (its keys are those names without the prefix).
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from collections.abc import Iterable, Mapping

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: path_mount
short_description: The mount (from Ansible's mounts fact) whose filesystem holds a path
description:
  - The entry with the longest mount point that is the path or one of its parents; an empty
    dict when no mount matches (no facts gathered).
"""

DOCUMENTATION_HOST = r"""
name: kamal_host_problems
short_description: The kamal_host role's cross-variable rules - one message per broken rule, naming the variable
description:
  - host_settings holds the role's variables without the kamal_host_ prefix (deploy_user, deploy_authorized_keys,
    docker_address_pools, docker_bridge_ip) and addresses, the host's own addresses (private_ip and the default
    IPv4 address), which Docker's networks must not cover.
"""

EXAMPLES = r"""
__docker_mount: "{{ ansible_facts['mounts'] | path_mount('/var/lib/docker') }}"
# __docker_mount.size_available: free bytes
"""


def _is_under(path: str, mount_point: str) -> bool:
    return mount_point == "/" or path == mount_point or path.startswith(mount_point.rstrip("/") + "/")


def path_mount(mounts: Iterable[Mapping], path: str) -> dict:
    """The mounts-fact entry whose mount point is the deepest parent of path (or path itself)."""
    if isinstance(mounts, str | Mapping) or not isinstance(mounts, Iterable):
        raise AnsibleFilterError(f"path_mount: expected the mounts fact (a list), got {mounts!r}")
    if not isinstance(path, str) or not path.startswith("/"):
        raise AnsibleFilterError(f"path_mount: expected an absolute path, got {path!r}")
    path = posixpath.normpath(path)
    best: dict = {}
    for mount in mounts:
        point = mount.get("mount")
        if not isinstance(point, str) or not _is_under(path, point):
            continue
        if not best or len(point) >= len(best["mount"]):
            best = dict(mount)
    return best


# The registry password always travels as this secret (Kamal's convention).
REGISTRY_PASSWORD_SECRET = "KAMAL_REGISTRY_PASSWORD"  # noqa: S105 - a name, not a value

# Kamal validates the service name like this (lower case, digits, - and _).
SERVICE_NAME = re.compile(r"^[a-z0-9_-]+$")
SECRET_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")

# Which inventory variables produce each part of the generated configuration,
# so that an error Kamal reports (it names the key path) can name them too.
# Longest key path first.
KAMAL_KEY_VARIABLES = (
    ("servers/web/logging", "kamal_log_driver"),
    ("servers/job/logging", "kamal_log_driver"),
    ("servers/job", "kamal_job_hosts (default: the job group), kamal_job_cmd"),
    ("servers", "kamal_web_hosts (default: the web group), kamal_job_hosts"),
    ("registry", "kamal_registry_server, kamal_registry_username, vault_kamal_registry_password"),
    ("proxy/run", "kamal_proxy_image, kamal_proxy_bind_ips"),
    ("proxy/healthcheck", "kamal_healthcheck_path, kamal_healthcheck_interval, kamal_healthcheck_timeout"),
    ("proxy", "kamal_app_port, kamal_response_timeout, kamal_proxy_ssl"),
    ("env", "kamal_env_clear, kamal_secrets (and the computed DATABASE_URL, REDIS_URL)"),
    ("volumes", "kamal_volumes"),
    ("ssh", "kamal_ssh_user, kamal_ssh_keys"),
    ("builder", "kamal_builder_arch"),
    ("boot", "kamal_boot_limit, kamal_boot_wait"),
    ("service", "kamal_service"),
    ("image", "kamal_image"),
    ("retain_containers", "kamal_retain_containers"),
    ("deploy_timeout", "kamal_deploy_timeout"),
    ("drain_timeout", "kamal_drain_timeout"),
    ("readiness_delay", "kamal_readiness_delay"),
    ("SSL", "kamal_proxy_ssl, kamal_web_hosts"),
)

# Where the app's containers write their output: journald (each line in the app
# host's journal, tagged <service>-<role>, which rsyslog forwards to the log
# host; `docker logs` and `kamal app logs` read it back), or json-file (files on
# the host only, Kamal's default options). The first is the default.
LOG_DRIVERS = ("journald", "json-file")

REQUIRED_SETTINGS = ("service", "image", "destination", "web_hosts", "app_port", "registry_server", "ssh_user")


def _require_mapping(name: str, value, keys: tuple = REQUIRED_SETTINGS, prefix: str = "kamal_") -> Mapping:
    """The settings, after checking they are a dictionary holding the keys (each set as prefix + key)."""
    if not isinstance(value, Mapping):
        raise AnsibleFilterError(f"{name}: expected a dictionary of settings, got {value!r}")
    missing = [key for key in keys if key not in value]
    if missing:
        raise AnsibleFilterError(f"{name}: settings lack {', '.join(missing)} (set {prefix}{missing[0]})")
    return value


def _is_local_registry(server: str) -> bool:
    return str(server).split(":", 1)[0] == "localhost"


def _secret_names(settings: Mapping) -> list:
    names = list(settings.get("secret_names") or [])
    return sorted(set(names))


def kamal_deploy_config(settings: Mapping) -> dict:
    """Kamal's config/deploy.yml (what every destination shares) and config/deploy.DEST.yml
    (hosts, registry, environment and SSH of this inventory), as dictionaries."""
    settings = _require_mapping("kamal_deploy_config", settings)
    healthcheck = {
        "path": settings.get("healthcheck_path", "/up"),
        "interval": int(settings.get("healthcheck_interval", 1)),
        "timeout": int(settings.get("healthcheck_timeout", 5)),
    }
    base = {
        "service": settings["service"],
        "image": settings["image"],
        "builder": {"arch": settings.get("builder_arch", "amd64")},
        "proxy": {
            "app_port": int(settings["app_port"]),
            "healthcheck": healthcheck,
            # TLS ends at the load balancer: its X-Forwarded-* must reach Rails.
            "forward_headers": True,
            "response_timeout": int(settings.get("response_timeout", 30)),
        },
        "retain_containers": int(settings.get("retain_containers", 5)),
        "deploy_timeout": int(settings.get("deploy_timeout", 60)),
        "drain_timeout": int(settings.get("drain_timeout", 30)),
        "readiness_delay": int(settings.get("readiness_delay", 7)),
    }
    if settings.get("boot_limit"):
        # Hosts booted at a time: 1 boots the web hosts one after the other,
        # so the first one's migrations are done before the next starts.
        base["boot"] = {"limit": settings["boot_limit"], "wait": int(settings.get("boot_wait", 0) or 0)}
    if settings.get("proxy_ssl"):
        base["proxy"]["ssl"] = True
    if settings.get("volumes"):
        base["volumes"] = list(settings["volumes"])

    servers: dict = {"web": {"hosts": list(settings["web_hosts"])}}
    job_hosts = list(settings.get("job_hosts") or [])
    if job_hosts:
        servers["job"] = {"hosts": job_hosts, "cmd": settings.get("job_cmd") or "bin/jobs"}
    if settings.get("log_driver", LOG_DRIVERS[0]) == "journald":
        # One tag per role, the same across versions: the log host files each
        # role's lines under <host>/<service>-<role>.log.
        for role, server in servers.items():
            server["logging"] = {"driver": "journald", "options": {"tag": f"{settings['service']}-{role}"}}
    registry: dict = {"server": settings["registry_server"]}
    if settings.get("registry_username"):
        registry["username"] = settings["registry_username"]
    if not _is_local_registry(settings["registry_server"]) or settings.get("registry_username"):
        registry["password"] = [REGISTRY_PASSWORD_SECRET]
    env: dict = {"clear": {str(k): str(v) for k, v in sorted((settings.get("env_clear") or {}).items())}}
    secret_names = _secret_names(settings)
    if secret_names:
        env["secret"] = secret_names
    ssh: dict = {"user": settings["ssh_user"]}
    if settings.get("ssh_port"):
        ssh["port"] = int(settings["ssh_port"])
    if settings.get("ssh_keys"):
        ssh["keys"] = list(settings["ssh_keys"])
        ssh["keys_only"] = True
    destination = {"servers": servers, "registry": registry, "env": env, "ssh": ssh}
    run: dict = {}
    if settings.get("proxy_bind_ips"):
        run["bind_ips"] = list(settings["proxy_bind_ips"])
    image = settings.get("proxy_image") or {}
    for key in ("registry", "repository", "version"):
        if image.get(key):
            run[key] = image[key]
    if run:
        destination["proxy"] = {"run": run}
    return {"base": base, "destination": destination}


def kamal_config_problems(settings: Mapping, app_addresses: Iterable, secrets: Mapping) -> list:
    """What is wrong with the Kamal settings, each message naming the inventory variable.
    app_addresses: the private addresses of the app group; secrets: name -> value from the vault."""
    settings = _require_mapping("kamal_config_problems", settings)
    if not isinstance(secrets, Mapping):
        raise AnsibleFilterError(f"kamal_config_problems: secrets must be a dictionary, got {type(secrets).__name__}")
    problems = []
    service = str(settings["service"])
    if not SERVICE_NAME.match(service):
        problems.append(f"kamal_service {service!r}: use lower-case letters, digits, - and _ only")
    app = {str(a) for a in app_addresses}
    web = [str(h) for h in settings["web_hosts"] or []]
    if not web:
        problems.append("kamal_web_hosts is empty: the web group has no hosts")
    job = [str(h) for h in settings.get("job_hosts") or []]
    for var, hosts in (("kamal_web_hosts", web), ("kamal_job_hosts", job)):
        outside = [h for h in hosts if h not in app]
        if outside:
            problems.append(f"{var}: {', '.join(outside)} not in the app group (only app hosts are prepared for Kamal)")
    if settings.get("job_hosts") and not settings.get("job_cmd"):
        problems.append("kamal_job_cmd is empty: the job hosts need the command that runs the workers")
    if settings.get("proxy_ssl") and len(web) > 1:
        problems.append(f"kamal_proxy_ssl is true with {len(web)} web hosts: Kamal's proxy issues certificates only "
                        "for one host; TLS ends at the load balancer (set kamal_proxy_ssl: false)")
    if not str(settings["registry_server"]).strip():
        problems.append("kamal_registry_server is empty: name the registry the app hosts pull from")
    elif not _is_local_registry(settings["registry_server"]):
        if not settings.get("registry_username"):
            problems.append(f"kamal_registry_username is empty: {settings['registry_server']} is not a "
                            "localhost registry, so Kamal must log in")
        if not secrets.get(REGISTRY_PASSWORD_SECRET):
            problems.append("vault_kamal_registry_password is empty: "
                            f"{settings['registry_server']} is not a localhost registry, so Kamal must log in")
    for name in _secret_names(settings):
        if not SECRET_NAME.match(str(name)):
            problems.append(f"kamal_secrets: {name!r} is not an environment variable name (A-Z, 0-9, _)")
        elif not secrets.get(name):
            problems.append(f"kamal_secrets: {name} is referenced in the app's environment but has no value "
                            "in the vault")
    clash = sorted(set(settings.get("env_clear") or {}) & set(_secret_names(settings)))
    if clash:
        problems.append(f"kamal_env_clear: {', '.join(clash)} also secret; keep each name in one place")
    if settings.get("log_driver", LOG_DRIVERS[0]) not in LOG_DRIVERS:
        problems.append(f"kamal_log_driver {settings.get('log_driver')!r}: choose {' or '.join(LOG_DRIVERS)}")
    port = settings["app_port"]
    if isinstance(port, bool) or not str(port).isdigit() or not 1 <= int(port) <= 65535:
        problems.append(f"kamal_app_port {port!r} is not a port number")
    if int(settings.get("readiness_delay", 7)) >= int(settings.get("deploy_timeout", 60)):
        problems.append("kamal_readiness_delay must be below kamal_deploy_timeout")
    for key in ("retain_containers", "deploy_timeout", "drain_timeout"):
        if int(settings.get(key, 1)) < 1:
            problems.append(f"kamal_{key} must be at least 1")
    return problems


def kamal_secrets_file(names: Iterable) -> str:
    """The .kamal/secrets file: each secret read from the environment of the kamal process
    (the pipeline fills it from the vault), so the file holds no value."""
    if isinstance(names, str) or not isinstance(names, Iterable):
        raise AnsibleFilterError(f"kamal_secrets_file: expected a list of secret names, got {names!r}")
    bad = [n for n in names if not SECRET_NAME.match(str(n))]
    if bad:
        raise AnsibleFilterError(f"kamal_secrets_file: not environment variable names: {bad!r}")
    return "".join(f"{n}=${n}\n" for n in sorted(set(names)))


def kamal_error_hint(output: str) -> str:
    """Kamal's configuration error from its output, with the inventory variables behind the
    key it names; empty when the output holds no configuration error."""
    if not isinstance(output, str):
        raise AnsibleFilterError(f"kamal_error_hint: expected Kamal's output as text, got {type(output).__name__}")
    match = re.search(r"ERROR \(Kamal::ConfigurationError\): ([^\n\x1b]*)", output)
    if not match:
        return ""
    message = match.group(1).strip()
    # A key path at the start ("registry/username: ..."), else a key named in the sentence.
    for found in (lambda key: message.startswith(key), lambda key: f" {key} " in f" {message} "):
        for key, variables in KAMAL_KEY_VARIABLES:
            if found(key):
                return f"Kamal refused the generated configuration: {message} (inventory: {variables})"
    return f"Kamal refused the generated configuration: {message}"


def _networks(values: Iterable) -> tuple[list, list]:
    """The values parsed as networks (an address is its own /32 or /128), and those that are not one."""
    parsed, bad = [], []
    for value in values:
        try:
            parsed.append(ipaddress.ip_network(str(value), strict=False))
        except ValueError:
            bad.append(str(value))
    return parsed, bad


def _rule_deploy_keys(host: Mapping) -> list:
    if host["deploy_authorized_keys"]:
        return []
    return [f"kamal_host_deploy_authorized_keys is empty: Kamal could not log in as {host['deploy_user']}"]


def _rule_deploy_user_unprivileged(host: Mapping) -> list:
    if host["deploy_user"] == "root":
        return ["kamal_host_deploy_user must not be root: Kamal runs Docker as an unprivileged member of the "
                "docker group"]
    return []


def _rule_docker_networks(host: Mapping) -> list:
    """Docker's networks parse, and none covers the host's own addresses (containers could not reach the host)."""
    pools, bad_pools = _networks(pool["base"] for pool in host["docker_address_pools"])
    bridge, bad_bridge = _networks([host["docker_bridge_ip"]])
    problems = [f"kamal_host_docker_address_pools: not networks: {', '.join(bad_pools)}"] if bad_pools else []
    if bad_bridge:
        problems.append(f"kamal_host_docker_bridge_ip is not an address/prefix: {host['docker_bridge_ip']}")
    if problems:
        return problems
    addresses, _ = _networks(host["addresses"])
    return [f"the host address {address.network_address} lies in kamal_host_docker_address_pools or "
            "kamal_host_docker_bridge_ip: containers could not reach it"
            for address in addresses if any(address.subnet_of(network) for network in pools + bridge
                                            if network.version == address.version)]


KAMAL_HOST_RULES = (_rule_deploy_keys, _rule_deploy_user_unprivileged, _rule_docker_networks)
KAMAL_HOST_SETTINGS = ("deploy_user", "deploy_authorized_keys", "docker_address_pools", "docker_bridge_ip", "addresses")


def kamal_host_problems(host_settings) -> list:
    """Every broken cross-variable rule of the kamal_host role, in KAMAL_HOST_RULES' order."""
    host = _require_mapping("kamal_host_problems", host_settings, KAMAL_HOST_SETTINGS, "kamal_host_")
    return [problem for rule in KAMAL_HOST_RULES for problem in rule(host)]


class FilterModule:
    """Kamal filters."""

    def filters(self):
        return {
            "path_mount": path_mount,
            "kamal_deploy_config": kamal_deploy_config,
            "kamal_config_problems": kamal_config_problems,
            "kamal_secrets_file": kamal_secrets_file,
            "kamal_error_hint": kamal_error_hint,
            "kamal_host_problems": kamal_host_problems,
        }
