"""Behaviour of the internal_ca role: a certificate clients verify, a CA key that never leaves the controller."""

from __future__ import annotations

import os
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from paas_testlib import ephemeral_path, run_playbook, said, wait_for

testinfra_hosts = ["ansible://internal-ca-host"]
SERVER = "/etc/ssl/test-server"
PORT = 8443


@pytest.fixture(scope="module")
def tls_server(host):
    """A real TLS server (openssl s_server) on the issued certificate, stopped afterwards."""
    host.run(f"timeout 120 openssl s_server -quiet -accept 127.0.0.1:{PORT} -cert {SERVER}/server.crt "
             f"-key {SERVER}/server.key -www > /dev/null 2>&1 &")
    assert wait_for(lambda: host.socket(f"tcp://127.0.0.1:{PORT}").is_listening, timeout=20)
    yield
    host.run(f"pkill -f 'openssl s_server -quiet -accept 127.0.0.1:{PORT}'")


def s_client(host, name: str, cafile: str | None = None):
    trust = f"-CAfile {cafile}" if cafile else ""
    return host.run(f"timeout 10 openssl s_client -connect 127.0.0.1:{PORT} -servername {name} "
                    f"-verify_hostname {name} -verify_return_error {trust} < /dev/null")


@pytest.mark.parametrize("name", ["internal-ca-host", "service.internal.test", "localhost"])
def test_a_client_verifies_the_certificate_by_each_name(host, tls_server, name):
    result = s_client(host, name, cafile=f"{SERVER}/ca.crt")
    assert result.rc == 0, result.stdout + result.stderr
    assert "Verify return code: 0 (ok)" in result.stdout


def test_a_name_the_certificate_does_not_carry_is_refused(host, tls_server):
    result = s_client(host, "db.elsewhere.test", cafile=f"{SERVER}/ca.crt")
    assert result.rc != 0
    assert "hostname mismatch" in result.stdout + result.stderr


def test_the_system_trust_store_holds_the_authority(host, tls_server):
    # No -CAfile: OpenSSL's default store, which update-ca-certificates fed.
    result = s_client(host, "internal-ca-host")
    assert result.rc == 0, result.stdout + result.stderr
    assert host.file("/etc/ssl/certs/paas-internal-ca.pem").exists


def test_the_server_key_is_private_to_its_owner(host):
    key = host.file(f"{SERVER}/server.key")
    assert (key.user, key.group, key.mode) == ("nobody", "nogroup", 0o600)
    assert host.file("/root/certificate-changed").exists, "the caller's handler was not notified"


def test_the_certificate_is_a_server_certificate_for_a_year(host):
    text = host.check_output(f"openssl x509 -in {SERVER}/server.crt -noout -text")
    assert "CA:FALSE" in text
    assert "TLS Web Server Authentication" in text
    assert "IP Address:127.0.0.1" in text
    days = host.check_output(f"openssl x509 -in {SERVER}/server.crt -noout -checkend {364 * 86400} && echo long")
    assert days.endswith("long")


def test_the_authority_key_stays_encrypted_on_the_controller(host):
    key_path = os.path.join(os.path.dirname(ephemeral_path("inventory/x")), "pki", "ca.key")
    with open(key_path, "rb") as handle:
        pem = handle.read()
    with pytest.raises(TypeError, match="encrypted"):
        serialization.load_pem_private_key(pem, password=None)
    assert serialization.load_pem_private_key(pem, password=b"molecule-test-passphrase")
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    # Nothing on the host holds a private key besides the server's own (and sshd's).
    found = host.check_output("grep -rl 'PRIVATE KEY' /etc /root /tmp --exclude-dir=ssh 2>/dev/null || true").split()
    assert found == [f"{SERVER}/server.key"]


def test_a_certificate_within_its_renewal_window_is_signed_again_with_the_same_key(host):
    # A year's certificate ends within 365 days: a run with that window signs it again (a run with
    # the default window, 30 days, kept it: the idempotence step).
    def read(command: str) -> str:
        with host.sudo():
            return host.check_output(command)

    serial = f"openssl x509 -in {SERVER}/server.crt -noout -serial"
    public_key = f"openssl pkey -in {SERVER}/server.key -pubout"
    before = read(serial), read(public_key)
    playbook = os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml")
    run = run_playbook(host.backend.ansible_inventory, playbook, "-e", "internal_ca_renew_days=365")
    assert run.returncode == 0, said(run)
    assert "changed: [internal-ca-host] => (item=/etc/ssl/test-server/server.crt)" in run.stdout
    assert read(serial) != before[0], "the certificate was not signed again"
    assert read(public_key) == before[1], "the key was replaced"
    verified = read(f"openssl verify -CAfile {SERVER}/ca.crt {SERVER}/server.crt")
    assert verified.endswith(": OK")
