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


def test_a_refresh_of_the_package_lists_is_what_cache_valid_time_measures(host):
    # Lists refreshed two hours ago, then a refresh: the stamp the apt module
    # reads for cache_valid_time moves on even when the mirror is unchanged
    # (the lists directory's own mtime, its fallback, would not), so the
    # roles' next checks in the same run do not refresh again.
    stamp = "/var/lib/apt/periodic/update-success-stamp"
    with host.sudo():
        host.run_expect([0], f"touch -d '-2 hours' {stamp}")
        host.run_expect([0], "apt-get -q update")
        stamp_age = int(host.run(f"echo $(( $(date +%s) - $(stat -c %Y {stamp}) ))").stdout)
    assert stamp_age < 120
