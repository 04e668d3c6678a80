"""A port Docker publishes cannot bypass the hardening allow-list."""

from __future__ import annotations

import urllib.request

import pytest
from paas_testlib import container_ip, tcp_probe_command, wait_for

HOST, ATTACKER = "docker-host", "docker-attacker"
testinfra_hosts = [f"ansible://{HOST}"]


@pytest.fixture(scope="module")
def address():
    return container_ip(HOST)


@pytest.fixture(scope="module")
def attacker(host):
    return host.get_host(f"ansible://{ATTACKER}", ansible_inventory=host.backend.ansible_inventory)


def fetch(address: str, port: int) -> str:
    with urllib.request.urlopen(f"http://{address}:{port}/index.html", timeout=5) as response:
        return response.read().decode().strip()


def test_published_containers_are_running(host):
    names = host.run("docker ps --format '{{.Names}} {{.Ports}}'").stdout
    assert "web8080" in names and "0.0.0.0:8080->80/tcp" in names
    assert "web8081" in names and "0.0.0.0:8081->80/tcp" in names
    # Inside the host both answer: the firewall, not the containers, makes the difference below.
    assert wait_for(lambda: "published" in host.run("busybox wget -qO- http://127.0.0.1:8081/").stdout, 20)


def test_allowed_source_reaches_the_published_port(address):
    assert fetch(address, 8080) == "published"


def test_other_sources_cannot_reach_the_published_port(address, attacker):
    assert attacker.run(tcp_probe_command(address, 8080)).stdout.strip() == "timeout"


def test_published_port_outside_the_allow_list_is_dropped_for_everyone(address, attacker):
    with pytest.raises(OSError):
        fetch(address, 8081)
    assert attacker.run(tcp_probe_command(address, 8081)).stdout.strip() == "timeout"


def test_containers_still_reach_out(host):
    # The forward chain leaves the containers' own traffic alone: a container opens
    # a connection to another machine's sshd.
    attacker_ip = container_ip(ATTACKER)
    result = host.run(f"docker run --rm local/busybox /bin/busybox nc -w 5 {attacker_ip} 22 </dev/null")
    assert result.stdout.startswith("SSH-2.0-"), result.stdout + result.stderr
