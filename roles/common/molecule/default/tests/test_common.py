"""Behaviour of the common role on every host of the scenario."""


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
