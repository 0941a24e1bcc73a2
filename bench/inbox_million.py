#!/usr/bin/env python3
"""How the staff inbox pages at a million conversations (SQLite).

Seeds N threads with one message each straight into a fresh database (the schema comes from
`sealpost migrate`), starts `sealpost serve` on it, signs a staff member in through the form,
and times each kind of inbox request (median and max of R runs, client-side, over loopback).

    cargo build --release
    python3 bench/inbox_million.py [--binary target/release/sealpost] [--threads 1000000] [--runs 20]

Only the Python standard library is used.
"""
import argparse
import base64
import http.cookiejar
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

PASSWORD = "correct horse battery staple orbit"


def seed(db_path, n):
    con = sqlite3.connect(db_path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    started = time.time()
    # One thread a second from 2020 on; every 1000th message mentions "needle"; statuses cycle.
    con.executescript(f"""
        CREATE TEMP TABLE seq(i INTEGER PRIMARY KEY);
        WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n})
        INSERT INTO seq SELECT i FROM s;
        INSERT INTO threads (id, reference, access_token_hash, contact_id, subject, locale, status,
                             consent_policy_version, created_at, updated_at)
        SELECT randomblob(16),
               'SP-' || replace(replace(substr(printf('%08X', i), 1, 4), '0', 'Z'), '1', 'Y') || '-' ||
                        replace(replace(substr(printf('%08X', i), 5, 4), '0', 'Z'), '1', 'Y'),
               randomblob(32), NULL, 'Question number ' || i, 'en',
               CASE i % 5 WHEN 0 THEN 'new' WHEN 1 THEN 'open' WHEN 2 THEN 'answered'
                          WHEN 3 THEN 'closed' ELSE 'spam' END,
               '2026-11-24',
               strftime('%Y-%m-%dT%H:%M:%S', '2020-01-01', '+' || i || ' seconds') || '.000000000+00:00',
               strftime('%Y-%m-%dT%H:%M:%S', '2020-01-01', '+' || i || ' seconds') || '.000000000+00:00'
        FROM seq;
        INSERT INTO messages (id, thread_id, author, body_html, created_at, staff_id)
        SELECT randomblob(16), t.id, 'visitor',
               '<p>Hello, this is message ' || t.rowid || ' about an order that has not arrived yet.' ||
               CASE WHEN t.rowid % 1000 = 0 THEN ' The needle is here.' ELSE '' END || '</p>',
               t.created_at, NULL
        FROM threads t;
    """)
    con.commit()
    con.execute("ANALYZE")
    con.close()
    return time.time() - started


def cursor_at(db_path, offset, status=None):
    con = sqlite3.connect(db_path)
    where = f"WHERE status = '{status}'" if status else ""
    at, raw_id = con.execute(
        f"SELECT updated_at, id FROM threads {where} ORDER BY updated_at DESC, id DESC LIMIT 1 OFFSET {offset}"
    ).fetchone()
    con.close()
    h = raw_id.hex()
    uuid = f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
    return base64.urlsafe_b64encode(f"{at}|{uuid}".encode()).decode().rstrip("=")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="target/release/sealpost")
    ap.add_argument("--threads", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--port", type=int, default=18080)
    args = ap.parse_args()

    data = tempfile.mkdtemp(prefix="sealpost-inbox-bench-")
    env = dict(os.environ, SEALPOST__DATA_DIR=data,
               SEALPOST__SERVER__LISTEN=f"127.0.0.1:{args.port}",
               SEALPOST__STAFF__REQUIRE_SECOND_FACTOR="false",
               SEALPOST__LOG__FILTER="warn", SEALPOST_CONFIG_DIR=os.path.join(data, "none"))
    subprocess.run([args.binary, "migrate"], env=env, check=True, capture_output=True)
    db = os.path.join(data, "sealpost.db")
    took = seed(db, args.threads)
    size = os.path.getsize(db) + (os.path.getsize(db + "-wal") if os.path.exists(db + "-wal") else 0)
    print(f"seeded {args.threads:,} threads and messages in {took:.0f} s; database {size / 1e6:.0f} MB")
    subprocess.run([args.binary, "staff", "add", "bench", "--role", "agent", "--password-stdin"],
                   env=env, input=PASSWORD + "\n", text=True, check=True, capture_output=True)
    server = subprocess.Popen([args.binary, "serve"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{args.port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        jar = http.cookiejar.CookieJar()

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a, **k):
                return None

        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
        page = opener.open(base + "/staff/signin").read().decode()
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"csrf": csrf, "login": "bench", "password": PASSWORD}).encode()
        try:
            opener.open(base + "/staff/signin", data=form)
        except urllib.error.HTTPError as e:
            assert e.code == 303, e.code

        deep = cursor_at(db, args.threads // 2)
        deep_closed = cursor_at(db, args.threads // 10, "closed")
        cases = [
            ("first page, all statuses", "/staff"),
            ("first page, status=closed", "/staff?status=closed"),
            ("page at the middle (cursor after 50%)", f"/staff?after={deep}"),
            ("status=closed, cursor deep in it", f"/staff?status=closed&after={deep_closed}"),
            ("API list, limit=25", "/api/v1/messages?limit=25"),
            ("API list at the middle", f"/api/v1/messages?limit=25&cursor={deep}"),
            ("search, common word (q=order)", "/staff?q=order"),
            ("search, rare word (q=needle)", "/staff?q=needle"),
            ("search, absent word (q=zebra)", "/staff?q=zebra"),
        ]
        print(f"{'request':45} {'median ms':>10} {'max ms':>8} {'rows':>5}")
        for name, path in cases:
            runs = args.runs if "zebra" not in path and "needle" not in path else max(3, args.runs // 4)
            times = []
            rows = 0
            for _ in range(runs):
                t = time.perf_counter()
                body = opener.open(base + path).read().decode()
                times.append((time.perf_counter() - t) * 1000)
                rows = body.count('class="inbox-item"') or body.count('"thread_id"')
            print(f"{name:45} {statistics.median(times):10.1f} {max(times):8.1f} {rows:5}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    sys.exit(main())
