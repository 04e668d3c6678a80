#!/usr/bin/env python3
"""Benchmark: backup and restore throughput of a ~1 GB database, and the restore drill's RTO.

Run after `make sandbox` (the sandbox converged, its backups configured):

    .venv/bin/python benchmarks/backup_restore.py [--scale 34] [--random-rows 8000000]

On the sandbox's primary (db1) a database is generated: pgbench's tables (scale 34, about half
a gigabyte, which compresses very well) and a table of random bytes (8 million rows, about half a
gigabyte that does not compress), so that neither the compression nor the disk alone decides the
result; then, for each pgBackRest repository (1: the backup host over SSH; 2: S3 over TLS,
encrypted), a full backup is timed through its systemd unit on backup1, and the restore drill
(the same unit the weekly timer starts) restores the whole cluster into a scratch directory and
reports its RTO. Afterwards the database is dropped and a fresh full backup taken into each
repository, so later drills restore the usual small cluster again.

Prints one table: seconds, sizes and MB/s per repository and step, and the database size a
one-hour RTO allows at the measured restore rate. Results are recorded in docs/benchmarks.md.
Talks only to the sandbox's containers (docker exec).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from benchlib import must

DB_HOST, BACKUP_HOST = "paas-sandbox-db1", "paas-sandbox-backup1"
BENCH_DB = "paas_bench"
UNITS = {1: "pgbackrest-backup@full.service", 2: "pgbackrest-backup-offsite@full.service"}


def on(container: str, command: str, what: str, timeout: int = 3600) -> str:
    return must(["docker", "exec", container, "sh", "-c", command], what, timeout).stdout.strip()


def psql(statement: str, db: str = "postgres") -> str:
    return on(DB_HOST, f"runuser -u postgres -- psql -X -A -t -d {db} -c \"{statement}\"", statement)


def newest_backup(repo: int) -> dict:
    info = json.loads(on(BACKUP_HOST, "runuser -u pgbackrest -- pgbackrest --stanza=main --output=json info",
                         "reading the repository"))[0]
    mine = [b for b in info.get("backup", []) if b.get("database", {}).get("repo-key", 1) == repo]
    return mine[-1]


def timed(container: str, command: str, what: str) -> float:
    start = time.monotonic()
    on(container, command, what)
    return time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=int, default=34, help="pgbench scale (about 15 MB each)")
    parser.add_argument("--random-rows", type=int, default=8_000_000,
                        help="rows of 32 random bytes each (about 70 bytes on disk with the row's overhead)")
    args = parser.parse_args()

    psql(f"DROP DATABASE IF EXISTS {BENCH_DB}")
    psql(f"CREATE DATABASE {BENCH_DB}")
    generate = timed(DB_HOST, f"runuser -u postgres -- /usr/lib/postgresql/15/bin/pgbench -q -i -s {args.scale} "
                              f"{BENCH_DB}", "generating the database")
    start = time.monotonic()
    rows = int(args.random_rows)
    # rows is a whole number (argparse type=int), not text from elsewhere.
    noise = ("CREATE TABLE noise AS SELECT g AS id, decode(md5(random()::text) || md5(random()::text), 'hex') "  # noqa: S608
             f"AS bytes FROM generate_series(1, {rows}) g")
    psql(noise, db=BENCH_DB)
    generate += time.monotonic() - start
    db_mb = int(psql(f"SELECT pg_database_size('{BENCH_DB}')")) / 1e6
    cluster_mb = int(psql("SELECT sum(pg_database_size(datname)) FROM pg_database")) / 1e6
    print(f"generated {BENCH_DB}: {db_mb:.0f} MB in {generate:.0f} s (cluster {cluster_mb:.0f} MB)", flush=True)

    rows = []
    try:
        for repo, unit in UNITS.items():
            seconds = timed(BACKUP_HOST, f"systemctl start {unit}", f"the full backup into repository {repo}")
            backup = newest_backup(repo)
            size_mb = backup["info"]["size"] / 1e6
            stored_mb = backup["info"]["repository"]["size"] / 1e6
            rows.append((repo, "full backup", seconds, size_mb, stored_mb))
            print(f"repository {repo}: full backup of {size_mb:.0f} MB ({stored_mb:.0f} MB stored) in {seconds:.0f} s",
                  flush=True)
            timed(BACKUP_HOST, f"systemctl start pgbackrest-restore-drill@{repo}.service",
                  f"the restore drill of repository {repo}")
            summary = json.loads(on(BACKUP_HOST, f"cat /var/lib/pgbackrest/restore-drill-repo{repo}.json",
                                    "reading the drill's summary"))
            if not summary["success"]:
                sys.exit(f"the drill of repository {repo} failed: {summary['problems']}")
            rows.append((repo, "restore drill (RTO)", summary["rto_seconds"], size_mb, stored_mb))
            print(f"repository {repo}: restore drill RTO {summary['rto_seconds']:.0f} s", flush=True)
    finally:
        psql(f"DROP DATABASE IF EXISTS {BENCH_DB}")
        for unit in UNITS.values():
            on(BACKUP_HOST, f"systemctl start {unit}", "the full backup after the benchmark")

    print("\n| repository | step | seconds | data (MB) | stored (MB) | MB/s | data restorable in 1 h |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for repo, step, seconds, size_mb, stored_mb in rows:
        rate = size_mb / seconds
        hour = f"{rate * 3600 / 1000:.0f} GB" if "restore" in step else ""
        print(f"| {repo} | {step} | {seconds:.0f} | {size_mb:.0f} | {stored_mb:.0f} | {rate:.1f} | {hour} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
