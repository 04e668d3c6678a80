"""Failed SSH logins counted per host from the central log (the receiver's per-host files) and the
log host's own auth.log; accepted logins not counted; new senders picked up; private address only."""

from __future__ import annotations

import pytest
from paas_testlib import assert_listens_only_on, default_address, fetch_metrics, wait_for

testinfra_hosts = ["ansible://hardening-loghost"]
PORT = 3904
# As the central receiver writes them (roles/hardening): RFC 3339 time, host, "sshd[PID]" without
# syslog's colon, the message.
FAILED = "sshd[{pid}] Connection closed by authenticating user root 10.0.0.9 port {pid} [preauth]"
INVALID = "sshd[{pid}] Connection closed by invalid user admin 10.0.0.9 port {pid} [preauth]"
ACCEPTED = "sshd[{pid}] Accepted publickey for debian from 10.0.0.9 port {pid} ssh2: ED25519 SHA256:x"


@pytest.fixture(scope="module")
def address(host) -> str:
    return default_address(host)


def failed(address: str) -> dict[str, float]:
    return {key.split('host="')[1].split('"')[0]: value for key, value in scrape(address).items()
            if key.startswith("ssh_failed_logins_total{")}


def scrape(address: str) -> dict[str, float]:
    return fetch_metrics(f"http://{address}:{PORT}/metrics")


def received(host, address: str, sender: str, *lines: str) -> None:
    """Append lines to a sender's sshd log as the central receiver writes it (0640 root:adm). A new
    sender's file is read from where it stands when mtail finds it (within seconds of its creation):
    the first line is one sshd logs anyway, repeated until mtail has read a line of the file."""
    path = f"/var/log/remote/{sender}/sshd.log"
    host.run(f"install -d -m 0750 -g adm /var/log/remote/{sender} && touch {path} && "
             f"chgrp adm {path} && chmod 0640 {path}")

    listening = f"2026-12-02T06:39:59.000000+00:00 {sender.split('.')[0]} sshd[7] Server listening on 0.0.0.0 port 22."

    def watched() -> bool:
        host.run(f"echo '{listening}' >> {path}")
        return scrape(address).get(f'mtail_log_lines_total{{logfile="{path}"}}', 0) > 0

    assert wait_for(watched, timeout=30, interval=1), f"mtail never read {path}"
    for number, line in enumerate(lines):
        text = f"2026-12-02T06:40:0{number}.000000+00:00 {sender.split('.')[0]} " + line.format(pid=4000 + number)
        assert host.run(f"echo '{text}' >> {path}").rc == 0


def test_failed_logins_are_counted_under_their_host(host, address):
    before = failed(address)
    received(host, address, "db9.example.internal", FAILED, INVALID, ACCEPTED)
    received(host, address, "web9", FAILED)

    def grown() -> dict:
        now = failed(address)
        return {h: now.get(h, 0) - before.get(h, 0) for h in ("db9", "web9")}

    assert wait_for(lambda: grown() == {"db9": 2, "web9": 1}, timeout=20), grown()


def test_the_log_hosts_own_failures_are_counted_from_syslog(host, address):
    name = host.check_output("hostname")
    before = failed(address).get("hardening-loghost", 0)
    line = "Connection closed by authenticating user root 10.0.0.9 port 5 [preauth]"
    assert host.run(f"logger -p auth.info -t sshd --id=4242 '{line}'").rc == 0
    assert wait_for(lambda: failed(address).get("hardening-loghost", 0) == before + 1, timeout=20), \
        (name, failed(address))


def test_it_listens_on_the_private_address_only_and_runs_as_mtail(host, address):
    assert_listens_only_on(host, address, PORT)
    assert host.check_output("ps -o user= -C mtail").split() == ["mtail"]
