"""Behaviour of the hardening role, seen from the test machine and from a second (attacking) host."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest
from paas_testlib import (
    changed_tasks,
    container_ip,
    ephemeral_path,
    journal_on_failure,
    received_logs_command,
    run_playbook,
    said,
    ssh,
    tcp_probe_command,
    wait_for,
)

HOST, ATTACKER, LOGHOST = "hardening-host", "hardening-attacker", "hardening-loghost"
testinfra_hosts = [f"ansible://{HOST}"]


@pytest.fixture(scope="module")
def address():
    return container_ip(HOST)


def raw_ssh(address: str, *options: str, user: str = "alice") -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ssh", "-i", ephemeral_path("test_key"), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10",
         *options, f"{user}@{address}", "true"],
        capture_output=True, text=True, timeout=40, check=False)


def test_admin_in_allowed_group_logs_in_with_key(address):
    result = ssh(address, "alice", ephemeral_path("test_key"), "id -un")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "alice"


@pytest.mark.parametrize("user", ["root", "outsider"])
def test_root_and_users_outside_allowed_groups_are_refused_despite_a_valid_key(address, user):
    result = ssh(address, user, ephemeral_path("test_key"))
    assert result.returncode == 255
    assert "Permission denied" in result.stderr


def test_password_login_is_not_offered(address):
    result = raw_ssh(address, "-o", "PreferredAuthentications=password,keyboard-interactive",
                     "-o", "PubkeyAuthentication=no", user="pwuser")
    assert result.returncode == 255
    assert "Permission denied (publickey)" in result.stderr


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("KexAlgorithms=diffie-hellman-group14-sha1", "no matching key exchange method"),
        ("KexAlgorithms=ecdh-sha2-nistp256", "no matching key exchange method"),
        ("Ciphers=aes128-cbc", "no matching cipher"),
        # With an AEAD cipher no MAC is negotiated, so pair SHA-1 with a CTR cipher.
        ("Ciphers=aes128-ctr -o MACs=hmac-sha1", "no matching MAC"),
        ("HostKeyAlgorithms=ecdsa-sha2-nistp256", "no matching host key type"),
    ],
)
def test_weak_algorithms_are_refused(address, option, message):
    result = raw_ssh(address, *("-o " + option).split())
    assert result.returncode == 255
    assert message in result.stderr


def test_sshd_passes_ssh_audit_hardened_debian_12_policy(address):
    result = subprocess.run(["ssh-audit", "-P", "Hardened Debian 12 (version 3)", address],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "Passed" in result.stdout


def connect_from(host, address: str, port: int) -> str:
    """Try a TCP connection from a Testinfra host; 'open', 'refused' or 'timeout'."""
    return host.run(tcp_probe_command(address, port)).stdout.strip()


@pytest.fixture(scope="module")
def attacker(host):
    return host.get_host(f"ansible://{ATTACKER}", ansible_inventory=host.backend.ansible_inventory)


def test_allowed_service_is_reachable_only_from_its_sources(host, address, attacker):
    import socket

    with socket.create_connection((address, 8080), timeout=5):
        pass  # the test machine is the allowed source
    assert connect_from(attacker, address, 8080) == "timeout"


def test_port_not_in_the_allow_list_is_dropped(address, attacker):
    import socket

    with pytest.raises(OSError):
        socket.create_connection((address, 8081), timeout=3)
    assert connect_from(attacker, address, 8081) == "timeout"


def test_ruleset_is_loaded_and_checked_at_boot(host):
    assert host.service("nftables").is_enabled
    ruleset = host.run("nft list table inet paas_firewall")
    assert ruleset.rc == 0
    assert "policy drop" in ruleset.stdout


def test_kernel_baseline_is_written_for_boot(host):
    # /proc/sys is read-only in a container: the role writes the file and says it did not apply it.
    conf = host.file("/etc/sysctl.d/60-hardening.conf")
    for line in ("net.ipv4.conf.all.accept_redirects=0", "net.ipv4.tcp_syncookies=1",
                 "net.ipv4.ip_forward=0", "kernel.kptr_restrict=2", "fs.protected_symlinks=1"):
        assert conf.contains(f"^{line}$"), line


def test_repeated_failed_logins_ban_the_attacker_but_not_the_admin(host, address, attacker):
    attacker_ip = container_ip(ATTACKER)
    with journal_on_failure(host, "fail2ban"):
        for _ in range(8):  # bounded: more than maxretry (5)
            attacker.run(f"timeout 15 ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o ConnectTimeout=5 "
                         f"nosuchuser@{address} true")

        def banned():
            return attacker_ip in host.run("fail2ban-client status sshd").stdout

        assert wait_for(banned, timeout=30), host.run("fail2ban-client status sshd").stdout
        assert connect_from(attacker, address, 22) in ("refused", "timeout")
        # The administrator, from another address, still logs in.
        assert ssh(address, "alice", ephemeral_path("test_key")).returncode == 0
        # Unbanning lets the address reach sshd again. fail2ban may still be reading
        # the burst's last journal lines, which ban the address once more: unban again.

        def unbanned():
            assert host.run(f"fail2ban-client set sshd unbanip {attacker_ip}").rc == 0
            return connect_from(attacker, address, 22) == "open"

        assert wait_for(unbanned, timeout=40, interval=3)


def test_unattended_upgrades_take_security_updates_only(host):
    # The origins unattended-upgrade itself computes, from its first lines: reading on
    # would make it download every pending upgrade (its dry run does; 4 minutes here).
    out = host.run("timeout 120 unattended-upgrade --dry-run --debug 2>&1"
                   " | sed -n '/Allowed origins are:/{p;q}'").stdout
    allowed = next(line for line in out.splitlines() if "Allowed origins are:" in line)
    assert "codename=bookworm-security,label=Debian-Security" in allowed
    # The main suite ("label=Debian," without -Security) is not upgraded unattended.
    assert "label=Debian," not in allowed + ","
    assert host.service("apt-daily-upgrade.timer").is_enabled


def test_needrestart_reports_in_batch_mode(host):
    result = host.run("needrestart -b -r l")
    assert result.rc == 0
    assert "NEEDRESTART-VER:" in result.stdout


def test_login_shells_get_umask_027_and_no_core_dumps(host):
    assert host.run("su - alice -c umask").stdout.strip() == "0027"
    assert host.run("su - alice -c 'ulimit -Hc'").stdout.strip() == "0"


@pytest.mark.parametrize("module", ["cramfs", "usb-storage", "sctp"])
def test_unused_kernel_modules_cannot_be_loaded(host, module):
    assert "install /bin/false" in host.run(f"modprobe -n -v {module}").stdout


def test_only_root_may_use_cron(host):
    refused = host.run("su - alice -c 'crontab -l'")
    assert refused.rc != 0
    assert "not allowed" in refused.stderr
    assert host.file("/etc/crontab").mode == 0o600


def test_audit_rules_cover_identity_sudoers_sshd_time_and_setuid_programs(host):
    rules = host.file("/etc/audit/rules.d/60-hardening.rules").content_string
    for key in ("-k identity", "-k sudoers", "-k sshd", "-k time-change"):
        assert key in rules
    for program in ("/usr/bin/sudo", "/usr/bin/passwd"):
        assert f"-F path={program} -F perm=x" in rules
    assert host.package("auditd").is_installed
    # In a container auditd cannot run: it is left off, not failed (a failed unit alerts).
    assert host.run("systemctl is-failed --quiet auditd.service").rc != 0
    assert not host.service("auditd").is_enabled


def test_tcp_forwarding_through_sshd_is_refused(address):
    # `ssh -W` is what ProxyJump and port forwards use: the server must refuse the channel.
    result = subprocess.run(
        ["ssh", "-i", ephemeral_path("test_key"), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10",
         "-W", "127.0.0.1:22", f"alice@{address}"],
        input="", capture_output=True, text=True, timeout=40, check=False)
    assert result.returncode != 0
    assert "administratively prohibited" in result.stderr


def test_legal_banner_replaces_the_version_string(host):
    for path in ("/etc/issue", "/etc/issue.net"):
        content = host.file(path).content_string
        assert "Authorised access only" in content
        assert "Debian" not in content


def test_login_shells_time_out_when_idle_and_cannot_lift_it(host):
    result = host.run("su - alice -c 'echo $TMOUT; TMOUT=0'")
    assert result.stdout.split()[0] == "900"
    assert "readonly variable" in result.stderr


def test_only_root_may_run_the_assembler(host):
    assert host.run("as --version").rc == 0
    refused = host.run("su - alice -c 'as --version'")
    assert refused.rc == 126
    assert "Permission denied" in refused.stderr


def test_aide_reports_a_program_planted_in_a_system_directory(host):
    planted = "/usr/sbin/paas-aide-probe"
    host.run(f"printf '#!/bin/sh\\n' > {planted} && chmod 0755 {planted}")
    try:
        result = host.run("aide --config /etc/aide/aide.conf --check")
    finally:
        host.run(f"rm -f {planted}")
    assert result.rc & 1, result.stdout[-2000:]  # bit 1: files added
    assert f": {planted}" in result.stdout


def test_rkhunter_reports_a_tampered_system_binary(host):
    host.run("cp -p /usr/bin/whoami /root/whoami.orig && printf '\\n' >> /usr/bin/whoami")
    try:
        # Only the hash comparison of the properties tests (what a changed binary trips): the whole
        # properties group also runs `file` and `stat` on every watched file, a third more time.
        result = host.run("rkhunter --check --skip-keypress --nocolors --report-warnings-only --enable hashes")
    finally:
        host.run("cp -p /root/whoami.orig /usr/bin/whoami")
    assert result.rc == 1
    assert "File: /usr/bin/whoami" in result.stdout


@pytest.fixture(scope="module")
def loghost(host):
    return host.get_host(f"ansible://{LOGHOST}", ansible_inventory=host.backend.ansible_inventory)


def received(loghost, marker: str) -> list[str]:
    """Files of the paas-logtest program on the log host that hold a line with marker."""
    found = loghost.run(received_logs_command("paas-logtest", marker))
    return found.stdout.split()


def test_messages_reach_the_log_host_in_the_senders_directory(host, loghost):
    marker = f"paas-logtest-{uuid.uuid4().hex}"
    assert host.run(f"logger -t paas-logtest {marker}").rc == 0
    with journal_on_failure(loghost, "rsyslog"):
        assert wait_for(lambda: received(loghost, marker), timeout=30)
    (path,) = received(loghost, marker)
    # /var/log/remote/<sender>/<program>.log, the sender named from the connection, not the message.
    sender, program = path.split("/")[-2:]
    assert sender.split(".")[0] in (HOST, container_ip(HOST)), path
    assert program == "paas-logtest.log"
    # The log host's own files do not get the other hosts' messages.
    assert loghost.run(f"grep -rlF -- {marker} /var/log/syslog /var/log/messages").stdout == ""


def test_messages_logged_while_the_log_host_is_down_arrive_when_it_is_back(host, loghost):
    marker = f"paas-queued-{uuid.uuid4().hex}"
    # The socket too: a local message would start rsyslog again through it.
    assert loghost.run("systemctl stop syslog.socket rsyslog.service").rc == 0
    try:
        assert host.run(f"logger -t paas-logtest {marker}").rc == 0
        # The sender keeps it while the log host is down.
        assert not wait_for(lambda: received(loghost, marker), timeout=5)
    finally:
        assert loghost.run("systemctl start syslog.socket rsyslog.service").rc == 0
    assert wait_for(lambda: received(loghost, marker), timeout=90, interval=3), \
        host.run("journalctl -u rsyslog -n 20 --no-pager").stdout


def sent_to_elasticsearch(loghost, marker: str) -> list[dict]:
    """What the log host sent to the Elasticsearch stand-in (prepare.yml) holding marker: {index, document}."""
    found = loghost.run(f"grep -F -- {marker} /opt/es-standin/documents.jsonl")
    return [json.loads(line) for line in found.stdout.splitlines()]


def test_the_log_host_sends_every_message_to_elasticsearch_by_host_and_program(host, loghost):
    marker = f"paas-es-{uuid.uuid4().hex}"
    # A line as the app's web containers log it (their tag is <service>-<role>), from another host, and one
    # of the log host's own. The stand-in takes them only with the password and without a document type.
    assert host.run(f"logger -t portfolio-web {marker}").rc == 0
    assert loghost.run(f"logger -t paas-own {marker}").rc == 0
    with journal_on_failure(loghost, "rsyslog"):
        assert wait_for(lambda: len(sent_to_elasticsearch(loghost, marker)) == 2, timeout=60, interval=2), \
            loghost.run("cat /var/log/rsyslog-elasticsearch-errors.log").stdout
    sent = {item["document"]["program"]: item for item in sent_to_elasticsearch(loghost, marker)}
    web = sent["portfolio-web"]
    assert web["document"]["message"].strip() == marker
    assert web["document"]["host"].split(".")[0] in (HOST, container_ip(HOST))
    assert web["document"]["severity"] == "notice"
    day = web["document"]["@timestamp"][:10].replace("-", ".")
    assert web["index"] == f"paas-logs-{day}"
    assert sent["paas-own"]["document"]["message"].strip() == marker
    # Still filed on the log host as before.
    assert wait_for(lambda: loghost.run(received_logs_command("portfolio-web", marker)).stdout, timeout=30)
    # What Elasticsearch refuses is kept in a file, rotated with the received logs.
    rotation = loghost.run("logrotate --debug /etc/logrotate.d/paas-remote-syslog")
    assert rotation.rc == 0 and "rsyslog-elasticsearch-errors.log" in rotation.stdout + rotation.stderr, \
        rotation.stdout + rotation.stderr


def test_the_elasticsearch_password_is_in_a_root_only_file(loghost):
    config = loghost.file("/etc/rsyslog.d/10-hardening-receiver.conf")
    assert (config.user, config.mode) == ("root", 0o600)
    assert loghost.run("grep -rlF molecule-es-password /etc/rsyslog.conf /etc/rsyslog.d").stdout.split() == [
        "/etc/rsyslog.d/10-hardening-receiver.conf"]


def test_the_log_host_proves_its_name_with_a_certificate_from_the_internal_ca(host):
    # What the sender's rsyslog checks (x509/name): the chain to the internal CA and the log host's name.
    result = host.run(f"timeout 10 openssl s_client -connect {container_ip(LOGHOST)}:514 "
                      "-CAfile /etc/ssl/rsyslog/ca.crt -verify_hostname hardening-loghost -verify_return_error "
                      "-cert /etc/ssl/rsyslog/rsyslog.crt -key /etc/ssl/rsyslog/rsyslog.key < /dev/null")
    assert "Verify return code: 0 (ok)" in result.stdout, result.stdout + result.stderr


def test_the_log_host_drops_senders_without_a_certificate_from_the_internal_ca(host, loghost):
    loghost_ip = container_ip(LOGHOST)
    plain, foreign = (f"paas-logtest-{kind}-{uuid.uuid4().hex}" for kind in ("plain", "foreign"))
    host.run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
             "-subj /CN=intruder -keyout /tmp/intruder.key -out /tmp/intruder.crt")
    # Plain TCP, then TLS with a certificate the internal CA did not sign.
    host.run(f"timeout 5 bash -c 'printf \"<13>1 - intruder paas-logtest - - - {plain}\\n\" "
             f"> /dev/tcp/{loghost_ip}/514'")
    host.run(f"printf '<13>1 - intruder paas-logtest - - - {foreign}\\n' | timeout 5 openssl s_client -quiet "
             f"-connect {loghost_ip}:514 -cert /tmp/intruder.crt -key /tmp/intruder.key")
    assert not wait_for(lambda: received(loghost, plain) or received(loghost, foreign), timeout=8)


def test_only_the_inventorys_hosts_reach_the_log_host(host, attacker):
    loghost_ip = container_ip(LOGHOST)
    assert connect_from(host, loghost_ip, 514) == "open"
    assert connect_from(attacker, loghost_ip, 514) == "timeout"


def test_users_see_only_their_own_processes(host, address):
    # A real SSH login (pam_systemd registers it with logind, which keeps full view).
    seen = ssh(address, "alice", ephemeral_path("test_key"), "ps -e -o user= | sort -u; cat /proc/1/cmdline")
    assert seen.stdout.split() == ["alice"], seen.stdout
    assert "No such file" in seen.stderr  # PID 1 (root's) is not even listed
    # root still sees every process, sshd's among them.
    assert "sshd" in host.run("ps -e -o comm=").stdout
    assert host.run("loginctl list-sessions --no-legend").rc == 0


# Changes made by hand that the role owns (issue 15): each is reported by a
# check-mode run (the drift check) and undone by a converge.
ROGUE_DROPIN = "/etc/ssh/sshd_config.d/00-rogue.conf"
ROGUE_SUDOERS = "/etc/sudoers.d/99-rogue"
ROGUE_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvb1fQ4mWJ2VV8Y2bRkI4pV3kq5O8ZQ0y3m2n1p0qRs rogue@elsewhere"
OWNED_TAGS = "hardening_ssh,hardening_sudo,hardening_firewall"


def converge_owned(host, *args: str):
    # The whole converge (it reads the log host's facts), only the concerns under test.
    playbook = os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml")
    return run_playbook(host.backend.ansible_inventory, playbook, "--tags", OWNED_TAGS, *args)


def test_hand_made_changes_are_reported_in_check_mode_and_undone_by_a_converge(host):
    with host.sudo():
        host.run_expect([0], f"printf 'PasswordAuthentication yes\\nPermitRootLogin yes\\n' > {ROGUE_DROPIN}")
        host.run_expect([0], f"echo 'outsider ALL=(ALL) NOPASSWD: ALL' > {ROGUE_SUDOERS} && chmod 0440 {ROGUE_SUDOERS}")
        host.run_expect([0], f"echo '{ROGUE_KEY}' >> /root/.ssh/authorized_keys")
        host.run_expect([0], "nft insert rule inet paas_firewall input tcp dport 6379 accept")

    check = converge_owned(host, "--check", "--diff")
    assert check.returncode == 0, check.stdout[-3000:]
    reported = changed_tasks(check.stdout, HOST)
    for task in ["Remove sshd drop-ins the role does not know (sshd takes the first value it reads)",
                 "Compare them with the role's settings", "Remove the other drop-ins",
                 "Keep only the listed keys in root's authorized_keys",
                 "Compare the running firewall with the rules file"]:
        assert f"hardening : {task}" in reported, sorted(reported)
    assert '"passwordauthentication": "yes"' in check.stdout
    assert "tcp dport 6379 accept" in check.stdout
    assert host.file(ROGUE_DROPIN).exists and host.file(ROGUE_SUDOERS).exists, "check mode changed the host"

    repair = converge_owned(host)
    assert repair.returncode == 0, repair.stdout[-3000:]
    with host.sudo():
        assert not host.file(ROGUE_DROPIN).exists
        assert not host.file(ROGUE_SUDOERS).exists
        assert ROGUE_KEY not in host.file("/root/.ssh/authorized_keys").content_string
        assert "6379" not in host.check_output("nft list chain inet paas_firewall input")
        effective = host.check_output("sshd -T")
    assert "passwordauthentication no" in effective and "permitrootlogin no" in effective
    assert changed_tasks(converge_owned(host, "--check").stdout, HOST) == set()


def test_a_setting_before_the_include_line_stops_the_run_naming_it(host):
    with host.sudo():
        host.run_expect([0], "sed -i '1i PasswordAuthentication yes' /etc/ssh/sshd_config")
    try:
        result = converge_owned(host)
        assert result.returncode != 0
        assert 'passwordauthentication is "yes", wanted "no"' in said(result)
    finally:
        with host.sudo():
            host.run_expect([0], "sed -i '1{/^PasswordAuthentication yes$/d}' /etc/ssh/sshd_config")
    with host.sudo():
        assert "passwordauthentication no" in host.check_output("sshd -T")
