#!/usr/bin/python3
"""Restore drill: prove a repository restores the database, exactly, and measure how long it takes.

Installed by the pgbackrest role on the backup host, run as the repository user by
pgbackrest-restore-drill@<repo>.service (weekly timer, or by hand; playbooks/restore-drill.yml):

 1. On the primary (over the repository user's SSH login as postgres), in one transaction:
    lock every user table against writes (SHARE), create a named restore point, and record
    each table's row count and checksum. The locks make the restore point and the record
    describe the same data; writers wait only while the tables are read.
 2. `pgbackrest check`: the WAL holding the restore point reaches every repository.
 3. Restore that repository into a scratch directory, to the restore point, and start a
    scratch server on a spare port (the recovery time, RTO, runs from here until it answers
    as a primary).
 4. Record the same on the scratch server, compare, stop it and remove the directory.
 5. Write the result as a JSON summary (the unit then hands it to pgbackrest-metrics, which
    turns it into metrics); exit 1 on any mismatch or failure, so the unit fails and the
    journal says why.

Standard library only; unit tests: tests/unit/test_pgbackrest_restore_drill.py.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import shlex
import shutil
import subprocess
import sys
import time

PG_BIN = "/usr/lib/postgresql/{version}/bin"
SSH = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]

# The primary's user tables locked against writes (SHARE: writers in progress are waited
# for, new ones wait), so every later statement of the transaction, the restore point
# included, sees the same data.
LOCK_SQL = """
DO $$
DECLARE t record;
BEGIN
  FOR t IN SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables
           WHERE schemaname NOT IN ('pg_catalog', 'information_schema') LOOP
    EXECUTE 'LOCK TABLE ' || t.name || ' IN SHARE MODE';
  END LOOP;
END $$;
"""
# Each user table's row count and a checksum of its rows: the sum of a 60-bit slice of each
# row's md5, independent of row order and of constant memory, so large tables need no sort.
RECORD_SQL = """SELECT json_build_object('restore_point', {restore_point}, 'tables',
  coalesce((SELECT json_object_agg(name, json_build_object('rows', n, 'checksum', h)) FROM (
    SELECT format('%I.%I', schemaname, tablename) AS name,
           (xpath('/row/n/text()', x))[1]::text::bigint AS n,
           (xpath('/row/h/text()', x))[1]::text AS h
    FROM pg_tables, query_to_xml(format(
      'SELECT count(*) AS n, coalesce(sum((%L || substr(md5(t::text), 1, 15))::bit(60)::bigint), 0) AS h '
      'FROM %I.%I t', 'x', schemaname, tablename), false, true, '') AS x
    WHERE schemaname NOT IN ('pg_catalog', 'information_schema')) s), '{{}}'::json));
"""

def record_sql(restore_point: str | None) -> str:
    """The recording transaction: on the primary, locks and a restore point first; on the scratch server, reads."""
    if restore_point is None:
        return RECORD_SQL.format(restore_point="NULL")
    point = f"pg_create_restore_point('{restore_point}')::text"
    return "BEGIN;\n" + LOCK_SQL + RECORD_SQL.format(restore_point=point) + "COMMIT;\n"


def compare(source: dict, restored: dict) -> list[str]:
    """Differences between two records of {table: {rows, checksum}}, one message each; empty when equal."""
    problems = []
    for name in sorted(set(source) | set(restored)):
        if name not in restored:
            problems.append(f"{name}: missing from the restored database")
        elif name not in source:
            problems.append(f"{name}: in the restored database only")
        elif source[name]["rows"] != restored[name]["rows"]:
            problems.append(f"{name}: {source[name]['rows']} rows on the primary, {restored[name]['rows']} restored")
        elif source[name]["checksum"] != restored[name]["checksum"]:
            problems.append(f"{name}: same row count, different content")
    return problems


def scratch_settings(controldata: str, port: int, socket_dir: str) -> str:
    """A minimal postgresql.conf for the scratch server: a spare port, no network, no archiving,
    and the settings recovery needs at least as high as the primary had (pg_controldata)."""
    names = {"max_connections": "max_connections", "max_worker_processes": "max_worker_processes",
             "max_wal_senders": "max_wal_senders", "max_prepared_xacts": "max_prepared_transactions",
             "max_locks_per_xact": "max_locks_per_transaction"}
    lines = [f"port = {port}", "listen_addresses = ''", f"unix_socket_directories = '{socket_dir}'",
             "archive_mode = off", "hot_standby = on"]
    for line in controldata.splitlines():
        label, _, value = line.partition(" setting:")
        if label.strip() in names:
            lines.append(f"{names[label.strip()]} = {value.strip()}")
    return "\n".join(lines) + "\n"


def write_summary(path: str, result: dict) -> None:
    """The summary, replaced whole (a temporary file beside it, then a rename)."""
    with open(f"{path}.tmp", "w") as out:
        json.dump(result, out, indent=2)
        out.write("\n")
    os.chmod(f"{path}.tmp", 0o640)
    os.replace(f"{path}.tmp", path)


def run(command: list[str], stdin: str | None = None, timeout: int = 3600) -> str:
    done = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:6])}: exit {done.returncode}: {done.stderr.strip()[-2000:]}")
    return done.stdout


def psql_json(command: list[str], sql: str) -> dict:
    out = run([*command, "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1"], stdin=sql)
    return json.loads(next(line for line in out.splitlines() if line.startswith("{")))


def find_primary(hosts: list[str], database: str) -> str:
    for address in hosts:
        try:
            if run([*SSH, f"postgres@{address}", shlex.join(["psql", "-X", "-A", "-t", "-d", database, "-c",
                                                             "SELECT pg_is_in_recovery()"])],
                   timeout=60).strip() == "f":
                return address
        except (RuntimeError, subprocess.TimeoutExpired) as error:
            print(f"restore drill: {address} did not answer as a primary: {error}", file=sys.stderr)
            continue
    raise RuntimeError(f"no primary among {', '.join(hosts)}")


def drill(args) -> dict:
    started = time.time()
    primary = find_primary(args.host, args.database)
    point = f"drill-{time.strftime('%Y%m%dT%H%M%S', time.gmtime(started))}-repo{args.repo}"
    source = psql_json([*SSH, f"postgres@{primary}", "psql", "-d", shlex.quote(args.database)], record_sql(point))
    run(["pgbackrest", f"--stanza={args.stanza}", "check"], timeout=900)
    shutil.rmtree(args.scratch, ignore_errors=True)
    os.makedirs(args.scratch, mode=0o700)
    bin_dir = PG_BIN.format(version=args.pg_version)
    restore_started = time.monotonic()
    run(["pgbackrest", f"--stanza={args.stanza}", f"--repo={args.repo}", "--reset-pg1-host",
         f"--pg1-path={args.scratch}", "--type=name", f"--target={point}", "--target-action=promote", "restore"])
    with open(os.path.join(args.scratch, "postgresql.conf"), "w") as conf:
        conf.write(scratch_settings(run([f"{bin_dir}/pg_controldata", args.scratch]), args.port, args.scratch))
    with open(os.path.join(args.scratch, "pg_hba.conf"), "w") as hba:
        hba.write("local all all peer map=drill\n")
    with open(os.path.join(args.scratch, "pg_ident.conf"), "w") as ident:
        ident.write(f"drill {pwd.getpwuid(os.getuid()).pw_name} postgres\n")
    psql = [f"{bin_dir}/psql", "-h", args.scratch, "-p", str(args.port), "-U", "postgres", "-d", args.database]
    try:
        run([f"{bin_dir}/pg_ctl", "-D", args.scratch, "-l", os.path.join(args.scratch, "drill.log"),
             "-w", "-t", "3600", "start"])
        deadline = time.monotonic() + 3600
        while run([*psql, "-X", "-A", "-t", "-c", "SELECT pg_is_in_recovery()"]).strip() != "f":
            if time.monotonic() > deadline:
                raise RuntimeError("the scratch server did not finish recovery within an hour")
            time.sleep(1)
        rto = time.monotonic() - restore_started
        restored = psql_json(psql, record_sql(None))
    finally:
        subprocess.run([f"{bin_dir}/pg_ctl", "-D", args.scratch, "-m", "immediate", "stop"],
                       capture_output=True, timeout=120, check=False)
        shutil.rmtree(args.scratch, ignore_errors=True)
    problems = compare(source["tables"], restored["tables"])
    return {"repo": args.repo, "primary": primary, "database": args.database, "restore_point": point,
            "tables": len(source["tables"]), "rto_seconds": round(rto, 1), "problems": problems,
            "success": not problems, "started": int(started), "finished": int(time.time())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stanza", default="main")
    parser.add_argument("--repo", type=int, default=1)
    parser.add_argument("--host", action="append", default=[], help="a database host's address (repeat)")
    parser.add_argument("--database", default="postgres")
    parser.add_argument("--pg-version", default="15")
    parser.add_argument("--scratch", default="", help="scratch data directory (removed afterwards)")
    parser.add_argument("--port", type=int, default=5499)
    parser.add_argument("--summary", required=True, help="the JSON summary the drill writes")
    args = parser.parse_args(argv)
    if not args.host or not args.scratch:
        parser.error("a drill needs --host and --scratch")
    try:
        result = drill(args)
    except (RuntimeError, subprocess.TimeoutExpired, OSError, ValueError, StopIteration) as error:
        result = {"repo": args.repo, "success": False, "problems": [str(error)], "rto_seconds": None,
                  "tables": 0, "finished": int(time.time())}
    write_summary(args.summary, result)
    print(json.dumps(result))
    for problem in result["problems"]:
        print(f"restore drill: {problem}", file=sys.stderr)
    return 0 if result["success"] else 1


if __name__ == "__main__":
    sys.exit(main())
