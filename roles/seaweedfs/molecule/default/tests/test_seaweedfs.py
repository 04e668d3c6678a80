"""Behaviour of the seaweedfs role: a signed S3 API over TLS on the private address, nothing else exposed.

Requests go from the test machine over the network, as a backup client's do, with
curl's SigV4 signing, to the name in the certificate (--resolve) and verified
against the internal CA.
"""

from __future__ import annotations

import hashlib
import subprocess
import uuid

import pytest
from paas_testlib import default_address, ephemeral_path, wait_for

testinfra_hosts = ["ansible://seaweedfs-host"]

NAME = "seaweedfs-host"
BACKUPS = ("AKBACKUPSTEST", "backups-test-secret-key")
FILES = ("AKFILESTEST", "files-test-secret-key-0")


@pytest.fixture(scope="module")
def address(host):
    return default_address(host)


@pytest.fixture(scope="module")
def cafile(host):
    path = ephemeral_path("seaweedfs-ca.crt")
    with open(path, "w", encoding="ascii") as out:
        out.write(host.file("/etc/seaweedfs/tls/ca.crt").content_string)
    return path


def s3(address, cafile, method, path, keys=BACKUPS, data=None, scheme="https"):
    """(HTTP status, body) of one request to the S3 API; status 0 when no HTTP answer came."""
    command = ["curl", "-sS", "--max-time", "15", "-o", "-", "-w", "\n%{http_code}", "-X", method,
               "--resolve", f"{NAME}:8333:{address}", "--cacert", cafile]
    if keys:
        command += ["--aws-sigv4", "aws:amz:us-east-1:s3", "--user", f"{keys[0]}:{keys[1]}"]
    if data is not None:
        # curl 7.88 signs a body only when told its hash.
        command += ["--data-binary", data, "-H", f"x-amz-content-sha256: {hashlib.sha256(data.encode()).hexdigest()}"]
    done = subprocess.run([*command, f"{scheme}://{NAME}:8333/{path}"], capture_output=True, text=True,
                          timeout=30, check=False)
    body, _, status = done.stdout.rpartition("\n")
    return int(status or 0), body


def test_a_signed_upload_reads_back_over_verified_tls(address, cafile):
    key = f"backups/probe-{uuid.uuid4().hex}"
    assert s3(address, cafile, "PUT", key, data="restore me")[0] == 200
    assert s3(address, cafile, "GET", key) == (200, "restore me")
    assert s3(address, cafile, "DELETE", key)[0] == 204


def test_a_wrong_secret_is_refused(address, cafile):
    status, body = s3(address, cafile, "GET", "backups/", keys=(BACKUPS[0], "not-the-secret-key"))
    assert status == 403, body
    assert "SignatureDoesNotMatch" in body


def test_an_unsigned_request_is_refused(address, cafile):
    assert s3(address, cafile, "GET", "backups/", keys=None)[0] == 403
    assert s3(address, cafile, "PUT", "backups/anonymous", keys=None, data="x")[0] == 403


def test_an_identity_cannot_use_another_identitys_bucket(address, cafile):
    assert s3(address, cafile, "GET", "files/", keys=FILES)[0] == 200
    assert s3(address, cafile, "GET", "files/", keys=BACKUPS)[0] == 403
    assert s3(address, cafile, "PUT", "backups/intruder", keys=FILES, data="x")[0] == 403


def test_a_certificate_from_another_ca_is_not_trusted(address):
    # The system's public CAs do not vouch for the endpoint: only the internal CA does.
    status, _ = s3(address, "/etc/ssl/certs/ca-certificates.crt", "GET", "backups/")
    assert status == 0


def test_plain_http_gets_no_data(address, cafile):
    status, body = s3(address, cafile, "GET", "backups/", scheme="http")
    assert status in (0, 400)
    assert "ListBucketResult" not in body


def test_master_volume_and_filer_listen_on_the_loopback_only(host, address):
    # (The S3 API's own gRPC port, 18333, follows the S3 address: the firewall admits only 8333.)
    assert host.socket(f"tcp://{address}:8333").is_listening
    for port in (9333, 19333, 8080, 18080, 8888, 18888):
        assert host.socket(f"tcp://127.0.0.1:{port}").is_listening, port
        assert not host.socket(f"tcp://{address}:{port}").is_listening, port
        assert not host.socket(f"tcp://0.0.0.0:{port}").is_listening, port


def test_the_keys_file_is_closed_to_others(host):
    keys = host.file("/etc/seaweedfs/s3.json")
    assert (keys.user, keys.group, keys.mode) == ("root", "seaweedfs", 0o640)
    assert host.process.filter(comm="weed")[0].user == "seaweedfs"


def test_buckets_and_objects_survive_a_restart(host, address, cafile):
    key = f"files/kept-{uuid.uuid4().hex}"
    assert s3(address, cafile, "PUT", key, keys=FILES, data="kept")[0] == 200
    host.run_expect([0], "systemctl restart seaweedfs.service")
    assert wait_for(lambda: s3(address, cafile, "GET", key, keys=FILES) == (200, "kept"), timeout=60)
    listing = host.run("echo s3.bucket.list | /usr/local/bin/weed shell -master=127.0.0.1:9333").stdout
    assert "backups\tsize:" in listing and "files\tsize:" in listing
