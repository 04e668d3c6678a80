"""An app host ready for Kamal: Docker as configured, a deploy user with Docker and
nothing more, published ports behind the hardening role's allow-list (a port Docker
publishes cannot bypass it; the containers' own traffic goes out), pruning that spares
what a rollback needs, and the disk-space guard."""

from __future__ import annotations

import base64
import json

import pytest
from paas_testlib import python_command, run_playbook, tcp_probe_command, wait_for

APP, LB, OUTSIDER = "kamal-app", "kamal-lb", "kamal-outsider"
APP_IP = "10.85.0.11"
OUTSIDER_IP = "10.85.0.20"
DEPLOY = "deploy"
testinfra_hosts = [f"ansible://{APP}"]

# A one-binary image built on the host (no registry is reachable from here): busybox
# and a page naming the image, so each image below has its own content and ID.
IMAGE_SCRIPT = """set -e
docker image inspect {name} >/dev/null 2>&1 && exit 0
root=$(mktemp -d) && mkdir -p "$root/bin" "$root/www" && cp /bin/busybox "$root/bin/busybox"
echo {name} > "$root/www/index.html"
tar -C "$root" -c . | docker import - {name}
rm -rf "$root"
"""


def as_deploy(host, command: str):
    """Run a command as the deploy user, through a login shell like Kamal's SSH session."""
    encoded = base64.b64encode(command.encode()).decode()
    return host.run(f"echo {encoded} | base64 -d | runuser --login {DEPLOY} --command /bin/sh")


@pytest.fixture(scope="module")
def lb(host):
    return host.get_host(f"ansible://{LB}", ansible_inventory=host.backend.ansible_inventory)


@pytest.fixture(scope="module")
def outsider(host):
    return host.get_host(f"ansible://{OUTSIDER}", ansible_inventory=host.backend.ansible_inventory)


@pytest.fixture(scope="module")
def images(host):
    host.run_expect([0], "apt-get install -y -qq busybox-static")
    for name in ("local/web:1", "local/retained:1", "local/unused:1"):
        result = as_deploy(host, IMAGE_SCRIPT.format(name=name))
        assert result.rc == 0, result.stderr
    return True


@pytest.fixture(scope="module")
def web(host, images):
    """A container published on port 80 by the deploy user, as kamal-proxy is."""
    as_deploy(host, "docker rm -f web >/dev/null 2>&1; true")
    result = as_deploy(host, "docker run -d --name web -p 80:80 local/web:1 /bin/busybox httpd -f -p 80 -h /www")
    assert result.rc == 0, result.stderr
    assert wait_for(lambda: "local/web:1" in host.run("busybox wget -qO- http://127.0.0.1/").stdout, 20)
    yield "web"
    as_deploy(host, "docker rm -f web")


def test_docker_runs_with_the_configured_daemon_settings(host):
    info = json.loads(host.check_output("docker info --format '{{json .}}'"))
    assert info["Driver"] == "overlay2"
    assert info["LoggingDriver"] == "json-file"
    assert info["LiveRestoreEnabled"] is True
    daemon = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert daemon["log-opts"] == {"max-size": "10m", "max-file": "5"}
    assert daemon["no-new-privileges"] is True


def test_new_networks_come_from_the_address_pool_and_docker0_from_bip(host):
    host.run("docker network rm paas-pool-probe")
    host.run_expect([0], "docker network create paas-pool-probe")
    try:
        subnet = host.check_output("docker network inspect -f '{{(index .IPAM.Config 0).Subnet}}' paas-pool-probe")
    finally:
        host.run("docker network rm paas-pool-probe")
    assert subnet.startswith("172.30.") and subnet.endswith("/24"), subnet
    assert "inet 172.29.0.1/24" in host.check_output("ip -4 addr show docker0")


def test_the_deploy_user_runs_docker_without_sudo(host):
    result = as_deploy(host, "docker ps --format '{{.Names}}'")
    assert result.rc == 0, result.stderr
    assert set(host.user(DEPLOY).groups) == {DEPLOY, "docker"}


def test_the_deploy_user_cannot_use_sudo(host):
    result = as_deploy(host, "sudo -n true")
    assert result.rc != 0
    assert "is not allowed to run sudo" in host.check_output(f"sudo --list --other-user {DEPLOY}")


def test_the_deploy_user_has_no_password_and_a_key(host):
    assert host.check_output(f"getent shadow {DEPLOY}").split(":")[1] == "!"
    keys = host.file(f"/home/{DEPLOY}/.ssh/authorized_keys").content_string
    assert keys.strip().endswith("kamal-test")
    kamal_dir = host.file(f"/home/{DEPLOY}/.kamal")
    assert kamal_dir.is_directory and kamal_dir.user == DEPLOY and kamal_dir.mode == 0o750


def test_the_load_balancer_reaches_the_published_port(host, lb, web):
    result = lb.run(python_command(
        f"import urllib.request; print(urllib.request.urlopen('http://{APP_IP}/', timeout=5).read().decode())"))
    assert result.stdout.strip() == "local/web:1", result.stderr


def test_other_hosts_cannot_reach_the_published_port(outsider, web):
    # Docker publishes port 80 on every address; the firewall's forward chain drops it.
    assert outsider.run(tcp_probe_command(APP_IP, 80)).stdout.strip() == "timeout"


def test_a_published_port_outside_the_allow_list_is_dropped_for_everyone(host, lb, outsider, images):
    run = "docker run -d --name stray -p 8081:80 local/web:1 /bin/busybox httpd -f -p 80 -h /www"
    result = as_deploy(host, f"docker rm -f stray >/dev/null 2>&1; {run}")
    assert result.rc == 0, result.stderr
    try:
        # Inside the host it answers: the firewall, not the container, makes the difference.
        assert wait_for(lambda: "local/web:1" in host.run("busybox wget -qO- http://127.0.0.1:8081/").stdout, 20)
        assert lb.run(tcp_probe_command(APP_IP, 8081)).stdout.strip() == "timeout"
        assert outsider.run(tcp_probe_command(APP_IP, 8081)).stdout.strip() == "timeout"
    finally:
        as_deploy(host, "docker rm -f stray")


def test_containers_still_reach_out(host, images):
    # The forward chain leaves the containers' own traffic alone: a container opens a
    # connection to another machine's sshd.
    result = host.run(f"docker run --rm local/web:1 /bin/busybox nc -w 5 {OUTSIDER_IP} 22 </dev/null")
    assert result.stdout.startswith("SSH-2.0-"), result.stdout + result.stderr


def test_containers_keep_serving_while_docker_restarts(host, web):
    started = host.check_output("docker inspect -f '{{.State.StartedAt}}' web")
    host.run_expect([0], "systemctl restart docker")
    assert wait_for(lambda: host.run("docker info").rc == 0, 60)
    assert host.check_output("docker inspect -f '{{.State.StartedAt}}' web") == started
    assert "local/web:1" in host.check_output("busybox wget -qO- http://127.0.0.1/")


def test_pruning_removes_unused_images_and_keeps_those_of_retained_containers(host, images, web):
    # A stopped container stands for an earlier version Kamal retains for a rollback.
    as_deploy(host, "docker rm -f retained >/dev/null 2>&1; "
                    "docker create --name retained local/retained:1 /bin/busybox true")
    try:
        result = host.run("systemctl start paas-docker-prune.service")
        assert result.rc == 0, host.run("journalctl -u paas-docker-prune -n 30 --no-pager").stdout
        present = host.check_output("docker image ls --format '{{.Repository}}:{{.Tag}}'").split()
        assert "local/unused:1" not in present
        assert "local/retained:1" in present
        assert "local/web:1" in present
    finally:
        as_deploy(host, "docker rm -f retained")
    assert host.service("paas-docker-prune.timer").is_enabled
    assert host.service("paas-docker-prune.timer").is_running


def test_the_prune_job_fails_loudly_when_space_stays_short(host):
    result = host.run("PAAS_DOCKER_MIN_FREE_GIB=1000000 /usr/local/sbin/paas-docker-prune")
    assert result.rc == 1
    assert "below 1000000 GiB" in result.stderr


def test_the_role_refuses_a_host_short_of_disk_space_before_changing_anything(host):
    before = host.file("/etc/docker/daemon.json").content_string
    proc = run_playbook(host.backend.ansible_inventory, "app.yml",
                        "-e", '{"kamal_host_min_free_gib": 1000000, "kamal_host_docker_log_max_file": 9}')
    assert proc.returncode != 0
    assert "below kamal_host_min_free_gib (1000000)" in proc.stdout + proc.stderr
    assert host.file("/etc/docker/daemon.json").content_string == before


def test_the_apps_data_directory_is_writable_by_the_apps_user_in_a_container(host, images):
    directory = host.file("/var/lib/paas/storage")
    assert directory.is_directory and directory.uid == 1000 and directory.mode == 0o750
    result = as_deploy(host, "docker run --rm --user 1000:1000 -v /var/lib/paas/storage:/storage local/web:1 "
                             "/bin/busybox touch /storage/written && echo ok")
    assert result.stdout.strip() == "ok", result.stderr
    host.run("rm -f /var/lib/paas/storage/written")
