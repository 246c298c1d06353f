#!/usr/bin/env python3
"""What SQLite itself costs for the gateway's writes, without Rust, sqlx or the gateway.

Applies migrations/sqlite/*.sql to a fresh file (WAL, synchronous=FULL, no autocheckpoint, as the
gateway opens it), then commits batches of the rows the gateway writes, from Python's sqlite3
module (C bindings: a few microseconds per row of its own). Prints rows per second, the WAL
bytes each costs, and the CPU time each costs this process (user and kernel: the writes and the
fsyncs; Python's own share included). The figures are a ceiling for the gateway on the same disk,
and a floor for its CPU, not a target.

    bench/sqlite-floor.py audit [BATCH]      # audit records in batches of BATCH (64), spread keys
    bench/sqlite-floor.py notices [BATCH]    # whole notices (1 notice, 2 inbox items, 2 records)
                                             # in batches of BATCH (9, what 16 connections make)

Environment: DIR (/var/tmp): where the database file goes (a real disk, for honest fsyncs).
BY_TABLE=1: also which table or index the WAL's pages belong to, per row (from the WAL's frame
headers and SQLite's `dbstat`).
"""
import glob
import collections
import os
import resource
import sqlite3
import struct
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLUMNS = ("seq, disclosure_id, at, requester_sub, requester_dept, requester_role, "
           "subject_pseudonym, category, purpose, source, recipient, decision, outcome, "
           "basis_kind, basis_id, reasons, fields_disclosed, fields_redacted, payload_digest, "
           "policy_version, prev_hash, hash")
INSERT_AUDIT = f"INSERT INTO audit_log ({COLUMNS}) VALUES ({','.join('?' * 22)})"


def v7():
    """A time-ordered id shaped like a UUIDv7 (the gateway's ids); Python 3.11 has no uuid7."""
    h = "%016x" % time.time_ns() + uuid.uuid4().hex[16:]
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def open_db(directory):
    path = os.path.join(directory, "floor.db")
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "wal_autocheckpoint=0",
                   "temp_store=memory"):
        db.execute(f"PRAGMA {pragma}")
    for migration in sorted(glob.glob(os.path.join(ROOT, "migrations/sqlite/*.sql"))):
        with open(migration) as f:
            db.executescript(f.read())
    return db, path


def audit_row(seq, subject, requester, basis, recipient):
    return (seq, v7(), "2026-11-29T10:00:00.%06dZ" % (seq % 1000000), requester,
            "youth-unit", "contact_person", "ps_%064x" % subject, "social.measures",
            "kui.contact_person", "social-services", recipient, "permit", "disclosed", "consent",
            basis, "[]", '["active","caseworker.name"]', '["family_notes"]', "%064x" % seq,
            "0" * 64, "%064x" % (seq - 1), "%064x" % seq)


def commit(db, statements, seq):
    db.execute("BEGIN IMMEDIATE")
    for sql, rows in statements:
        db.executemany(sql, rows)
    db.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (seq, "%064x" % seq))
    db.execute("COMMIT")


def audit(db, batch, total=100000):
    # 5,000 subjects, 97 caseworkers, 1,000 consents, as examples/audit_bench.rs.
    rows = [audit_row(i, i % 5000, "caseworker-%d" % (i % 97), "consent-%d" % (i % 1000),
                      "youth-unit") for i in range(1, total + 1)]
    started = time.time()
    for start in range(0, total, batch):
        commit(db, [(INSERT_AUDIT, rows[start:start + batch])], start + batch)
    return total, time.time() - started


def notices(db, batch, total=20000):
    started, seq = time.time(), 0
    response = '{"status":202,"body":{"notice_id":"%s","delivered":[],"withheld":[]}}'
    for start in range(0, total, batch):
        notice_rows, items, records = [], [], []
        for _ in range(batch):
            notice = v7()
            # The idempotency key is the client's: random.
            notice_rows.append((notice, "nordskolen", "system", str(uuid.uuid4()), "d" * 64,
                                "absence", "ps_" + "a" * 64, response % notice,
                                "2026-11-29T10:00:00.000000Z", None))
            for dept in ("social-services", "youth-unit"):
                seq += 1
                items.append((v7(), notice, dept, "absence", os.urandom(300), "[]",
                              '{"kind":"legal","id":"x"}', "d", "2026-11-29T10:00:00Z", None, None))
                records.append(audit_row(seq, 1, "system", "serviceloven-153", dept))
        commit(db, [("INSERT INTO notices VALUES (?,?,?,?,?,?,?,?,?,?)", notice_rows),
                    (INSERT_AUDIT, records),
                    ("INSERT INTO inbox_items (id, notice_id, recipient_dept, kind, sealed, redacted, "
                     "basis, disclosure_id, received_at, acked_at, acked_by) "
                     "VALUES (?,?,?,?,?,?,?,?,?,?,?)", items)], seq)
    return total, time.time() - started


def wal_by_table(db, path, count):
    """KiB of WAL per row for each table and index, largest first."""
    names = dict(db.execute("SELECT pageno, name FROM dbstat"))
    frames = collections.Counter()
    with open(path + "-wal", "rb") as wal:
        page_size = struct.unpack(">I", wal.read(32)[8:12])[0]
        while len(header := wal.read(24)) == 24:
            frames[names.get(struct.unpack(">I", header[:4])[0], "?")] += 1
            wal.seek(page_size, 1)
    return [(name, n * (page_size + 24) / count / 1024) for name, n in frames.most_common()]


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "audit"
    batch = int(sys.argv[2]) if len(sys.argv) > 2 else (64 if mode == "audit" else 9)
    with tempfile.TemporaryDirectory(dir=os.environ.get("DIR", "/var/tmp")) as directory:
        db, path = open_db(directory)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        before = resource.getrusage(resource.RUSAGE_SELF)
        count, seconds = (audit if mode == "audit" else notices)(db, batch)
        after = resource.getrusage(resource.RUSAGE_SELF)
        wal = os.path.getsize(path + "-wal")
        user = (after.ru_utime - before.ru_utime) / count * 1e6
        kernel = (after.ru_stime - before.ru_stime) / count * 1e6
        print(f"{mode}: batches of {batch}: {count / seconds:,.0f} {mode}/s, "
              f"{wal / count / 1024:.1f} KiB of WAL each, "
              f"CPU {user + kernel:.0f} µs each (user {user:.0f}, kernel {kernel:.0f})")
        if os.environ.get("BY_TABLE") == "1":
            for name, kib in wal_by_table(db, path, count):
                print(f"  {name:40} {kib:6.2f} KiB of WAL per {mode[:-1]}")


if __name__ == "__main__":
    main()
