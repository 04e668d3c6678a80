#!/usr/bin/python
"""Ansible module: inspect a SQLite database, repair what pgloader leaves out, and verify a copy in PostgreSQL."""

from __future__ import annotations

DOCUMENTATION = r"""
module: sqlite_migration
short_description: Check, repair and verify a SQLite to PostgreSQL migration
description:
  - C(inspect) checks that O(sqlite_path) is a SQLite 3 database that passes
    C(PRAGMA integrity_check) and reports its tables and row counts.
  - C(repair) brings the PostgreSQL copy pgloader made closer to the source schema
    (pgloader's SQLite reader drops NOT NULL and, for empty tables, the id sequence):
    NOT NULL on every column the source declares NOT NULL, a sequence default on every
    INTEGER PRIMARY KEY column, each sequence set past max(id).
  - C(verify) compares every table's row count and a checksum of its rows, read in
    primary-key order with each value normalised by the target column's type
    (booleans, timestamps in UTC, decimals at the column's scale, JSON), and fails
    listing the tables that differ.
  - Runs on the database host as the postgres user; C(repair) runs as O(role).
options:
  sqlite_path: {description: SQLite file on the managed host., type: path, required: true}
  mode: {description: What to do., type: str, choices: [inspect, repair, verify], default: inspect}
  database: {description: Target PostgreSQL database (repair, verify)., type: str}
  role: {description: Role that owns the migrated tables (repair runs SET ROLE to it)., type: str}
  port: {description: PostgreSQL port (local socket)., type: int, default: 5432}
author: Portfolio as a Service
"""

RETURN = r"""
tables: {description: "Per table: source rows, target rows, source and target checksums.", type: dict, returned: always}
mismatches: {description: Tables whose row count or checksum differ (verify)., type: list, returned: always}
statements: {description: Statements run by repair., type: list, returned: always}
"""

import hashlib
import json
import sqlite3
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from ansible.module_utils.basic import AnsibleModule

SQLITE_HEADER = b"SQLite format 3\x00"
NULL = "\x00"   # PostgreSQL text cannot hold a NUL, so no value normalises to this


def is_sqlite(path: str) -> bool:
    with open(path, "rb") as handle:
        return handle.read(16) == SQLITE_HEADER


def sqlite_tables(db: sqlite3.Connection) -> dict[str, list[dict]]:
    """Each table's columns in order: {name, type, notnull, pk (position in the key, 0 if not)}."""
    names = [row[0] for row in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    return {name: [{"name": c[1], "type": (c[2] or "").lower(), "notnull": bool(c[3]), "pk": c[5]}
                   for c in db.execute(f'PRAGMA table_info("{name}")')]
            for name in names}


def key_columns(columns: list[dict]) -> list[str]:
    keyed = sorted((c for c in columns if c["pk"]), key=lambda c: c["pk"])
    return [c["name"] for c in keyed] or [c["name"] for c in columns]


def normalise(value, pg_type: str, scale: int | None = None) -> str:
    """One value as comparable text, whichever side it was read from."""
    if value is None:
        return NULL
    if pg_type == "boolean":
        if isinstance(value, str):
            return "t" if value.lower() in ("t", "true", "1", "yes") else "f"
        return "t" if value else "f"
    if pg_type.startswith("timestamp"):
        if isinstance(value, str):
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if value.tzinfo is None:   # Rails stores UTC without a zone in SQLite
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    if pg_type == "numeric":
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return f"invalid:{value}"
        if scale is not None:
            number = number.quantize(Decimal(1).scaleb(-scale))
        return str(number.normalize()) if scale is None else str(number)
    if pg_type in ("json", "jsonb"):
        parsed = json.loads(value) if isinstance(value, (str, bytes)) else value
        return json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if pg_type in ("smallint", "integer", "bigint"):
        return str(int(value))
    if pg_type in ("double precision", "real"):
        return repr(float(value))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return str(value)


def checksum(rows, types: list[tuple[str, int | None]]) -> tuple[int, str]:
    """(row count, sha256) of rows whose values are normalised by the target types."""
    digest, count = hashlib.sha256(), 0
    for row in rows:
        values = (normalise(v, t, s) for v, (t, s) in zip(row, types, strict=True))
        digest.update("".join(f"{len(v)}:{v}" for v in values).encode())   # length-prefixed: no separator to fake
        digest.update(b"\n")
        count += 1
    return count, digest.hexdigest()


def pg_columns(cur, table: str) -> dict[str, dict]:
    cur.execute("SELECT column_name, data_type, numeric_scale, is_nullable, column_default "
                "FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s", (table,))
    return {r[0]: {"type": r[1], "scale": r[2], "nullable": r[3] == "YES", "default": r[4]} for r in cur.fetchall()}


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def repair(cur, tables: dict[str, list[dict]]) -> list[str]:
    statements = []
    for table, columns in tables.items():
        target = pg_columns(cur, table)
        if not target:
            continue
        for column in columns:
            info = target.get(column["name"])
            if info and (column["notnull"] or column["pk"]) and info["nullable"]:
                statements.append(f"ALTER TABLE {quote(table)} ALTER COLUMN {quote(column['name'])} SET NOT NULL")
        keys = [c for c in columns if c["pk"]]
        if len(keys) == 1 and keys[0]["type"] == "integer" and keys[0]["name"] in target:
            column = keys[0]["name"]
            if not (target[column]["default"] or "").startswith("nextval("):
                sequence = quote(f"{table}_{column}_seq")
                statements += [f"CREATE SEQUENCE IF NOT EXISTS {sequence} OWNED BY {quote(table)}.{quote(column)}",
                               f"ALTER TABLE {quote(table)} ALTER COLUMN {quote(column)} "
                               f"SET DEFAULT nextval('{sequence}'::regclass)"]
    for statement in statements:
        cur.execute(statement)
    # Every sequence past the largest id (setval's is_called=false when the table is empty).
    for table, columns in tables.items():
        keys = [c["name"] for c in columns if c["pk"]]
        if len(keys) != 1:
            continue
        cur.execute("SELECT pg_get_serial_sequence(%s, %s)", (quote(table), keys[0]))
        sequence = cur.fetchone()[0]
        if not sequence:
            continue
        cur.execute(f"SELECT coalesce(max({quote(keys[0])}), 0) FROM {quote(table)}")  # noqa: S608 - catalog names
        top = cur.fetchone()[0]
        cur.execute("SELECT last_value, is_called FROM " + sequence)  # noqa: S608 - from pg_get_serial_sequence
        last, called = cur.fetchone()
        wanted = (top, True) if top > 0 else (1, False)
        if (last, called) != wanted and not (called and last >= top > 0):
            cur.execute("SELECT setval(%s, %s, %s)", (sequence, *wanted))
            statements.append(f"SELECT setval('{sequence}', {wanted[0]}, {str(wanted[1]).lower()})")
    return statements


def verify(db: sqlite3.Connection, cur, tables: dict[str, list[dict]]) -> tuple[dict, list[str]]:
    report, mismatches = {}, []
    for table, columns in tables.items():
        target = pg_columns(cur, table)
        missing = [c["name"] for c in columns if c["name"] not in target]
        if missing:
            report[table] = {"missing_columns": missing}
            mismatches.append(f"{table}: missing in PostgreSQL ({', '.join(missing)})")
            continue
        names = [c["name"] for c in columns]
        types = [(target[n]["type"], target[n]["scale"]) for n in names]
        order = ", ".join(quote(k) for k in key_columns(columns))
        select = ", ".join(quote(n) for n in names)
        source = checksum(db.execute(f"SELECT {select} FROM {quote(table)} ORDER BY {order}"), types)  # noqa: S608
        cur.execute(f"SELECT {select} FROM {quote(table)} ORDER BY {order}")  # noqa: S608 - catalog names
        copied = checksum(iter(cur.fetchone, None), types)
        report[table] = {"rows_source": source[0], "rows_target": copied[0],
                         "checksum_source": source[1], "checksum_target": copied[1]}
        if source[0] != copied[0]:
            mismatches.append(f"{table}: {source[0]} rows in SQLite, {copied[0]} in PostgreSQL")
        elif source[1] != copied[1]:
            mismatches.append(f"{table}: same row count ({source[0]}), different content")
    return report, mismatches


def main() -> None:
    module = AnsibleModule(
        argument_spec={"sqlite_path": {"type": "path", "required": True},
                       "mode": {"type": "str", "choices": ["inspect", "repair", "verify"], "default": "inspect"},
                       "database": {"type": "str"}, "role": {"type": "str"}, "port": {"type": "int", "default": 5432}},
        required_if=[("mode", "repair", ["database", "role"]), ("mode", "verify", ["database"])],
        supports_check_mode=True,
    )
    path, mode = module.params["sqlite_path"], module.params["mode"]
    try:
        if not is_sqlite(path):
            module.fail_json(msg=f"{path} is not a SQLite 3 database (no SQLite header)")
    except OSError as error:
        module.fail_json(msg=f"cannot read {path}: {error}")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        problems = [row[0] for row in db.execute("PRAGMA integrity_check")]
        tables = sqlite_tables(db)
    except sqlite3.DatabaseError as error:
        module.fail_json(msg=f"{path} is corrupt: {error}")
    if problems != ["ok"]:
        module.fail_json(msg=f"{path} is corrupt (PRAGMA integrity_check): {'; '.join(problems[:5])}")
    if mode == "inspect":
        counts = {t: db.execute(f"SELECT count(*) FROM {quote(t)}").fetchone()[0] for t in tables}  # noqa: S608
        module.exit_json(changed=False, tables={t: {"rows_source": n} for t, n in counts.items()},
                         mismatches=[], statements=[])

    try:
        import psycopg2  # on the database host (the postgresql role installs python3-psycopg2)
    except ImportError:
        module.fail_json(msg="python3-psycopg2 is missing on the database host")
    conn = psycopg2.connect(dbname=module.params["database"], port=module.params["port"])
    cur = conn.cursor()
    if mode == "repair":
        cur.execute("SET ROLE " + quote(module.params["role"]))
        statements = repair(cur, tables)
        if module.check_mode:
            conn.rollback()
        else:
            conn.commit()
        module.exit_json(changed=bool(statements), statements=statements, tables={}, mismatches=[])
    cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    report, mismatches = verify(db, cur, tables)
    conn.rollback()
    if mismatches:
        module.fail_json(msg="the PostgreSQL copy differs from the SQLite source: " + "; ".join(mismatches),
                         tables=report, mismatches=mismatches, statements=[])
    module.exit_json(changed=False, tables=report, mismatches=[], statements=[])


if __name__ == "__main__":
    main()
