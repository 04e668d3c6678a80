"""Secrets rotation on the sandbox (issue 19, playbooks/rotate-secrets.yml): the Redis app password, the app's
database login and password, and Rails' secret_key_base rotated together while k6 reads a page that makes a Redis
round trip and a page read from PostgreSQL through pgbouncer, with no request failed; afterwards the old Redis
password and the old database login are refused, and a form opened before the rotation still submits (its session
cookie read with the previous secret_key_base, written again with the new one); then all rotated back, so the
sandbox runs as its vault says again."""

from __future__ import annotations

import os
import re
import secrets
import urllib.parse
from pathlib import Path

import yaml
from paas_testlib import (
    inventory_host,
    inventory_vault,
    psql_command,
    rails_cookie_payload,
    run_playbook,
    said,
    site_request,
    ssh,
    steady_traffic,
)

ROOT = Path(__file__).resolve().parents[2]
KEY = str(ROOT / ".sandbox" / "ansible_ed25519")
LB = inventory_host("inventories/sandbox", "lb1")
SITE = LB["nginx_sites"][0]["server_names"][0]
VAULT = inventory_vault("inventories/sandbox")
OWNER = "portfolio"


def rotate(values: dict) -> object:
    """rotate-secrets.yml for both secrets, with the vault as step 1 of the runbook leaves it, given as extra
    variables from a 0600 file under .sandbox/ (never on the command line)."""
    path = ROOT / ".sandbox" / "rotate-secrets.yml"
    path.touch(mode=0o600)
    os.chmod(path, 0o600)
    path.write_text(yaml.safe_dump(values))
    try:
        return run_playbook("inventories/sandbox", "rotate-secrets.yml", "-e", f"rotate={','.join(ROTATED)}",
                            "-e", f"@{path}", timeout=1200)
    finally:
        path.unlink()


ROTATED = ("redis_app", "postgresql_app", "rails_secret_key_base")


def vault_after(redis: tuple[str, str], login: tuple[str, str], previous: tuple[str, str],
                key_base: tuple[str, str]) -> dict:
    """The vault's entries after step 1: (new, old) Redis passwords, the new (login, password), the previous one,
    (new, old) secret_key_base."""
    return {"vault_redis_app_password": redis[0], "vault_redis_app_previous_passwords": [redis[1]],
            "vault_postgresql_app_login": login[0], "vault_postgresql_app_password": login[1],
            "vault_postgresql_app_previous": {"login": previous[0], "password": previous[1]},
            "vault_rails_secret_key_base": key_base[0], "vault_rails_secret_key_base_previous": key_base[1]}


def open_form() -> tuple[str, str]:
    """A visitor opens the new-portfolio form: the session cookie Rails sets ("name=value", encrypted with a key
    from secret_key_base) and the form's CSRF token, which Rails checks against the session."""
    status, headers, body = site_request(LB["ansible_host"], SITE, path="/portfolios/new")
    assert status == 200, (status, body[:300])
    token = re.search(r'name="authenticity_token" value="([^"]+)"', body).group(1)
    return headers["set-cookie"].split(";")[0], token


def submit_form(cookie: str, token: str) -> tuple[int, str]:
    """The visitor submits it: the status (302 when created; 422 when the session could not be read) and the
    session cookie Rails sets in the answer ("" when none)."""
    body = urllib.parse.urlencode({"authenticity_token": token, "portfolio[name]": f"Rotation {secrets.token_hex(4)}",
                                   "portfolio[owner]": "ada"}).encode()
    status, headers, _ = site_request(LB["ansible_host"], SITE, method="POST", path="/portfolios", body=body,
                                      headers={"Cookie": cookie,
                                               "Content-Type": "application/x-www-form-urlencoded"})
    return status, headers.get("set-cookie", "").split(";")[0]


DB1 = inventory_host("inventories/sandbox", "db1")


def session(user: str, password: str) -> str:
    """A login through pgbouncer on db1 (its private address, as the app connects): 'current_user|session_user',
    or '' when refused. The password on standard input, not in the command."""
    query = psql_command(DB1["private_ip"], "portfolio_sandbox", user, "SELECT current_user, session_user")
    result = ssh(DB1["ansible_host"], "debian", KEY, query, stdin=password + "\n", timeout=30)
    return result.stdout.strip() if result.returncode == 0 else ""


def test_the_app_secrets_rotate_under_traffic_with_no_failed_request():
    redis_old, redis_new = VAULT["vault_redis_app_password"], secrets.token_urlsafe(24)
    db_old, db_new = VAULT["vault_postgresql_app_password"], secrets.token_urlsafe(24)
    key_old, key_new = VAULT["vault_rails_secret_key_base"], secrets.token_hex(64)
    twin = f"{OWNER}_2"
    cookie, token = open_form()
    assert rails_cookie_payload(cookie, key_old), cookie     # the session as the current secret_key_base makes it
    with steady_traffic(SITE, LB["ansible_host"], max_seconds=900, PAGE="/stats") as cache_reads, \
            steady_traffic(SITE, LB["ansible_host"], max_seconds=900, PAGE="/portfolios") as db_reads:
        forward = rotate(vault_after((redis_new, redis_old), (twin, db_new), (OWNER, db_old), (key_new, key_old)))
    print(f"\nrotation of the app's secrets: {cache_reads.requests} requests of /stats, {cache_reads.failed} failed; "
          f"{db_reads.requests} of /portfolios, {db_reads.failed} failed; slowest "
          f"{max(cache_reads.slowest, db_reads.slowest):.2f} s; {said(forward).split('rotate-secrets: ')[-1][:80]}")
    try:
        assert forward.returncode == 0, forward.stdout[-3000:]
        assert f"rotate-secrets: {', '.join(ROTATED)} rotated in" in said(forward), forward.stdout[-2000:]
        # The playbook's own checks ran, mid-way (both accepted) and at the end (the old ones refused).
        assert forward.stdout.count("TASK [redis : Check that each accepted password answered") == 2
        assert forward.stdout.count("TASK [pgbouncer : Check that each login was answered or refused") == 2
        assert cache_reads.requests > 100 and db_reads.requests > 100, cache_reads.output + db_reads.output
        assert cache_reads.failed == 0, cache_reads.output
        assert db_reads.failed == 0, db_reads.output
        # Seen from outside the playbook: the app answers with only the new secrets valid.
        status, _, body = site_request(LB["ansible_host"], SITE, path="/stats")
        assert status == 200 and '"cache":"ok"' in body, (status, body)
        # The twin acts as the owner: what the app creates, the owner owns.
        assert session(twin, db_new) == f"{OWNER}|{twin}"
        assert session(OWNER, db_old) == ""
        # The form opened before the rotation still submits: Rails read its session with the previous
        # secret_key_base and wrote it again with the new one, which the old one cannot read.
        status, renewed = submit_form(cookie, token)
        assert status == 302, status
        assert rails_cookie_payload(renewed, key_new) and not rails_cookie_payload(renewed, key_old), renewed
    finally:
        back = rotate(vault_after((redis_old, redis_new), (OWNER, db_old), (twin, db_new), (key_old, key_new)))
        assert back.returncode == 0, back.stdout[-3000:]
    assert session(OWNER, db_old) == f"{OWNER}|{OWNER}"
    assert session(twin, db_new) == ""


def test_a_rotation_without_the_previous_values_in_the_vault_is_refused_before_any_change():
    for names, message in [("redis_app", "redis_app needs the vault edited first"),
                           ("postgresql_app", "postgresql_app needs the vault edited first"),
                           ("rails_secret_key_base", "rails_secret_key_base needs the vault edited first"),
                           ("redis_app,nothing",
                            "comma-separated among redis_app, postgresql_app, rails_secret_key_base")]:
        refused = run_playbook("inventories/sandbox", "rotate-secrets.yml", "-e", f"rotate={names}", timeout=300)
        assert refused.returncode != 0
        assert message in said(refused), refused.stdout[-2000:]
        assert "PLAY [Redis | cache and queue instances]" not in refused.stdout
