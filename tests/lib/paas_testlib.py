"""Helpers shared by every Testinfra suite (on PYTHONPATH via the Molecule base config).

Everything here is bounded: waits take a timeout, SSH takes a connect timeout.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import importlib.util
import json
import os
import re
import shlex
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

import yaml


def wait_for(probe: Callable[[], bool], timeout: float = 30.0, interval: float = 1.0) -> bool:
    """Call probe until it returns true or timeout seconds pass; return the last result."""
    deadline = time.monotonic() + timeout
    while True:
        if probe():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def journal(host, unit: str, lines: int = 40) -> str:
    """Last lines of a unit's journal on a Testinfra host, for failure messages."""
    return host.run(f"journalctl -u {unit} -n {lines} --no-pager").stdout


@contextmanager
def journal_on_failure(host, unit: str):
    """Print the unit's journal when the wrapped assertions fail, then re-raise."""
    try:
        yield
    except AssertionError:
        print(f"--- journalctl -u {unit} on {host.backend.get_hostname()} ---")
        print(journal(host, unit))
        raise


def ephemeral_path(name: str) -> str:
    """Path of a file in the scenario's Molecule ephemeral directory."""
    return os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], name)


def container_ip(name: str) -> str:
    """First IP address Docker gave the named container."""
    out = subprocess.run(
        ["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", name],
        check=True, capture_output=True, text=True, timeout=30,
    ).stdout.split()
    return out[0]


def network_bridge(network: str) -> str:
    """This machine's bridge device for a Docker network ("br-" and the first 12 digits of its id)."""
    network_id = subprocess.run(["docker", "network", "inspect", "-f", "{{.Id}}", network],
                                check=True, capture_output=True, text=True, timeout=30).stdout.strip()
    return f"br-{network_id[:12]}"


def ssh(address: str, user: str, key: str, command: str = "true", timeout: int = 10,
        stdin: str | None = None) -> subprocess.CompletedProcess:
    """Log in over SSH from the test machine with only the given key, as a real user would.
    A secret the command needs goes in stdin, never in the command (the host's process list)."""
    return subprocess.run(
        [
            "ssh", "-i", key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", f"ConnectTimeout={timeout}", "-o", "LogLevel=ERROR",
            f"{user}@{address}", command,
        ],
        capture_output=True, text=True, timeout=timeout + 20, input=stdin,
    )


def tcp_probe_command(address: str, port: int, timeout: float = 3.0) -> str:
    """Shell command that tries one TCP connection and prints 'open', 'refused' or 'timeout'.

    'refused' means the packet reached the host and nothing listens (allowed by its
    firewall); 'timeout' means it was dropped on the way (a firewall's drop policy).
    """
    script = (
        "import socket\n"
        f"s=socket.socket(socket.AF_INET6 if ':' in '{address}' else socket.AF_INET); s.settimeout({timeout})\n"
        f"try:\n s.connect(('{address}',{int(port)})); print('open')\n"
        "except ConnectionRefusedError: print('refused')\n"
        "except OSError: print('timeout')\n"
    )
    return f'python3 -c "{script}"'


PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
                   "offset", "inf", "nan"}


def promql_metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (not its functions, keywords, label names or
    recording rules, whose names hold a colon): enough to check a dashboard against what the
    exporters provide."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)                # string literals
    text = re.sub(r"\{[^}]*\}", " ", text)                           # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)                          # ranges and subqueries
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        name, rest = match.group(0), text[match.end():].lstrip()
        if rest.startswith("(") or name.lower() in PROMQL_KEYWORDS or ":" in name:
            continue
        if match.start() and (text[match.start() - 1].isdigit() or text[match.start() - 1] == "."):
            continue                                                    # 1e3, 0.5 and the like
        names.add(name)
    return names


def tls_version_accepted(host, address: str, port: int, version: str) -> bool:
    """Whether a TLS handshake of one version (openssl s_client's flag: tls1_1, tls1_2) with address:port
    succeeds from a test host. OpenSSL's client offers TLS 1.1 only at security level 0, so that is asked
    for: the same client gets TLS 1.2 from a server that allows it."""
    out = host.run(f"echo | timeout 10 openssl s_client -connect {address}:{port} -{version} "
                   "-cipher DEFAULT@SECLEVEL=0 2>&1")
    return "Cipher is (NONE)" not in out.stdout and out.rc == 0


def assert_https_only(url: str) -> None:
    """An https URL is refused over plain HTTP (the server's 400 "sent to an HTTPS server", or no
    answer at all from a server that expects a handshake) and to a client trusting another CA
    (the controller's own trust store, which does not hold the internal CA)."""
    plain = "http://" + url.removeprefix("https://")
    try:
        urllib.request.urlopen(plain, timeout=5)
        raise AssertionError(f"{plain} answered over plain HTTP")
    except urllib.error.HTTPError as refused:
        assert refused.code == 400, f"{plain}: {refused.code}"
    except (urllib.error.URLError, ConnectionError, http.client.HTTPException):
        pass
    try:
        urllib.request.urlopen(url, timeout=5, context=ssl.create_default_context())  # noqa: S310
        raise AssertionError(f"{url} was trusted by a client without the internal CA")
    except urllib.error.URLError as refused:
        assert "CERTIFICATE_VERIFY_FAILED" in str(refused.reason), refused


def assert_listens_only_on(host, address: str, port: int) -> None:
    """A service on a test host listens on address:port and on no other address (not the
    wildcard, not the loopback): an exporter meant for the private network only."""
    listening = host.check_output(f"ss -Hltn 'sport = :{port}'")
    assert f"{address}:{port}" in listening, listening
    assert f"0.0.0.0:{port}" not in listening and f"127.0.0.1:{port}" not in listening and "*:" not in listening


def received_logs_command(program: str, marker: str, directory: str = "/var/log/remote") -> str:
    """Shell command, run on a log host, that lists the received log files of program
    (<directory>/<sender>/<program>.log) holding a line with marker, one per line."""
    return f"grep -rlF --include={program}.log -- {marker} {directory}"


def said(proc: subprocess.CompletedProcess) -> str:
    """What a command (a playbook run) printed, stdout and stderr, with line breaks and indents folded
    to spaces: Ansible wraps long messages."""
    return " ".join((proc.stdout + proc.stderr).split())


def prometheus_samples(text: str) -> dict[str, float]:
    """Samples of a Prometheus text exposition (a textfile or a /metrics page): 'name{labels}' -> value."""
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line.strip() and not line.startswith("#")}


def registry_samples(registry) -> dict[str, float]:
    """Samples of a prometheus_client registry, as prometheus_samples reads them from its text."""
    from prometheus_client import generate_latest
    return prometheus_samples(generate_latest(registry).decode())


def default_address(host) -> str:
    """A test host's address on its network (Ansible's default IPv4 fact): where the controller and the
    scenario's other hosts reach its services."""
    return host.ansible("setup", "filter=ansible_default_ipv4")["ansible_facts"]["ansible_default_ipv4"]["address"]


def fetch_metrics(url: str, timeout: float = 10, cadata: str | None = None) -> dict[str, float]:
    """Samples of an exporter's page (Prometheus text format), fetched from the controller; over https
    verified against cadata (a CA certificate in PEM) when given, else the controller's trust store."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"fetch_metrics: not an http(s) URL: {url}")
    context = ssl.create_default_context(cadata=cadata) if cadata else None
    with urllib.request.urlopen(url, timeout=timeout, context=context) as response:  # noqa: S310 - http(s) only
        return prometheus_samples(response.read().decode())


def python_command(script: str) -> str:
    """Shell command that runs a Python script on a test host with no quoting to get wrong
    (the script travels base64-encoded)."""
    encoded = base64.b64encode(script.encode()).decode()
    return f"echo {encoded} | base64 -d | python3"


def psql_command(address: str, database: str, user: str, sql: str, port: int = 6432, options: str = "-A -t") -> str:
    """Shell command that runs one SQL statement with psql as user (through pgbouncer's port by default).
    The password is read from standard input (give it as stdin=password + "\\n"), never in the command:
    a command line shows in the host's process list and in sudo's log."""
    return ("read -r PGPASSWORD && export PGPASSWORD && "
            f"psql -X {options} 'host={address} port={int(port)} dbname={database} user={user} connect_timeout=5' "
            f"-c {shlex.quote(sql)}")


def pg_auth_probe_command(address: str, user: str, database: str, port: int = 5432, timeout: float = 5.0) -> str:
    """Shell command that opens a PostgreSQL connection (TLS when offered) and prints the
    server's first answer to the startup message: 'auth CODE MECHANISMS' (an authentication
    request: 3 cleartext, 5 md5, 10 SASL with its mechanisms) or 'error MESSAGE' (refused).
    It never sends a password, so it shows what a client would have to speak to get in.
    """
    script = f"""
import socket, ssl, struct
s = socket.create_connection(({address!r}, {int(port)}), timeout={timeout})
s.sendall(struct.pack('!ii', 8, 80877103))
if s.recv(1) == b'S':
    ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
    s = ctx.wrap_socket(s)
body = struct.pack('!i', 196608) + b'user\\0{user}\\0database\\0{database}\\0\\0'
s.sendall(struct.pack('!i', len(body) + 4) + body)
kind, size = s.recv(1), struct.unpack('!i', s.recv(4))[0]
data = b''
while len(data) < size - 4:
    data += s.recv(size - 4 - len(data))
if kind == b'R':
    code = struct.unpack('!i', data[:4])[0]
    print('auth', code, ','.join(m.decode() for m in data[4:].split(b'\\0') if m))
else:
    fields = dict((f[:1].decode(), f[1:].decode()) for f in data.split(b'\\0') if f)
    print('error', fields.get('M', ''))
"""
    return python_command(script)


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SANDBOX_INVENTORY = "inventories/sandbox"
# The sandbox's public demo identity. ansible.cfg loads no vault identity: each
# command names its inventory's, as an operator's would.
SANDBOX_VAULT_ID = "sandbox@inventories/sandbox/DEMO-vault-password.txt"


def vault_args(inventory) -> list[str]:
    """The --vault-id option a project inventory needs: the sandbox's demo identity for an inventory
    with the sandbox's group_vars (the sandbox, or a copy with its hosts regrouped, as after a failover),
    nothing for a Molecule scenario's inventory (no vault there)."""
    def group_vars(path: str) -> str:
        return os.path.realpath(os.path.join(ROOT, str(path), "group_vars"))
    return ["--vault-id", SANDBOX_VAULT_ID] if group_vars(inventory) == group_vars(SANDBOX_INVENTORY) else []


def run_playbook(inventory: str, name: str, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run one of the project's playbooks (playbooks/NAME, or an absolute path such as a scenario's
    converge.yml) against an inventory (a scenario's, or one of the project's such as
    inventories/sandbox), as an operator would from the project root: with the scenario's Ansible
    configuration under Molecule, else the project's ansible.cfg. Prints the output's tail on failure."""
    root = ROOT
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="false", NO_COLOR="1")
    if os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY"):
        env["ANSIBLE_CONFIG"] = ephemeral_path("ansible.cfg")
    argv = ["ansible-playbook", "-i", str(inventory), *vault_args(inventory),
            os.path.join(root, "playbooks", name), *args]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, env=env, cwd=root)
    if proc.returncode != 0:
        print(proc.stdout[-6000:], proc.stderr[-2000:])
    return proc


def changed_tasks(output: str, host: str) -> set[str]:
    """Names of the tasks ("role : name") that reported changed for host in ansible-playbook's
    default output (also in check mode, where "changed" means "would change")."""
    changed, task = set(), None
    for line in output.splitlines():
        if line.startswith(("TASK [", "RUNNING HANDLER [")):
            task = line.split("[", 1)[1].rsplit("]", 1)[0]
        elif task and line.startswith(f"changed: [{host}]"):
            changed.add(task)
    return changed


def inventory_vault(inventory: str) -> dict:
    """The decrypted group_vars/all/vault.yml of a project inventory (the sandbox's demo vault)."""
    out = subprocess.run(["ansible-vault", "view", *vault_args(inventory),
                          os.path.join(inventory, "group_vars", "all", "vault.yml")],
                         cwd=ROOT, check=True, capture_output=True, text=True, timeout=60).stdout
    return yaml.safe_load(out)


def inventory_host(inventory: str, host: str) -> dict:
    """The variables of one host of a project inventory (e.g. inventories/sandbox), as Ansible sees them."""
    out = subprocess.run(["ansible-inventory", "-i", inventory, *vault_args(inventory), "--host", host],
                         cwd=ROOT, check=True, capture_output=True, text=True, timeout=60).stdout
    return json.loads(out)


def load_script(path: str):
    """A repository script (e.g. scripts/check-tags.py, whose name is no module name) loaded as a module."""
    spec = importlib.util.spec_from_file_location(os.path.basename(path).removesuffix(".py").replace("-", "_"),
                                                  os.path.join(ROOT, path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the script runs
    spec.loader.exec_module(module)
    return module


# The roots of the sandbox's ACME server (sandbox/acme.yml), which issues the site's certificate:
# what a browser's trust store is for Let's Encrypt's.
SANDBOX_SITE_CA = os.path.join(ROOT, ".sandbox", "acme", "roots.pem")


def site_tls(address: str, site: str, timeout: float = 15) -> ssl.SSLSocket:
    """A TLS connection to port 443 of a load balancer's address for the sandbox's site: the site's
    name as SNI, its certificate verified for that name against SANDBOX_SITE_CA."""
    context = ssl.create_default_context(cafile=SANDBOX_SITE_CA)
    return context.wrap_socket(socket.create_connection((address, 443), timeout=timeout), server_hostname=site)


def rails_cookie_payload(cookie: str, secret_key_base: str) -> str | None:
    """The JSON inside a Rails 6.1 encrypted cookie ("name=value" as Set-Cookie gives it) when it was
    encrypted with a key derived from secret_key_base (PBKDF2-HMAC-SHA1, 1000 rounds, the encrypted
    cookie salt, AES-256-GCM), else None. Checked against Rails itself in the demo app's image."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    data, iv, tag = (base64.b64decode(part) for part in urllib.parse.unquote(cookie.split("=", 1)[1]).split("--"))
    key = hashlib.pbkdf2_hmac("sha1", secret_key_base.encode(), b"authenticated encrypted cookie", 1000, 32)
    try:
        return AESGCM(key).decrypt(iv, data + tag, b"").decode()
    except InvalidTag:
        return None


def site_request(address: str, site: str, method: str = "GET", path: str = "/", body: bytes = b"",
                 headers: dict | None = None, timeout: float = 15) -> tuple[int, dict, str]:
    """One HTTPS request for the sandbox's site through a load balancer (site_tls): the status, the
    headers (names in lower case) and the body."""
    conn = http.client.HTTPSConnection(site, 443, timeout=timeout)
    conn.sock = site_tls(address, site, timeout)
    try:
        conn.request(method, path, body=body, headers={"Host": site, **(headers or {})})
        response = conn.getresponse()
        return (response.status, {k.lower(): v for k, v in response.getheaders()},
                response.read().decode(errors="replace"))
    finally:
        conn.close()


@dataclass
class Traffic:
    """What a k6 run of steady_traffic measured (filled in when the block ends)."""

    requests: int = 0
    failed: int = 0
    slowest: float = 0.0   # seconds, the longest request
    output: str = ""
    # The JSON lines the script logged with console.log (write-traffic.js: one per attempted write).
    log: list[dict] = field(default_factory=list)


@contextmanager
def steady_traffic(site: str, address: str, max_seconds: int, vus: int = 2, script: str = "steady-traffic.js",
                   **script_env: str):
    """k6 running one of tests/sandbox/k6/'s scripts (by default steady-traffic.js: bounded, steady reads) against
    a sandbox site through its load balancer while the block runs, the certificate verified against
    SANDBOX_SITE_CA; stopped when the block ends (at the latest after max_seconds). script_env is passed to the
    script as environment (-e NAME=VALUE). Yields a Traffic with the requests sent and failed, and the lines
    the script logged."""
    fd, summary = tempfile.mkstemp(prefix="k6-summary-", suffix=".json")
    os.close(fd)
    fd, console = tempfile.mkstemp(prefix="k6-console-", suffix=".jsonl")
    os.close(fd)
    traffic = Traffic()
    script_args = [arg for name, value in script_env.items() for arg in ("-e", f"{name}={value}")]
    k6 = subprocess.Popen(
        [os.path.join(ROOT, ".venv/bin/k6"), "run", "--quiet", "--summary-export", summary,
         "--console-output", console, "--log-format", "raw",
         "-e", f"SITE={site}", "-e", f"LB_ADDRESS={address}", "-e", f"MAX_SECONDS={max_seconds}",
         "-e", f"VUS={vus}", *script_args, "--address", "127.0.0.1:0",
         os.path.join(ROOT, "tests/sandbox/k6", script)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=dict(os.environ, SSL_CERT_FILE=SANDBOX_SITE_CA))
    try:
        yield traffic
    finally:
        if k6.poll() is None:
            k6.send_signal(signal.SIGINT)
        traffic.output = k6.communicate(timeout=60)[0]
    with open(summary, encoding="utf-8") as f:
        metrics = json.load(f)["metrics"]
    with open(console, encoding="utf-8") as f:
        traffic.log = [json.loads(line) for line in f if line.startswith("{")]
    os.unlink(summary)
    os.unlink(console)
    traffic.requests = int(metrics["http_reqs"]["count"])
    traffic.failed = int(metrics["http_req_failed"]["passes"])   # passes of the "failed" rate = failed requests
    traffic.slowest = float(metrics["http_req_duration"]["max"]) / 1000


def prometheus_query(address: str, key: str, expr: str) -> list[dict]:
    """An instant query to the Prometheus listening on the loopback of the monitoring host at address (over
    SSH as debian with key): the result's series. Fails on an unanswered query (never an empty result)."""
    script = ("import json, urllib.parse, urllib.request as u\n"
              f"url = 'http://127.0.0.1:9090/api/v1/query?query=' + urllib.parse.quote({expr!r})\n"
              "print(json.dumps(json.load(u.urlopen(url, timeout=10))))\n")
    result = ssh(address, "debian", key, python_command(script), timeout=30)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["data"]["result"]
