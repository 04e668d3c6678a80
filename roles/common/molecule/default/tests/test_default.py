"""Behaviour of the common role on real Debian 12 systemd hosts."""

import pytest
from paas_testlib import container_ip, ephemeral_path, journal_on_failure, ssh, wait_for

CLIENT = "common-host"


@pytest.fixture(scope="module")
def client(host):
    if host.backend.get_hostname() != CLIENT:
        pytest.skip(f"client-side behaviour is checked on {CLIENT}")
    return host


def test_time_is_synchronised_from_the_configured_server(client):
    def synced():
        return client.run("chronyc -n sources").stdout.count("^*") == 1

    with journal_on_failure(client, "chrony"):
        assert wait_for(synced, timeout=60, interval=2), client.run("chronyc -n sources").stdout
        tracking = client.run("chronyc tracking").stdout
        assert "Leap status     : Normal" in tracking, tracking


def test_chronyd_never_steps_the_shared_container_clock(client):
    # In a container the kernel clock is the machine's: chronyd must run with -x.
    assert "-x" in client.process.get(comm="chronyd").args


def test_time_zone_and_locale(host):
    assert host.run("date +%Z").stdout.strip() == "UTC"
    assert host.file("/etc/default/locale").contains("^LANG=en_US.UTF-8$")
    assert "en_US.utf8" in host.run("locale -a").stdout


def test_journal_is_persistent_and_capped(host):
    host.run("logger -t paas-test journald-persistence-probe")
    host.run("journalctl --flush")
    assert host.run("find /var/log/journal -name '*.journal' | grep -q .").rc == 0
    conf = host.run("systemd-analyze cat-config systemd/journald.conf").stdout
    assert "SystemMaxUse=64M" in conf
    assert host.service("systemd-journald").is_running


def test_topology_names_resolve(host):
    assert host.addr("db1.internal.test").ipv4_addresses == ["10.99.0.10"]
    assert host.addr("db1").ipv4_addresses == ["10.99.0.10"]


def test_listed_admin_logs_in_with_its_key_and_can_sudo(client):
    result = ssh(container_ip(CLIENT), "alice", ephemeral_path("admin_key"), "sudo -n id -u")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"


def test_key_not_in_the_list_is_refused(client):
    result = ssh(container_ip(CLIENT), "alice", ephemeral_path("stale_key"))
    assert result.returncode == 255
    assert "Permission denied" in result.stderr


def test_removed_admin_cannot_log_in(client):
    assert not client.user("formeradmin").exists
    assert not client.file("/home/formeradmin").exists
    result = ssh(container_ip(CLIENT), "formeradmin", ephemeral_path("admin_key"))
    assert result.returncode == 255
    assert "Permission denied" in result.stderr


def test_sudoers_grants_only_the_admin_group(client):
    assert client.user("alice").groups.count("sysadmin") == 1
    assert client.run("sudo -l -U nobody").stdout.count("(ALL") == 0
