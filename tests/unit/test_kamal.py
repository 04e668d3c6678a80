"""Unit tests for filter_plugins/kamal.py."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from kamal import (
    kamal_config_problems,
    kamal_deploy_config,
    kamal_error_hint,
    kamal_host_problems,
    kamal_secrets_file,
    path_mount,
)

MOUNTS = [
    {"mount": "/", "size_available": 10},
    {"mount": "/var", "size_available": 20},
    {"mount": "/var/lib/docker", "size_available": 30},
    {"mount": "/var/lib/dockerish", "size_available": 40},
]


@pytest.mark.parametrize(
    ("path", "available"),
    [
        ("/var/lib/docker", 30),
        ("/var/lib/docker/overlay2", 30),
        ("/var/lib/docker/", 30),
        ("/var/lib/postgresql", 20),
        ("/var/lib/dockerish/x", 40),
        ("/srv", 10),
    ],
)
def test_the_deepest_mount_holding_the_path_wins(path, available):
    assert path_mount(MOUNTS, path)["size_available"] == available


def test_a_later_mount_on_the_same_point_hides_the_earlier():
    mounts = [{"mount": "/", "size_available": 1}, {"mount": "/", "size_available": 2}]
    assert path_mount(mounts, "/x")["size_available"] == 2


def test_no_mounts_gives_an_empty_answer():
    assert path_mount([], "/var/lib/docker") == {}


@pytest.mark.parametrize(("mounts", "path"), [("/", "/var"), ({"mount": "/"}, "/var"), (MOUNTS, "var/lib")])
def test_bad_input_is_refused(mounts, path):
    with pytest.raises(AnsibleFilterError, match="path_mount"):
        path_mount(mounts, path)


# --- the Kamal configuration generator -----------------------------------------------------------

SETTINGS = {
    "service": "portfolio", "image": "paas/portfolio", "destination": "staging",
    "web_hosts": ["10.0.0.11", "10.0.0.12"], "job_hosts": ["10.0.0.12"], "job_cmd": "bin/jobs",
    "app_port": "3000", "healthcheck_path": "/up", "healthcheck_interval": "1", "healthcheck_timeout": "5",
    "response_timeout": 30, "proxy_ssl": False, "proxy_bind_ips": [], "proxy_image": {},
    "registry_server": "registry.example.org", "registry_username": "ci",
    "env_clear": {"RAILS_ENV": "production", "WEB_CONCURRENCY": 2},
    "secret_names": ["RAILS_MASTER_KEY", "DATABASE_URL"], "volumes": ["/var/lib/paas/storage:/rails/storage"],
    "ssh_user": "deploy", "ssh_keys": [], "retain_containers": "5", "deploy_timeout": "60",
    "drain_timeout": "30", "readiness_delay": "7", "builder_arch": "amd64",
}
APP = ["10.0.0.11", "10.0.0.12"]
SECRETS = {"RAILS_MASTER_KEY": "k", "DATABASE_URL": "postgres://u:p@10.0.0.13:6432/db",
           "KAMAL_REGISTRY_PASSWORD": "r"}


def test_the_base_file_holds_what_every_destination_shares():
    base = kamal_deploy_config(SETTINGS)["base"]
    assert base["service"] == "portfolio" and base["image"] == "paas/portfolio"
    assert base["proxy"] == {"app_port": 3000, "healthcheck": {"path": "/up", "interval": 1, "timeout": 5},
                             "forward_headers": True, "response_timeout": 30}
    assert (base["retain_containers"], base["deploy_timeout"], base["drain_timeout"], base["readiness_delay"]) == \
        (5, 60, 30, 7)
    assert base["volumes"] == ["/var/lib/paas/storage:/rails/storage"]
    assert "servers" not in base and "env" not in base and "registry" not in base


def test_the_destination_file_holds_this_inventorys_hosts_registry_env_and_ssh():
    dest = kamal_deploy_config(SETTINGS)["destination"]
    assert dest["servers"] == {
        "web": {"hosts": APP, "logging": {"driver": "journald", "options": {"tag": "portfolio-web"}}},
        "job": {"hosts": ["10.0.0.12"], "cmd": "bin/jobs",
                "logging": {"driver": "journald", "options": {"tag": "portfolio-job"}}},
    }
    assert dest["registry"] == {"server": "registry.example.org", "username": "ci",
                                "password": ["KAMAL_REGISTRY_PASSWORD"]}
    assert dest["env"] == {"clear": {"RAILS_ENV": "production", "WEB_CONCURRENCY": "2"},
                           "secret": ["DATABASE_URL", "RAILS_MASTER_KEY"]}
    assert dest["ssh"] == {"user": "deploy"}
    assert "proxy" not in dest


def test_no_job_role_without_job_hosts_and_a_localhost_registry_needs_no_login():
    dest = kamal_deploy_config(SETTINGS | {"job_hosts": [], "registry_server": "localhost:5555",
                                           "registry_username": ""})["destination"]
    assert list(dest["servers"]) == ["web"]
    assert dest["registry"] == {"server": "localhost:5555"}


def test_the_proxy_run_settings_and_ssh_keys_go_to_the_destination():
    dest = kamal_deploy_config(SETTINGS | {
        "proxy_bind_ips": ["10.0.0.11"], "ssh_keys": ["/keys/deploy"], "ssh_port": 2222,
        "proxy_image": {"registry": "10.80.0.1:5000", "repository": "paas/kamal-proxy", "version": "v0.9.2"},
    })["destination"]
    assert dest["proxy"] == {"run": {"bind_ips": ["10.0.0.11"], "registry": "10.80.0.1:5000",
                                     "repository": "paas/kamal-proxy", "version": "v0.9.2"}}
    assert dest["ssh"] == {"user": "deploy", "port": 2222, "keys": ["/keys/deploy"], "keys_only": True}


def test_valid_settings_have_no_problems():
    assert kamal_config_problems(SETTINGS, APP, SECRETS) == []


@pytest.mark.parametrize(
    ("change", "secrets", "named"),
    [
        ({"web_hosts": ["10.0.0.11", "10.9.9.9"]}, SECRETS, "kamal_web_hosts: 10.9.9.9 not in the app group"),
        ({"job_hosts": ["10.0.0.99"]}, SECRETS, "kamal_job_hosts: 10.0.0.99 not in the app group"),
        ({"web_hosts": []}, SECRETS, "kamal_web_hosts is empty"),
        ({"job_cmd": ""}, SECRETS, "kamal_job_cmd is empty"),
        ({"proxy_ssl": True}, SECRETS, "kamal_proxy_ssl is true with 2 web hosts"),
        ({"registry_username": ""}, SECRETS, "kamal_registry_username is empty"),
        ({}, SECRETS | {"KAMAL_REGISTRY_PASSWORD": ""}, "vault_kamal_registry_password is empty"),
        ({"registry_server": ""}, SECRETS, "kamal_registry_server is empty"),
        ({"secret_names": ["RAILS_MASTER_KEY", "SENTRY_DSN"]}, SECRETS,
         "SENTRY_DSN is referenced in the app's environment but has no value in the vault"),
        ({"secret_names": ["rails-key"]}, SECRETS | {"rails-key": "x"}, "not an environment variable name"),
        ({"env_clear": {"RAILS_MASTER_KEY": "oops"}}, SECRETS, "kamal_env_clear: RAILS_MASTER_KEY also secret"),
        ({"service": "Portfolio App"}, SECRETS, "kamal_service 'Portfolio App'"),
        ({"app_port": "70000"}, SECRETS, "kamal_app_port '70000' is not a port number"),
        ({"readiness_delay": 60}, SECRETS, "kamal_readiness_delay must be below kamal_deploy_timeout"),
        ({"drain_timeout": 0}, SECRETS, "kamal_drain_timeout must be at least 1"),
        ({"log_driver": "syslog"}, SECRETS, "kamal_log_driver 'syslog': choose journald or json-file"),
    ],
)
def test_each_problem_names_the_inventory_variable(change, secrets, named):
    problems = kamal_config_problems(SETTINGS | change, APP, secrets)
    assert any(named in p for p in problems), problems


def test_a_localhost_registry_needs_no_credentials():
    local = SETTINGS | {"registry_server": "localhost:5555", "registry_username": ""}
    assert kamal_config_problems(local, APP, SECRETS | {"KAMAL_REGISTRY_PASSWORD": ""}) == []


def test_settings_without_a_required_key_are_refused():
    incomplete = {k: v for k, v in SETTINGS.items() if k != "image"}
    with pytest.raises(AnsibleFilterError, match="kamal_config_problems: settings lack image"):
        kamal_config_problems(incomplete, APP, SECRETS)
    with pytest.raises(AnsibleFilterError, match="kamal_deploy_config"):
        kamal_deploy_config(["not", "a", "dict"])


def test_the_secrets_file_names_each_secret_once_and_holds_no_value():
    text = kamal_secrets_file(["RAILS_MASTER_KEY", "DATABASE_URL", "RAILS_MASTER_KEY"])
    assert text == "DATABASE_URL=$DATABASE_URL\nRAILS_MASTER_KEY=$RAILS_MASTER_KEY\n"
    with pytest.raises(AnsibleFilterError, match="kamal_secrets_file"):
        kamal_secrets_file(["rails key"])
    with pytest.raises(AnsibleFilterError, match="kamal_secrets_file"):
        kamal_secrets_file("DATABASE_URL")


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("  \x1b[31mERROR (Kamal::ConfigurationError): registry/username: is required\x1b[0m\n",
         "Kamal refused the generated configuration: registry/username: is required "
         "(inventory: kamal_registry_server, kamal_registry_username, vault_kamal_registry_password)"),
        ("ERROR (Kamal::ConfigurationError): Missing required configuration for image\n",
         "Kamal refused the generated configuration: Missing required configuration for image "
         "(inventory: kamal_image)"),
        ("ERROR (Kamal::ConfigurationError): SSL is only supported on a single server unless you provide custom "
         "certificates, found 2 servers for role web",
         "Kamal refused the generated configuration: SSL is only supported on a single server unless you provide "
         "custom certificates, found 2 servers for role web (inventory: kamal_proxy_ssl, kamal_web_hosts)"),
        ("ERROR (Kamal::ConfigurationError): proxy/run: unknown key: colour",
         "Kamal refused the generated configuration: proxy/run: unknown key: colour "
         "(inventory: kamal_proxy_image, kamal_proxy_bind_ips)"),
        ("Finished all in 0.1 seconds", ""),
    ],
)
def test_kamals_error_is_shown_with_the_inventory_variables_behind_it(output, expected):
    assert kamal_error_hint(output) == expected


def test_boot_limit_boots_hosts_one_at_a_time():
    base = kamal_deploy_config(SETTINGS | {"boot_limit": 1, "boot_wait": "2"})["base"]
    assert base["boot"] == {"limit": 1, "wait": 2}
    assert "boot" not in kamal_deploy_config(SETTINGS)["base"]


def test_json_file_logging_leaves_kamals_own_log_options():
    servers = kamal_deploy_config(SETTINGS | {"log_driver": "json-file"})["destination"]["servers"]
    assert all("logging" not in server for server in servers.values())


HOST_OK = {"deploy_user": "deploy", "deploy_authorized_keys": ["ssh-ed25519 AAAA ci@example.org"],
           "docker_address_pools": [{"base": "172.30.0.0/16", "size": 24}], "docker_bridge_ip": "172.29.0.1/24",
           "addresses": ["10.0.0.11", "192.168.1.20"]}


def test_a_deploy_host_with_separate_networks_breaks_no_rule():
    assert kamal_host_problems(HOST_OK) == []


@pytest.mark.parametrize(("changes", "message"), [
    ({"deploy_authorized_keys": []}, "kamal_host_deploy_authorized_keys is empty: Kamal could not log in as deploy"),
    ({"deploy_user": "root"},
     "kamal_host_deploy_user must not be root: Kamal runs Docker as an unprivileged member of the docker group"),
    ({"docker_address_pools": [{"base": "172.300.0.0/16", "size": 24}]},
     "kamal_host_docker_address_pools: not networks: 172.300.0.0/16"),
    ({"docker_bridge_ip": "bridge"}, "kamal_host_docker_bridge_ip is not an address/prefix: bridge"),
    ({"addresses": ["172.30.1.5"]}, "the host address 172.30.1.5 lies in kamal_host_docker_address_pools or "
                                    "kamal_host_docker_bridge_ip: containers could not reach it"),
    ({"addresses": ["172.29.0.200"]}, "the host address 172.29.0.200 lies in kamal_host_docker_address_pools or "
                                      "kamal_host_docker_bridge_ip: containers could not reach it"),
    ({"addresses": ["fd00::1", "10.0.0.11"]}, None),     # another family is never inside an IPv4 network
])
def test_each_host_rule_is_broken_alone_with_its_message(changes, message):
    assert kamal_host_problems({**HOST_OK, **changes}) == ([message] if message else [])


def test_an_unparsable_network_is_reported_instead_of_an_overlap():
    problems = kamal_host_problems({**HOST_OK, "docker_bridge_ip": "bridge", "addresses": ["172.30.1.5"]})
    assert problems == ["kamal_host_docker_bridge_ip is not an address/prefix: bridge"]


def test_a_missing_host_setting_is_named():
    with pytest.raises(AnsibleFilterError, match="kamal_host_problems: settings lack addresses"):
        kamal_host_problems({key: value for key, value in HOST_OK.items() if key != "addresses"})


def test_host_rules_want_the_settings_as_a_dictionary():
    with pytest.raises(AnsibleFilterError, match="kamal_host_problems: expected a dictionary"):
        kamal_host_problems("deploy")
