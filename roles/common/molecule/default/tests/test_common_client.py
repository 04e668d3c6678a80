"""Behaviour seen on the client host: time from the scenario's NTP server, administrators' logins."""

from paas_testlib import container_ip, ephemeral_path, journal_on_failure, ssh, wait_for

CLIENT = "common-host"
testinfra_hosts = [f"ansible://{CLIENT}"]


def test_time_is_synchronised_from_the_configured_server(host):
    def synced():
        return host.run("chronyc -n sources").stdout.count("^*") == 1

    with journal_on_failure(host, "chrony"):
        assert wait_for(synced, timeout=60, interval=2), host.run("chronyc -n sources").stdout
        tracking = host.run("chronyc tracking").stdout
        assert "Leap status     : Normal" in tracking, tracking


def test_chronyd_never_steps_the_shared_container_clock(host):
    # In a container the kernel clock is the machine's: chronyd must run with -x.
    processes = host.process.filter(comm="chronyd")
    assert processes
    assert all("-x" in p.args.split() for p in processes)


def test_listed_admin_logs_in_with_its_key_and_can_sudo(host):
    result = ssh(container_ip(CLIENT), "alice", ephemeral_path("admin_key"), "sudo -n id -u")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"


def test_key_not_in_the_list_is_refused(host):
    result = ssh(container_ip(CLIENT), "alice", ephemeral_path("stale_key"))
    assert result.returncode == 255
    assert "Permission denied" in result.stderr


def test_removed_admin_cannot_log_in(host):
    assert not host.user("formeradmin").exists
    assert not host.file("/home/formeradmin").exists
    result = ssh(container_ip(CLIENT), "formeradmin", ephemeral_path("admin_key"))
    assert result.returncode == 255
    assert "Permission denied" in result.stderr


def test_sudoers_grants_only_the_admin_group(host):
    assert host.user("alice").groups.count("sysadmin") == 1
    assert host.run("sudo -l -U nobody").stdout.count("(ALL") == 0
