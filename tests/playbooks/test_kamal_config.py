"""playbooks/kamal-config.yml: Kamal's configuration generated from an inventory and
checked by the real Kamal (the pinned one in the venv); bad inventories are refused
with the variable named."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from paas_testlib import inventory_host, inventory_vault, run_playbook

ROOT = Path(__file__).resolve().parents[2]


def kamal_config(app_dir: Path | str, *args: str) -> subprocess.CompletedProcess:
    return run_playbook("inventories/sandbox", "kamal-config.yml", "-e", json.dumps({"kamal_app_dir": str(app_dir)}),
                        *args, timeout=180)


def sandbox_vault() -> dict:
    return inventory_vault("inventories/sandbox")


def hostvar(host: str, name: str):
    return inventory_host("inventories/sandbox", host)[name]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    app_dir = tmp_path_factory.mktemp("app")
    result = kamal_config(app_dir)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    return app_dir


def test_the_sandbox_configuration_is_written_and_kamal_accepts_it(generated):
    base = yaml.safe_load((generated / "config/deploy.yml").read_text())
    dest = yaml.safe_load((generated / "config/deploy.sandbox.yml").read_text())
    assert base["service"] == "portfolio"
    assert base["proxy"]["forward_headers"] is True
    assert base["proxy"]["healthcheck"]["path"] == "/up"
    assert dest["servers"]["web"]["hosts"] == [hostvar("app1", "private_ip"), hostvar("app2", "private_ip")]
    assert dest["servers"]["job"]["hosts"] == [hostvar("app2", "private_ip")]
    # Each role's output goes to the host's journal under its own tag (the log host files it by that name).
    assert dest["servers"]["web"]["logging"] == {"driver": "journald", "options": {"tag": "portfolio-web"}}
    assert dest["servers"]["job"]["logging"]["options"]["tag"] == "portfolio-job"
    assert dest["ssh"]["user"] == "deploy"
    assert set(dest["env"]["secret"]) == {"DATABASE_URL", "REDIS_URL", "REDIS_CACHE_URL", "RAILS_MASTER_KEY",
                                          "SECRET_KEY_BASE"}
    # redis1 serves TLS (redis_tls): the app is told where the CA it verifies the instances against is.
    assert dest["env"]["clear"]["REDIS_CA_FILE"] == "/etc/paas/internal-ca.crt"
    assert "/etc/paas/internal-ca.crt:ro" in " ".join(base.get("volumes", []) + dest.get("volumes", []))
    # Kamal itself reads the files the same way a deploy will.
    shown = subprocess.run([str(ROOT / ".venv/bin/kamal"), "config", "-d", "sandbox", "--version=t1"],
                           cwd=generated, capture_output=True, text=True, timeout=60, check=False)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "10.80.0.5:5000/paas/portfolio:t1" in shown.stdout


def test_no_secret_value_is_written_to_a_file(generated):
    secrets = (generated / ".kamal/secrets.sandbox").read_text()
    assert "DATABASE_URL=$DATABASE_URL" in secrets
    assert "KAMAL_REGISTRY_PASSWORD=$KAMAL_REGISTRY_PASSWORD" in secrets
    vault = sandbox_vault()
    values = [vault["vault_postgresql_app_password"], vault["vault_redis_app_password"],
              vault["vault_rails_master_key"], vault["vault_kamal_registry_password"]]
    for path in generated.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert not [v for v in values if v and v in text], path


def test_a_second_run_and_check_mode_change_nothing(generated):
    again = kamal_config(generated)
    assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout[-2000:]
    check = kamal_config(generated, "--check", "--diff")
    assert check.returncode == 0 and "changed=0" in check.stdout, check.stdout[-2000:]


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"kamal_web_hosts": ["10.80.0.11", "10.80.0.13"]}, "kamal_web_hosts: 10.80.0.13 not in the app group"),
        ({"kamal_proxy_ssl": True}, "kamal_proxy_ssl is true with 2 web hosts"),
        ({"kamal_secrets": {"RAILS_MASTER_KEY": "x", "SECRET_KEY_BASE": "y", "SENTRY_DSN": ""}},
         "SENTRY_DSN is referenced in the app's environment but has no value in the vault"),
        ({"kamal_registry_server": "registry.example.org", "kamal_registry_username": ""},
         "kamal_registry_username is empty"),
        ({"kamal_registry_password": ""}, "vault_kamal_registry_password is empty"),
        # Not ours to catch: Kamal's own message, with the variable behind it.
        ({"kamal_image": ""}, "Missing required configuration for image (inventory: kamal_image)"),
    ],
)
def test_a_bad_inventory_is_refused_naming_the_variable(tmp_path, variables, named):
    result = kamal_config(tmp_path, "-e", json.dumps(variables))
    assert result.returncode != 0
    assert named in result.stdout + result.stderr


@pytest.mark.parametrize("app_dir", ["", "relative/app", "/"])
def test_the_app_directory_must_be_an_absolute_path(app_dir):
    result = kamal_config(app_dir)
    assert result.returncode != 0
    assert "kamal_app_dir must be the absolute path of the app checkout" in result.stdout + result.stderr
