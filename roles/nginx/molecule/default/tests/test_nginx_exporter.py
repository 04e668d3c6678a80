"""The load balancer's exporters: nginx's connection counters, and from its access log the
requests by status and their durations in a histogram (the SLOs' source), both served over TLS
only on the private address (nginx in front, a certificate from the internal CA), and still
counting after the log is rotated."""

from __future__ import annotations

import re
import subprocess

import pytest
from paas_testlib import assert_https_only, fetch_metrics, tls_version_accepted, wait_for

testinfra_hosts = ["ansible://nginx-lb"]
ADDRESS, SITE = "10.83.0.10", "paas.test"
EXPORTER, LOG_READER = 9113, 3903
CA: dict[str, str] = {}


@pytest.fixture(scope="module", autouse=True)
def internal_ca(host):
    """The internal CA's certificate, which Prometheus verifies the exporters' certificate against."""
    CA["pem"] = host.file("/etc/nginx/metrics-tls/ca.crt").content_string


def scrape(port: int) -> dict[str, float]:
    """Scrape from the test machine, as Prometheus does: https on the private address, verified."""
    return fetch_metrics(f"https://{ADDRESS}:{port}/metrics", cadata=CA["pem"])


def settled() -> dict[str, float]:
    """The log reader's series once it has read every line logged so far. mtail reads the log a
    moment after nginx writes it (more than a second on a loaded machine): one marker request (418,
    which no test asks for otherwise) is sent, and once mtail has counted it, it has read every
    line before it, the log being read in order."""
    marked = sample(scrape(LOG_READER), "nginx_http_requests_total", status="418")
    assert get("/teapot") == 418
    assert wait_for(lambda: sample(scrape(LOG_READER), "nginx_http_requests_total", status="418") == marked + 1,
                    timeout=30), "mtail never counted the marker request"
    return scrape(LOG_READER)


def sample(samples: dict[str, float], name: str, **labels: str) -> float:
    """The value of the one series of name with these labels (others ignored), 0 when absent."""
    found = [value for key, value in samples.items()
             if key.split("{")[0] == name and all(f'{k}="{v}"' in key for k, v in labels.items())]
    assert len(found) <= 1, (name, labels, found)
    return found[0] if found else 0.0


def get(path: str) -> int:
    """One HTTPS request to the site through the load balancer, from the test machine; its status."""
    done = subprocess.run(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                           "--resolve", f"{SITE}:443:{ADDRESS}", f"https://{SITE}{path}"],
                          capture_output=True, text=True, timeout=20, check=False)
    return int(done.stdout or 0)


def test_nginx_counters_are_exported():
    before = scrape(EXPORTER)
    assert before["nginx_up"] == 1.0
    for _ in range(3):
        assert get("/up") == 200
    after = scrape(EXPORTER)
    assert after["nginx_http_requests_total"] >= before["nginx_http_requests_total"] + 3
    assert after["nginx_connections_accepted"] >= before["nginx_connections_accepted"] + 3


def test_requests_are_counted_by_status_and_timed_into_buckets():
    before = settled()
    statuses = [get("/up") for _ in range(5)] + [get("/slow") for _ in range(2)] + [get("/fail") for _ in range(2)]
    assert statuses == [200] * 7 + [500] * 2
    histogram = "nginx_http_request_duration_seconds"
    series = {  # (name, labels) -> growth expected
        ("nginx_http_requests_total", (("status", "200"),)): 7,
        ("nginx_http_requests_total", (("status", "500"),)): 2,
        (f"{histogram}_count", (("status_class", "2xx"),)): 7,
        (f"{histogram}_count", (("status_class", "5xx"),)): 2,
        # The fast pages are within the brief's 500 ms; the slow ones (0.6 s) only in the next bucket.
        (f"{histogram}_bucket", (("status_class", "2xx"), ("le", "0.5"))): 5,
        (f"{histogram}_bucket", (("status_class", "2xx"), ("le", "1"))): 7,
        (f"{histogram}_bucket", (("status_class", "2xx"), ("le", "+Inf"))): 7,
    }

    def growth() -> dict:
        now = scrape(LOG_READER)
        return {key: sample(now, key[0], **dict(key[1])) - sample(before, key[0], **dict(key[1])) for key in series}

    assert wait_for(lambda: growth() == series, timeout=15), growth()


def test_a_forged_field_in_the_request_is_not_counted():
    before = settled()
    # The URI carries text shaped like the log's own fields; nginx escapes its quotes.
    assert get('/up?x=",\"status\":599,\"request_time\":9.999,') in (200, 400)
    assert wait_for(lambda: sum(sample(scrape(LOG_READER), "nginx_http_requests_total", status=code)
                                - sample(before, "nginx_http_requests_total", status=code)
                                for code in ("200", "400")) == 1, timeout=15)
    assert sample(scrape(LOG_READER), "nginx_http_requests_total", status="599") == 0


def test_counting_goes_on_after_the_log_is_rotated(host):
    assert host.run("logrotate -f /etc/logrotate.d/nginx-paas").rc == 0
    before = settled()
    for _ in range(3):
        assert get("/up") == 200
    assert wait_for(lambda: sample(scrape(LOG_READER), "nginx_http_requests_total", status="200")
                    - sample(before, "nginx_http_requests_total", status="200") == 3, timeout=30)


@pytest.mark.parametrize("port", [EXPORTER, LOG_READER])
def test_each_is_served_over_tls_on_the_private_address_only_and_listens_on_the_loopback(host, port):
    listening = {line.split()[3]: line for line in host.check_output(f"ss -Hltnp 'sport = :{port}'").splitlines()}
    assert set(listening) == {f"{ADDRESS}:{port}", f"127.0.0.1:{port}"}, listening
    assert '"nginx"' in listening[f"{ADDRESS}:{port}"]          # nginx terminates TLS there
    assert '"nginx"' not in listening[f"127.0.0.1:{port}"]      # the exporter itself, behind it


@pytest.mark.parametrize("port", [EXPORTER, LOG_READER])
def test_plain_http_and_a_client_trusting_another_ca_are_refused(port):
    assert_https_only(f"https://{ADDRESS}:{port}/metrics")


def test_tls_older_than_1_2_is_refused(host):
    assert tls_version_accepted(host, ADDRESS, EXPORTER, "tls1_2")
    assert not tls_version_accepted(host, ADDRESS, EXPORTER, "tls1_1")


def test_the_log_reader_runs_unprivileged_and_reads_only_through_the_adm_group(host):
    assert host.user("mtail").groups and "adm" in host.user("mtail").groups
    user = host.check_output("ps -o user= -C mtail").split()
    assert user == ["mtail"], user
    assert re.fullmatch(r"-rw-r-----", host.check_output("stat -c %A /var/log/nginx/access.json"))
