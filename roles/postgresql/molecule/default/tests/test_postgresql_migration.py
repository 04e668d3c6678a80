"""playbooks/db-migrate-sqlite.yml: a Rails-shaped SQLite database (115,000 rows) moved into PostgreSQL.

Runs after test_postgresql.py (file order) on the same server, into the portfolio_import database.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest
from paas_testlib import run_playbook

sys.path.insert(0, str(Path(__file__).resolve().parents[5] / "tests" / "fixtures"))
from rails_sqlite import generate

testinfra_hosts = ["ansible://postgresql-host"]
DB = "portfolio_import"


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "production.sqlite3"
    generate(path)
    return path


def migrate(host, source: Path, *extra: str):
    return run_playbook(host.backend.ansible_inventory, "db-migrate-sqlite.yml",
                        "-e", f"db_migrate_sqlite_source={source}", "-e", f"db_migrate_database={DB}", *extra)


def sql(host, statement: str) -> str:
    out = host.run(f"runuser -u postgres -- psql -X -A -t -v ON_ERROR_STOP=1 -d {DB} -c \"{statement}\"")
    assert out.rc == 0, out.stderr
    return out.stdout.strip()


def test_migration_copies_every_row_and_the_comparison_passes(host, source):
    proc = migrate(host, source)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "checksums equal" in proc.stdout
    counts = {t: sqlite3.connect(source).execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
              for t in ("users", "portfolios", "projects", "active_storage_blobs", "action_text_rich_texts")}
    assert sum(counts.values()) >= 100_000
    for table, rows in counts.items():
        assert sql(host, f"SELECT count(*) FROM {table}") == str(rows)
    # Nothing of the copy is left on the server.
    assert not host.file(f"/var/lib/postgresql/migration/{DB}.sqlite3").exists


def test_rails_types_map_to_their_postgresql_types(host):
    types = dict(line.split("|") for line in sql(host, (
        "SELECT table_name || '.' || column_name, data_type || coalesce('(' || numeric_precision || ','"
        " || numeric_scale || ')', '') FROM information_schema.columns WHERE table_schema = 'public'")).splitlines())
    assert types["users.admin"] == "boolean"
    assert types["users.created_at"] == "timestamp with time zone"
    assert types["users.settings"] == "json"
    assert types["portfolios.budget"] == "numeric(12,2)"
    assert types["projects.rating"] == "numeric(3,1)"
    assert types["users.id"] == "bigint(64,0)"


def test_values_survive_the_trip(host, source):
    # A NULL boolean stays NULL, a UTC datetime keeps its microseconds, JSON stays JSON, text is exact.
    src = sqlite3.connect(source)
    query = "SELECT confirmed, created_at, settings FROM users WHERE id = 22"
    confirmed, created, settings = src.execute(query).fetchone()
    assert confirmed is None   # id 22: n % 11 == 0
    row = sql(host, "SET timezone = 'UTC'; SELECT confirmed IS NULL, to_char(created_at, 'YYYY-MM-DD HH24:MI:SS.US'),"
                    " settings->>'theme' FROM users WHERE id = 22").splitlines()[-1]
    assert row.split("|") == ["t", created, json.loads(settings)["theme"]]
    name = src.execute("SELECT name FROM projects WHERE id = 1234").fetchone()[0]
    assert sql(host, "SELECT name FROM projects WHERE id = 1234") == name


def test_schema_keeps_not_null_indexes_and_foreign_keys(host):
    assert sql(host, "SELECT is_nullable FROM information_schema.columns "
                     "WHERE table_name = 'users' AND column_name = 'email'") == "NO"
    indexes = sql(host, "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'").split()
    assert "index_users_on_email" in indexes   # Rails' own index names, for later migrations
    fks = sql(host, "SELECT count(*) FROM information_schema.table_constraints WHERE constraint_type = 'FOREIGN KEY'")
    assert int(fks) >= 4
    owner = sql(host, "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")
    assert owner == "app"   # the app role owns what it will migrate later


def test_new_rows_get_ids_past_the_largest_migrated_one(host):
    inserted = sql(host, "BEGIN; SET ROLE app; INSERT INTO projects (portfolio_id, name, created_at, updated_at) "
                         "VALUES (1, 'new', now(), now()) RETURNING id; ROLLBACK")
    assert "60001" in inserted.split()
    empty = sql(host, "BEGIN; SET ROLE app; INSERT INTO action_text_rich_texts (name, record_type, record_id,"
                      " created_at, updated_at) VALUES ('body', 'Project', 1, now(), now()) RETURNING id; ROLLBACK")
    assert "1" in empty.split()


def test_a_second_run_refuses_a_target_that_has_tables(host, source):
    proc = migrate(host, source)
    assert proc.returncode != 0
    assert f"{DB} already has 9 tables" in proc.stdout + proc.stderr


def test_verification_catches_a_row_that_differs(host, source):
    sql(host, "UPDATE projects SET name = name || ' ' WHERE id = 4242")
    proc = migrate(host, source, "-e", "db_migrate_verify_only=true")
    assert proc.returncode != 0
    assert "projects: same row count (60000), different content" in proc.stdout + proc.stderr


@pytest.mark.parametrize("damage", ["corrupt-page", "not-sqlite", "missing"])
def test_a_bad_source_file_is_refused_before_anything_changes(host, source, tmp_path, damage):
    bad = tmp_path / "bad.sqlite3"
    if damage == "corrupt-page":
        shutil.copy(source, bad)
        with bad.open("r+b") as handle:   # overwrite one page in the middle of the file
            handle.seek((bad.stat().st_size // 2) // 4096 * 4096)
            handle.write(b"\xde\xad\xbe\xef" * 1024)
        expected = "is corrupt"
    elif damage == "not-sqlite":
        bad.write_text("id,name\n1,not a database\n")
        expected = "is not a SQLite 3 database"
    else:
        expected = "does not exist"
    proc = migrate(host, bad, "-e", "db_migrate_force=true")
    assert proc.returncode != 0
    assert expected in proc.stdout + proc.stderr
    assert "PLAY [Migrate | load into PostgreSQL" not in proc.stdout
