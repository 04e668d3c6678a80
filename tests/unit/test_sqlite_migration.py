"""Unit tests for playbooks/library/sqlite_migration.py: values read from SQLite and from
PostgreSQL must normalise to the same text, or the migration's checksums could never match
(or would match when they should not)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlite_migration import NULL, checksum, is_sqlite, key_columns, normalise, sqlite_tables

TZ = "timestamp with time zone"


@pytest.mark.parametrize(("sqlite_value", "pg_value", "pg_type", "scale"), [
    (1, True, "boolean", None),
    (0, False, "boolean", None),
    ("t", True, "boolean", None),
    ("2024-03-18 12:33:06.959449", datetime(2024, 3, 18, 12, 33, 6, 959449, tzinfo=UTC), TZ, None),
    ("2024-03-18 12:33:06", datetime(2024, 3, 18, 13, 33, 6, tzinfo=timezone(timedelta(hours=1))),
     TZ, None),
    (29806.87, Decimal("29806.87"), "numeric", 2),
    (6.2, Decimal("6.2"), "numeric", 1),
    (5, Decimal("5.00"), "numeric", 2),
    ('{"b": 1, "a": [1, "é"]}', {"a": [1, "é"], "b": 1}, "json", None),
    (42, 42, "bigint", None),
    ("O'Brien \\ 東京", "O'Brien \\ 東京", "text", None),
    (None, None, "text", None),
])
def test_equal_values_normalise_alike(sqlite_value, pg_value, pg_type, scale):
    assert normalise(sqlite_value, pg_type, scale) == normalise(pg_value, pg_type, scale)


@pytest.mark.parametrize(("sqlite_value", "pg_value", "pg_type", "scale"), [
    (1, False, "boolean", None),
    (None, False, "boolean", None),
    ("2024-03-18 12:33:06.959449", datetime(2024, 3, 18, 12, 33, 6, 959450, tzinfo=UTC), TZ, None),
    (29806.87, Decimal("29806.88"), "numeric", 2),
    ('{"a": 1}', {"a": 2}, "json", None),
    ("", None, "text", None),
])
def test_different_values_normalise_differently(sqlite_value, pg_value, pg_type, scale):
    assert normalise(sqlite_value, pg_type, scale) != normalise(pg_value, pg_type, scale)


def test_null_has_its_own_marker():
    assert normalise(None, "text") == NULL
    assert normalise("\\N", "text") != NULL
    assert normalise("", "text") != NULL


def test_checksum_counts_rows_and_changes_with_one_value():
    types = [("bigint", None), ("text", None)]
    count, digest = checksum([(1, "a"), (2, "b")], types)
    assert count == 2
    assert checksum([(1, "a"), (2, "c")], types)[1] != digest
    assert checksum([(1, "a"), (2, "b")], types)[1] == digest
    # Moving characters across a column boundary changes the checksum too.
    texts = [("text", None)] * 2
    assert checksum([("1a", "")], texts)[1] != checksum([("1", "a")], texts)[1]
    assert checksum([("a\x1fb", "c")], texts)[1] != checksum([("a", "b\x1fc")], texts)[1]


def test_sqlite_catalog_reading(tmp_path):
    path = tmp_path / "app.sqlite3"
    db = sqlite3.connect(path)
    db.execute('CREATE TABLE "users" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "email" varchar NOT NULL)')
    db.execute('CREATE TABLE "tags" ("name" varchar, "kind" varchar)')
    db.commit()
    tables = sqlite_tables(db)
    assert [c["name"] for c in tables["users"]] == ["id", "email"]
    assert tables["users"][1]["notnull"] is True
    assert key_columns(tables["users"]) == ["id"]
    assert key_columns(tables["tags"]) == ["name", "kind"]   # no key: order by every column
    assert is_sqlite(str(path))
    (tmp_path / "notes.txt").write_text("SQLite format 2")
    assert not is_sqlite(str(tmp_path / "notes.txt"))
