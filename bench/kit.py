#!/usr/bin/env python3
"""Sealpost's benchmark kit: every table of BENCHMARKS.md in one unattended run.

Run it through `bench/run`, which builds the release binaries and checks the tools first.
Each measurement of Sealpost is paired with a baseline measured in the same run on the same
machine (a bare poem + sqlx handler, Postfix's smtp-source, a Django contact form), because
these machines are shared and noisy: the ratios are what we compare over time.

Only the Python standard library is used. Load comes from wrk (bench/wrk/report.lua).
"""
import argparse
import datetime
import http.client
import json
import os
import pathlib
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
SEALPOST = TARGET / "release" / "sealpost"
BASELINE = TARGET / "release" / "sealpost-bench-baseline"
PG_ADMIN = os.environ.get("SEALPOST_BENCH_PG", "postgres://postgres@127.0.0.1:5432")
PASSWORD = "correct horse battery staple orbit"
POLICY_VERSION = "2026-11-24"  # config/default.toml `site.policy_version`

sys.path.insert(0, str(BENCH))
import inbox_million  # noqa: E402  (the seeding and cursor helpers)


# ---------------------------------------------------------------------------------------------
# Processes, ports, load


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def memory_kib(pid):
    """(VmRSS, VmHWM) of a process, in KiB."""
    fields = {}
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields["VmRSS"], fields["VmHWM"]


class Server:
    """A server process on a loopback port, stopped with SIGTERM."""

    def __init__(self, argv, env, port, log, ready_path="/healthz"):
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.log = open(log, "wb")
        self.proc = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        wait_http(self.base + ready_path)

    def memory_mib(self):
        rss, hwm = memory_kib(self.proc.pid)
        return rss / 1024, hwm / 1024

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def sealpost_env(data_dir, port, database_url=None, **settings):
    env = dict(
        os.environ,
        SEALPOST__DATA_DIR=str(data_dir),
        SEALPOST_CONFIG_DIR=str(pathlib.Path(data_dir) / "none"),
        SEALPOST__SERVER__LISTEN=f"127.0.0.1:{port}",
        SEALPOST__RATE_LIMIT__ENABLED="false",
        SEALPOST__STAFF__REQUIRE_SECOND_FACTOR="false",
        SEALPOST__LOG__FILTER="warn",
        RUST_LOG="warn",
    )
    if database_url:
        env["SEALPOST__DATABASE__URL"] = database_url
    for key, value in settings.items():
        env["SEALPOST__" + key.upper().replace(".", "__")] = str(value)
    return env


def sealpost(args, env, **kw):
    return subprocess.run([str(SEALPOST), *args], env=env, check=True, capture_output=True,
                          text=True, **kw)


def wrk(url, connections, seconds, method="GET", body_file=None,
        content_type="application/json"):
    env = dict(os.environ, WRK_METHOD=method)
    if body_file:
        env["WRK_BODY_FILE"] = str(body_file)
        env["WRK_CONTENT_TYPE"] = content_type
    threads = min(2, connections)
    out = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
         "--timeout", "10s", "-s", str(BENCH / "wrk" / "report.lua"), url],
        env=env, check=True, capture_output=True, text=True).stdout
    line = [l for l in out.splitlines() if l.startswith("{")][-1]
    result = json.loads(line)
    result["rps"] = result["requests"] / result["seconds"]
    result["ok"] = result["requests"] - result["status_errors"]
    return result


def pg_database(name):
    """A fresh, empty PostgreSQL database; returns its URL."""
    for sql in (f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'):
        subprocess.run(["psql", f"{PG_ADMIN}/postgres", "-qc", sql], check=True,
                       capture_output=True)
    return f"{PG_ADMIN}/{name}"


def ms(us):
    return us / 1000


# ---------------------------------------------------------------------------------------------
# The submission everybody posts: 1.4 KB of JSON with some HTML in the body.

BODY_HTML = (
    "<p>Hello,</p><p>I ordered <b>two</b> of the blue notebooks on <em>Monday</em> "
    "(order <a href=\"https://shop.example.org/orders/48213\">48213</a>) and only one arrived "
    "today. The parcel looked fine from outside, so I suspect it was packed that way.</p>"
    "<ul><li>Notebook, blue, A5 &times; 2</li><li>Pen refills &times; 5</li></ul>"
    "<p>Could you send the missing notebook, or refund it? I attach nothing because the form "
    "does not allow it, but I kept the packing slip and can describe it: it lists both "
    "notebooks and is signed by <i>R.</i>, dated the 17th.</p>"
    "<p>Also: the tracking page kept saying &quot;label created&quot; for three days, which "
    "made me nervous. Is that normal for your courier? It would help to know for next time. "
    "Thanks a lot for the quick shipping otherwise, and for the nice note in the box.</p>"
    "<p>Best regards,<br>Alex</p>"
)
SUBMISSION = {
    "name": "Alex Example",
    "email": "alex.example@example.org",
    "subject": "Order 48213: one notebook missing",
    "body": BODY_HTML,
    "consent": True,
}


# ---------------------------------------------------------------------------------------------
# 0. Sustained: intake and delivery at once, as a site runs


def db_query(backend, where, sql):
    """One number from the run's database (`where`: the SQLite file or the PostgreSQL URL)."""
    argv = (["sqlite3", str(where), sql] if backend == "sqlite"
            else ["psql", where, "-qAtc", sql])
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout.strip()
    return float(out or 0)


def at_or_before(backend, column, instant):
    """SQL: `column` (a stored timestamp) is at or before `instant` (a UTC datetime)."""
    stamp = instant.strftime("%Y-%m-%d %H:%M:%S.%f")
    if backend == "sqlite":
        return f"julianday({column}) <= julianday('{stamp}')"
    return f"{column} <= TIMESTAMPTZ '{stamp}+00'"


def form_body(work):
    path = work / "form.txt"
    path.write_text(urllib.parse.urlencode({
        "name": SUBMISSION["name"], "email": SUBMISSION["email"],
        "subject": SUBMISSION["subject"], "body": BODY_HTML, "consent": "on",
        "policy_version": POLICY_VERSION}))
    return path


def smtp_sink(port):
    # Postfix's smtp-sink offers PIPELINING, as Postfix does.
    return subprocess.Popen(["smtp-sink", "-u", "nobody", "-c", f"127.0.0.1:{port}", "1000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


METRICS_TOKEN = "bench-metrics-token"


def scrape(base):
    """The histograms of `/metrics` as {(name, labels): {"sum", "count", "buckets"}}."""
    req = urllib.request.Request(base + "/metrics",
                                 headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    text = urllib.request.urlopen(req, timeout=10).read().decode()
    out = {}
    for m in re.finditer(r'^(sealpost_\w+?)_(sum|count|bucket)\{?([^}\s]*)\}? (\S+)', text, re.M):
        name, kind, labels, value = m.groups()
        le = re.search(r'le="([^"]+)"', labels)
        key_labels = ",".join(p for p in labels.split(",") if p and not p.startswith("le="))
        entry = out.setdefault((name, key_labels), {"sum": 0.0, "count": 0.0, "buckets": []})
        if kind == "bucket":
            entry["buckets"].append((float(le.group(1)), float(value)))
        else:
            entry[kind] = float(value)
    return out


def quantile(entry, q):
    """An upper bound of the q-quantile from cumulative histogram buckets."""
    total = entry["count"]
    for le, n in sorted(entry["buckets"]):
        if total and n >= q * total:
            return le
    return float("nan")


def waits(snapshot):
    """What the paths waited on: per writer and phase, count, mean and p99 (ms)."""
    rows = {}
    for (name, labels), e in snapshot.items():
        if name not in ("sealpost_db_write_wait", "sealpost_db_write_hold",
                        "sealpost_outbox_batch_phase", "sealpost_outbox_build") or not e["count"]:
            continue
        label = re.sub(r'^\w+="([^"]*)"$', r"\1", labels) or "mail"
        rows[f"{name.removeprefix('sealpost_')}:{label}"] = (
            e["count"], e["sum"] / e["count"] * 1000, quantile(e, 0.99) * 1000, e["sum"])
    return rows


def sustained_run(args, work, backend, conns, deliver, form):
    """wrk posts the HTML form for `args.window` s; with `deliver`, mail goes into smtp-sink
    meanwhile and afterwards until the outbox is empty."""
    run_dir = pathlib.Path(tempfile.mkdtemp(dir=work, prefix=f"sustained-{backend}-"))
    port, smtp_port = free_port(), free_port()
    where = (run_dir / "sealpost.db" if backend == "sqlite"
             else pg_database("sealpost_bench_sustained"))
    settings = {"mail.deliver": "true" if deliver else "false", "mail.transport": "smtp",
                "mail.smtp.url": f"smtp://127.0.0.1:{smtp_port}",
                "metrics.token": METRICS_TOKEN}
    env = sealpost_env(run_dir, port, None if backend == "sqlite" else where, **settings)
    sealpost(["migrate"], env)
    sink = smtp_sink(smtp_port)
    server = Server([str(SEALPOST), "serve"], env, port, run_dir / "server.log")
    try:
        started = datetime.datetime.now(datetime.timezone.utc)
        r = wrk(server.base + "/", conns, args.window, "POST", form,
                "application/x-www-form-urlencoded")
        ended = started + datetime.timedelta(seconds=r["seconds"])
        row = dict(backend=backend, c=conns, deliver=deliver, **r)
        row["waits"] = waits(scrape(server.base))
        row["accepted"] = db_query(backend, where, "SELECT count(*) FROM threads")
        if deliver:
            by_end = at_or_before(backend, "sent_at", ended)
            row["queued"] = db_query(backend, where, "SELECT count(*) FROM outbox")
            row["delivered"] = db_query(
                backend, where, f"SELECT count(*) FROM outbox WHERE state = 'sent' AND {by_end}")
            # A submission counts once every mail it caused (notification and acknowledgement)
            # was handed to the SMTP server before the window ended.
            row["complete"] = db_query(backend, where, (
                "SELECT count(*) FROM (SELECT thread_id FROM outbox WHERE thread_id IS NOT NULL "
                "GROUP BY thread_id HAVING sum(CASE WHEN state = 'sent' AND "
                f"{by_end} THEN 0 ELSE 1 END) = 0) AS done"))
            backlog = row["queued"] - row["delivered"]
            t = time.perf_counter()
            deadline = t + args.drain_timeout
            while time.perf_counter() < deadline and db_query(
                    backend, where,
                    "SELECT count(*) FROM outbox WHERE state IN ('pending', 'sending')") > 0:
                time.sleep(0.1)
            row["drain_secs"] = time.perf_counter() - t
            row["left"] = db_query(backend, where,
                                   "SELECT count(*) FROM outbox WHERE state <> 'sent'")
            row["idle_rate"] = backlog / row["drain_secs"] if backlog else float("nan")
            row["during_rate"] = row["delivered"] / r["seconds"]
            row["sustained"] = row["complete"] / r["seconds"]
    finally:
        server.stop()
        sink.terminate()
        sink.wait()
    if backend == "sqlite":
        shutil.rmtree(run_dir, ignore_errors=True)
    line = (f"  sustained {backend:8} c={conns:<3} deliver={'on ' if deliver else 'off'} "
            f"{r['rps']:7.0f} req/s p50 {ms(r['p50_us']):6.1f} ms p99 {ms(r['p99_us']):7.1f} ms "
            f"errors {r['status_errors'] + r['socket_errors']}")
    if deliver:
        line += (f"; {row['during_rate']:.0f} mails/s during intake, backlog drained at "
                 f"{row['idle_rate']:.0f}/s in {row['drain_secs']:.1f} s; sustained "
                 f"{row['sustained']:.0f} submissions/s; {row['left']:.0f} not sent")
    print(line, flush=True)
    return row


def sustained_peer(args, work, form):
    """The Django peer mails inside the request: what it accepted was delivered."""
    peer_dir = pathlib.Path(tempfile.mkdtemp(dir=work, prefix="sustained-django-"))
    smtp_port, port = free_port(), free_port()
    setup = subprocess.run(["bash", str(BENCH / "peer" / "django-setup"), str(peer_dir)],
                           check=True, capture_output=True, text=True)
    python = setup.stdout.strip().splitlines()[-1]
    sink = smtp_sink(smtp_port)
    env = dict(os.environ, BENCH_SMTP_PORT=str(smtp_port), PYTHONPATH=str(peer_dir))
    gunicorn = pathlib.Path(python).parent / "gunicorn"
    server = Server([str(gunicorn), "-w", "2", "-b", f"127.0.0.1:{port}", "--chdir",
                     str(peer_dir), "--log-level", "warning", "benchsite.wsgi"],
                    env, port, peer_dir / "gunicorn.log", ready_path="/contact/")
    peer_form = peer_dir / "form.txt"
    peer_form.write_text(urllib.parse.urlencode({
        "name": SUBMISSION["name"], "email": SUBMISSION["email"], "body": BODY_HTML}))
    try:
        r = wrk(server.base + "/contact/", 16, args.window, "POST", peer_form,
                "application/x-www-form-urlencoded")
    finally:
        server.stop()
        sink.terminate()
        sink.wait()
    saved = db_query("sqlite", peer_dir / "db.sqlite3", "SELECT count(*) FROM peer_submission")
    row = dict(backend="django", c=16, deliver=True, **r)
    row["sustained"] = r["ok"] / r["seconds"]
    row["saved"] = saved
    print(f"  sustained django   c=16  {r['rps']:7.0f} req/s p99 {ms(r['p99_us']):7.1f} ms, "
          f"{saved:.0f} rows saved and mailed, {r['status_errors']} errors", flush=True)
    return row


def sustained_section(args, work):
    form = form_body(work)
    rows = []
    for backend in args.backends:
        for conns in args.sustained_levels:
            rows.append(sustained_run(args, work, backend, conns, False, form))
            rows.append(sustained_run(args, work, backend, conns, True, form))
    rows.append(sustained_peer(args, work, form))
    return rows


# ---------------------------------------------------------------------------------------------
# 1 and 5. Submit throughput against the bare handler; memory


def submit_section(args, work, body_file):
    rows, memory = [], []
    levels = args.levels
    for backend in args.backends:
        variants = [
            ("baseline", "bare handler, 1 transaction per request"
             + (", synchronous=NORMAL" if backend == "sqlite" else ""), levels),
            ("sealpost", "Sealpost, group commit"
             + (", synchronous=FULL" if backend == "sqlite" else ""), levels),
        ]
        if backend == "sqlite":
            variants += [
                ("baseline-full", "bare handler, synchronous=FULL", [64]),
                ("sealpost-batch1", "Sealpost, max_batch=1 (a commit per request)", [64]),
            ]
        for name, label, conns in variants:
            run_dir = pathlib.Path(tempfile.mkdtemp(dir=work, prefix=f"{backend}-{name}-"))
            port = free_port()
            url = (f"sqlite://{run_dir}/sealpost.db?mode=rwc" if backend == "sqlite"
                   else pg_database("sealpost_bench"))
            env = sealpost_env(run_dir, port, None if backend == "sqlite" else url,
                               **{"mail.deliver": "false",
                                  "database.max_batch": 1 if name == "sealpost-batch1" else 256})
            sealpost(["migrate"], env)
            if name.startswith("baseline"):
                sync = "full" if name == "baseline-full" else "normal"
                server = Server([str(BASELINE), "--listen", f"127.0.0.1:{port}",
                                 "--database", url, "--synchronous", sync],
                                dict(os.environ), port, run_dir / "server.log", ready_path="/")
            else:
                server = Server([str(SEALPOST), "serve"], env, port, run_dir / "server.log")
            idle = server.memory_mib()[0]
            try:
                for c in conns:
                    r = wrk(server.base + "/api/v1/messages", c, args.seconds, "POST", body_file)
                    rows.append(dict(backend=backend, variant=name, label=label, c=c, **r))
                    print(f"  submit {backend:8} {name:16} c={c:<4} {r['rps']:8.0f} req/s "
                          f"p50 {ms(r['p50_us']):6.1f} ms p99 {ms(r['p99_us']):7.1f} ms "
                          f"errors {r['status_errors'] + r['socket_errors']}", flush=True)
                if name == "sealpost":
                    _, peak = server.memory_mib()
                    memory.append(dict(backend=backend, idle=idle, peak=peak))
            finally:
                server.stop()
            if backend == "sqlite":
                shutil.rmtree(run_dir, ignore_errors=True)
    return rows, memory


# ---------------------------------------------------------------------------------------------
# 2. The form page against a handler returning the same bytes


def form_section(args, work):
    run_dir = pathlib.Path(tempfile.mkdtemp(dir=work, prefix="form-"))
    port, base_port = free_port(), free_port()
    env = sealpost_env(run_dir, port, **{"mail.deliver": "false"})
    sealpost(["migrate"], env)
    server = Server([str(SEALPOST), "serve"], env, port, run_dir / "server.log")
    page = run_dir / "form.html"
    page.write_bytes(urllib.request.urlopen(server.base + "/").read())
    baseline = Server([str(BASELINE), "--listen", f"127.0.0.1:{base_port}", "--database",
                       f"sqlite://{run_dir}/sealpost.db", "--page", str(page)],
                      dict(os.environ), base_port, run_dir / "baseline.log", ready_path="/")
    try:
        ours = wrk(server.base + "/", 64, args.seconds)
        bare = wrk(baseline.base + "/", 64, args.seconds)
    finally:
        server.stop()
        baseline.stop()
    print(f"  form page: Sealpost {ours['rps']:.0f} req/s, static {bare['rps']:.0f} req/s "
          f"({len(page.read_bytes())} bytes)", flush=True)
    return dict(ours=ours, bare=bare, size=len(page.read_bytes()))


# ---------------------------------------------------------------------------------------------
# 3. Outbox drain against Postfix's smtp-source, into Postfix's smtp-sink


def count_state(db, state):
    out = subprocess.run(["sqlite3", str(db), f"SELECT count(*) FROM outbox WHERE state = '{state}'"],
                         check=True, capture_output=True, text=True).stdout
    return int(out.strip() or 0)


def drain_section(args, work, body_file):
    n = args.mails
    run_dir = pathlib.Path(tempfile.mkdtemp(dir=work, prefix="drain-"))
    db = run_dir / "sealpost.db"
    http_port, smtp_port = free_port(), free_port()
    base_settings = {
        "mail.transport": "smtp",
        "mail.smtp.url": f"smtp://127.0.0.1:{smtp_port}",
        "mail.acknowledge_visitor": "false",
        "mail.max_attempts": "1",
        "mail.batch_size": "256",
    }
    env = sealpost_env(run_dir, http_port, **base_settings)
    sealpost(["migrate"], env)
    # Queue N notifications while nothing listens: each fails once and goes dead.
    server = Server([str(SEALPOST), "serve"], env, http_port, run_dir / "queue.log")
    try:
        subprocess.run([sys.executable, str(BENCH / "submit.py"),
                        server.base + "/api/v1/messages", str(n), "16"], check=True,
                       capture_output=True)
        end = time.time() + 120
        while count_state(db, "dead") < n and time.time() < end:
            time.sleep(0.2)
    finally:
        server.stop()
    if count_state(db, "dead") != n:
        raise RuntimeError("the outbox did not queue every notification")
    size = int(subprocess.run(
        ["sqlite3", str(db),
         "SELECT avg(length(text_body) + length(html_body) + length(subject) + 700) FROM outbox"],
        check=True, capture_output=True, text=True).stdout.strip().split(".")[0])
    results = []
    sink = subprocess.Popen(["smtp-sink", "-u", "nobody", "-c", f"127.0.0.1:{smtp_port}", "1000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        for conns in args.smtp_connections:
            subprocess.run(["sqlite3", str(db),
                            "UPDATE outbox SET state = 'dead', attempts = 1, sent_at = NULL"],
                           check=True)
            env = sealpost_env(run_dir, http_port, **{
                **base_settings, "mail.smtp.max_connections": conns, "mail.max_attempts": "200",
                # `outbox retry` runs in another process, which cannot wake the server's worker:
                # poll often so that the clock measures delivery, not the wait for a poll.
                "mail.poll_interval_ms": "20"})
            server = Server([str(SEALPOST), "serve"], env, http_port, run_dir / "drain.log")
            try:
                start = time.perf_counter()
                sealpost(["outbox", "retry", "--dead"], env)
                while count_state(db, "sent") < n:
                    time.sleep(0.05)
                ours = n / (time.perf_counter() - start)
            finally:
                server.stop()
            start = time.perf_counter()
            subprocess.run(["smtp-source", "-d", "-s", str(conns), "-m", str(n), "-l", str(size),
                            "-f", "bench@relay.example", "-t", "staff@example.org",
                            f"127.0.0.1:{smtp_port}"], check=True, capture_output=True)
            theirs = n / (time.perf_counter() - start)
            results.append(dict(conns=conns, ours=ours, theirs=theirs))
            print(f"  drain {n} mails over {conns} connection(s): Sealpost {ours:.0f}/s, "
                  f"smtp-source {theirs:.0f}/s", flush=True)
    finally:
        sink.terminate()
        sink.wait()
    return dict(mails=n, size=size, runs=results)


# ---------------------------------------------------------------------------------------------
# 4 and 7. Criterion micro-benchmarks; the audit chain


def bench_env():
    """The benches that open sealed values build in a target directory of their own, so that
    the release service binary is never relinked with `bench-internals`."""
    env = dict(os.environ)
    env["CARGO_TARGET_DIR"] = os.environ.get(
        "SEALPOST_BENCH_TARGET_DIR", os.path.join(ROOT, "target", "bench-internals"))
    return env


def criterion_section(args):
    out = subprocess.run(
        ["cargo", "bench", "-q", "--features", "bench-internals", "--bench", "clean_and_seal",
         "--", "--warm-up-time", "1", "--measurement-time", str(args.criterion_secs)],
        cwd=ROOT, check=True, capture_output=True, text=True, env=bench_env()).stdout
    rows = []
    for m in re.finditer(r"^(\S+)\s+time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]", out, re.M):
        value, unit = float(m.group(2)), m.group(3)
        micros = value * {"ns": 1e-3, "µs": 1, "us": 1, "ms": 1e3, "s": 1e6}[unit]
        rows.append((m.group(1), micros))
        print(f"  {m.group(1):28} {micros:10.2f} µs", flush=True)
    return rows


def audit_section(args):
    out = subprocess.run(
        ["cargo", "bench", "-q", "--features", "bench-internals", "--bench", "audit_chain", "--",
         str(args.audit_entries)],
        cwd=ROOT, check=True, capture_output=True, text=True, env=bench_env()).stdout
    result = json.loads([l for l in out.splitlines() if l.startswith("{")][-1])
    print(f"  audit: {result}", flush=True)
    return result


# ---------------------------------------------------------------------------------------------
# 6. The peer: a Django contact form under gunicorn


def peer_section(args, work, sealpost_at_16):
    peer_dir = pathlib.Path(tempfile.mkdtemp(dir=work, prefix="django-"))
    smtp_port, port = free_port(), free_port()
    setup = subprocess.run(["bash", str(BENCH / "peer" / "django-setup"), str(peer_dir)],
                           check=True, capture_output=True, text=True)
    python = setup.stdout.strip().splitlines()[-1]
    sink = subprocess.Popen(["smtp-sink", "-u", "nobody", "-c", f"127.0.0.1:{smtp_port}", "1000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = dict(os.environ, BENCH_SMTP_PORT=str(smtp_port), PYTHONPATH=str(peer_dir))
    gunicorn = pathlib.Path(python).parent / "gunicorn"
    server = Server([str(gunicorn), "-w", "2", "-b", f"127.0.0.1:{port}", "--chdir",
                     str(peer_dir), "--log-level", "warning", "benchsite.wsgi"],
                    env, port, peer_dir / "gunicorn.log", ready_path="/contact/")
    form = peer_dir / "form.txt"
    form.write_text(urllib.parse.urlencode({
        "name": SUBMISSION["name"], "email": SUBMISSION["email"], "body": BODY_HTML}))
    try:
        r = wrk(server.base + "/contact/", 16, args.seconds, "POST", form,
                "application/x-www-form-urlencoded")
    finally:
        server.stop()
        sink.terminate()
        sink.wait()
    saved = int(subprocess.run(["sqlite3", str(peer_dir / "db.sqlite3"),
                                "SELECT count(*) FROM peer_submission"], check=True,
                               capture_output=True, text=True).stdout.strip())
    print(f"  django-contact-form c=16: {r['rps']:.0f} req/s p99 {ms(r['p99_us']):.1f} ms, "
          f"{saved} rows saved, {r['status_errors']} errors", flush=True)
    return dict(peer=r, saved=saved, ours=sealpost_at_16)


# ---------------------------------------------------------------------------------------------
# 8. Growth: submissions and the inbox list with 0, 100k and 1M stored conversations


def list_latencies(base, cookie, path, runs):
    conn = http.client.HTTPConnection("127.0.0.1", int(base.rsplit(":", 1)[1]), timeout=30)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        conn.request("GET", path, headers={"Cookie": cookie})
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise RuntimeError(f"GET {path}: {resp.status}")
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.99))]


def sign_in(base):
    page = urllib.request.urlopen(base + "/staff/signin")
    cookies = [h.split(";")[0] for h in page.headers.get_all("Set-Cookie") or []]
    html = page.read().decode()
    csrf = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
    form = urllib.parse.urlencode({"csrf": csrf, "login": "bench", "password": PASSWORD})
    conn = http.client.HTTPConnection("127.0.0.1", int(base.rsplit(":", 1)[1]), timeout=30)
    conn.request("POST", "/staff/signin", form, {
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": "; ".join(cookies)})
    resp = conn.getresponse()
    resp.read()
    if resp.status != 303:
        raise RuntimeError(f"sign-in answered {resp.status}")
    session = [h.split(";")[0] for h in resp.headers.get_all("Set-Cookie") or []]
    return "; ".join(session)


def growth_section(args, work, body_file):
    rows = []
    for n in args.growth:
        run_dir = pathlib.Path(tempfile.mkdtemp(dir=work, prefix=f"growth-{n}-"))
        db = run_dir / "sealpost.db"
        port = free_port()
        env = sealpost_env(run_dir, port, **{"mail.deliver": "false"})
        sealpost(["migrate"], env)
        if n:
            inbox_million.seed(str(db), n)
        sealpost(["staff", "add", "bench", "--role", "agent", "--password-stdin"], env,
                 input=PASSWORD + "\n")
        server = Server([str(SEALPOST), "serve"], env, port, run_dir / "server.log")
        try:
            cookie = sign_in(server.base)
            first = list_latencies(server.base, cookie, "/api/v1/messages?limit=25", args.list_runs)
            deep_path = "/api/v1/messages?limit=25"
            if n:
                deep_path += "&cursor=" + inbox_million.cursor_at(str(db), n // 2)
            deep = list_latencies(server.base, cookie, deep_path, args.list_runs)
            r = wrk(server.base + "/api/v1/messages", 64, args.seconds, "POST", body_file)
        finally:
            server.stop()
        rows.append(dict(n=n, first=first, deep=deep, submit=r))
        print(f"  growth n={n:>9,}: submit {r['rps']:.0f} req/s; list p99 first "
              f"{first[1]:.2f} ms, deep {deep[1]:.2f} ms", flush=True)
        shutil.rmtree(run_dir, ignore_errors=True)
    return rows


# ---------------------------------------------------------------------------------------------
# The report


def machine():
    cpu = "unknown CPU"
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = int(pathlib.Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    return f"{os.cpu_count()} CPUs ({cpu}), {mem:.0f} GiB RAM, Linux {platform.release()}"


def ratio(a, b):
    return a / b if b else float("nan")


def verdict(value, target, higher=True):
    ok = value >= target if higher else value <= target
    return "met" if ok else "**not met**"


def report_sustained(w, args, rows):
    w(f"### 0. Sustained: the HTML form posted for {args.window} s with mail delivered meanwhile")
    w("")
    w("Intake by wrk (`POST /`, the form as a browser sends it), delivery on into Postfix's "
      "`smtp-sink` (two mails per submission: the staff notification and the visitor's "
      "acknowledgement). *Sustained* = submissions whose mails were all handed to SMTP before "
      "the window ended, per second of the window. Rows marked *delivery off* are the baseline "
      "of the p99 target, not a headline.")
    w("")
    w("| database | connections | delivery | accepted req/s | p50 ms | p99 ms | errors | "
      "mails/s during intake | backlog drain mails/s, intake idle | time to empty s | "
      "sustained submissions/s |")
    w("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        errors = r["status_errors"] + r["socket_errors"]
        if r["backend"] == "django":
            w(f"| django-contact-form (gunicorn, 2 workers; mails inside the request) | 16 | on | "
              f"{r['rps']:,.0f} | {ms(r['p50_us']):.1f} | {ms(r['p99_us']):.1f} | {errors} | "
              f"{r['sustained']:,.0f} | — | 0 | **{r['sustained']:,.0f}** |")
        elif r["deliver"]:
            w(f"| {r['backend']} | {r['c']} | on | {r['rps']:,.0f} | {ms(r['p50_us']):.1f} | "
              f"{ms(r['p99_us']):.1f} | {errors} | {r['during_rate']:,.0f} | "
              f"{r['idle_rate']:,.0f} | {r['drain_secs']:.1f} | **{r['sustained']:,.0f}** |")
        else:
            w(f"| {r['backend']} | {r['c']} | *off* | {r['rps']:,.0f} | {ms(r['p50_us']):.1f} | "
              f"{ms(r['p99_us']):.1f} | {errors} | — | — | — | — |")
    w("")
    w("What the paths waited on during intake (from `/metrics`: count, mean ms, p99 ms as the "
      "upper bound of its histogram bucket, total s):")
    w("")
    w("| database | connections | delivery | measure | count | mean ms | p99 ≤ ms | total s |")
    w("|---|---:|---|---|---:|---:|---:|---:|")
    for r in rows:
        for key, (count, mean, p99, total) in sorted(r.get("waits", {}).items()):
            w(f"| {r['backend']} | {r['c']} | {'on' if r['deliver'] else 'off'} | `{key}` | "
              f"{count:,.0f} | {mean:.2f} | {p99:.2f} | {total:.1f} |")
    w("")
    peer = next((r for r in rows if r["backend"] == "django"), None)
    for backend in args.backends:
        for c in args.sustained_levels:
            on = next((r for r in rows if r["backend"] == backend and r["c"] == c
                       and r["deliver"]), None)
            off = next((r for r in rows if r["backend"] == backend and r["c"] == c
                        and not r["deliver"]), None)
            if not on or not off:
                continue
            tail = ratio(on["p99_us"], off["p99_us"])
            during = ratio(on["during_rate"], on["idle_rate"])
            line = (f"- {backend}, {c} connections: p99 on / off = **{tail:.2f}×** (target ≤ 2: "
                    f"{verdict(tail, 2.0, False)}); delivery during intake / idle drain = "
                    f"**{during:.2f}** (target ≥ 0.5: {verdict(during, 0.5)})")
            if peer and c == 16:
                vs = ratio(on["sustained"], peer["sustained"])
                p99_ok = on["p99_us"] <= peer["p99_us"]
                line += (f"; sustained / Django = **{vs:.1f}×** (target ≥ 5: {verdict(vs, 5.0)}), "
                         f"p99 {'equal or better' if p99_ok else '**worse**'}")
            if on["left"]:
                line += f"; **{on['left']:.0f} mails not sent** when the run ended"
            w(line)
    w("")


def report(args, results, started, took):
    out = []
    w = out.append
    w(f"Latest run: {started:%Y-%m-%d %H:%M} UTC, {took / 60:.1f} min, on {machine()}.")
    w(f"Command: `{' '.join(['bench/run', *sys.argv[1:]])}` (wrk {args.seconds} s per cell, "
      "release build).")
    w("")
    if "sustained" in results:
        report_sustained(w, args, results["sustained"])
    if "submit" in results:
        rows, memory = results["submit"]
        w("### 1. Submit throughput (`POST /api/v1/messages`, 1.4 KB JSON with HTML)")
        w("")
        w("| database | server | connections | req/s | p50 ms | p99 ms | errors | vs baseline |")
        w("|---|---|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            base = next((b for b in rows if b["backend"] == r["backend"]
                         and b["variant"] == "baseline" and b["c"] == r["c"]), None)
            rel = f"{ratio(r['rps'], base['rps']):.2f}×" if base else ""
            w(f"| {r['backend']} | {r['label']} | {r['c']} | {r['rps']:,.0f} | "
              f"{ms(r['p50_us']):.1f} | {ms(r['p99_us']):.1f} | "
              f"{r['status_errors'] + r['socket_errors']} | {rel} |")
        w("")
        for backend in args.backends:
            ours = next((r for r in rows if r["backend"] == backend and r["variant"] == "sealpost"
                         and r["c"] == 64), None)
            base = next((r for r in rows if r["backend"] == backend and r["variant"] == "baseline"
                         and r["c"] == 64), None)
            if ours and base:
                value = ratio(ours["rps"], base["rps"])
                w(f"- {backend}, 64 connections: Sealpost (durable) / baseline = "
                  f"**{value:.2f}×** (target ≥ 1.0: {verdict(value, 1.0)})")
        w("")
        w("### 5. Memory (Sealpost, resident set)")
        w("")
        w("| database | idle MiB | peak MiB after the 1-256 connection runs | targets |")
        w("|---|---:|---:|---|")
        for m in memory:
            w(f"| {m['backend']} | {m['idle']:.1f} | {m['peak']:.1f} | idle ≤ 30 "
              f"({verdict(m['idle'], 30, False)}), load ≤ 150 ({verdict(m['peak'], 150, False)}) |")
        w("")
    if "form" in results:
        f = results["form"]
        value = ratio(f["ours"]["rps"], f["bare"]["rps"])
        w("### 2. Form page (`GET /`, 64 connections)")
        w("")
        w("| server | req/s | p50 ms | p99 ms |")
        w("|---|---:|---:|---:|")
        w(f"| Sealpost (empty form rendered once per language) | {f['ours']['rps']:,.0f} | "
          f"{ms(f['ours']['p50_us']):.2f} | {ms(f['ours']['p99_us']):.2f} |")
        w(f"| poem handler returning the same {f['size']:,} bytes | {f['bare']['rps']:,.0f} | "
          f"{ms(f['bare']['p50_us']):.2f} | {ms(f['bare']['p99_us']):.2f} |")
        w("")
        w(f"- ratio **{value:.2f}** (target ≥ 0.8: {verdict(value, 0.8)})")
        w("")
    if "drain" in results:
        d = results["drain"]
        w(f"### 3. Outbox drain ({d['mails']:,} notifications into Postfix's smtp-sink, "
          f"~{d['size']:,} bytes each)")
        w("")
        w("| SMTP connections | Sealpost mails/s | smtp-source -d -s N mails/s | ratio |")
        w("|---:|---:|---:|---:|")
        for r in d["runs"]:
            value = ratio(r["ours"], r["theirs"])
            w(f"| {r['conns']} | {r['ours']:,.0f} | {r['theirs']:,.0f} | {value:.2f} "
              f"({verdict(value, 0.5)}) |")
        w("")
    if "criterion" in results:
        w(f"### 4. Cleaning and sealing (criterion, median of {args.criterion_secs} s)")
        w("")
        w("| benchmark | µs |")
        w("|---|---:|")
        for name, micros in results["criterion"]:
            w(f"| `{name}` | {micros:,.2f} |")
        w("")
    if "peer" in results:
        p = results["peer"]
        ours, peer = p["ours"], p["peer"]
        w("### 6. Peer: django-contact-form under gunicorn (2 workers), 16 connections")
        w("")
        w("| server | req/s | p50 ms | p99 ms | errors |")
        w("|---|---:|---:|---:|---:|")
        if ours:
            w(f"| Sealpost (SQLite, group commit) | {ours['rps']:,.0f} | "
              f"{ms(ours['p50_us']):.1f} | {ms(ours['p99_us']):.1f} | {ours['status_errors']} |")
        w(f"| django-contact-form, save() inserts a row, mails the sink | {peer['rps']:,.0f} | "
          f"{ms(peer['p50_us']):.1f} | {ms(peer['p99_us']):.1f} | {peer['status_errors']} |")
        w("")
        if ours:
            value = ratio(ours["rps"], peer["rps"])
            p99_ok = ours["p99_us"] <= peer["p99_us"]
            w(f"- Sealpost / peer = **{value:.1f}×** (target ≥ 10: {verdict(value, 10)}); "
              f"p99 {'equal or better' if p99_ok else '**worse**'}; the peer saved "
              f"{p['saved']:,} rows.")
            w("")
    if "audit" in results:
        a = results["audit"]
        w(f"### 7. Audit chain ({a['entries']:,} entries, SQLite)")
        w("")
        w("| measure | value |")
        w("|---|---:|")
        w(f"| `audit::verify` of the whole chain | {a['verify_secs']:.3f} s "
          f"({verdict(a['verify_secs'], 1.0, False)}: target ≤ 1 s) |")
        w(f"| append, inside a batch of 1,000 | {a['append_batched_us']:.1f} µs |")
        w(f"| append in a transaction of its own (synchronous=FULL) | "
          f"{a['append_alone_us']:.1f} µs |")
        w("")
    if "growth" in results:
        g = results["growth"]
        w("### 8. Growth (SQLite; stored conversations before the run)")
        w("")
        w("| stored | submit req/s (64 conns) | list first page p50 / p99 ms | "
          "list deep cursor p50 / p99 ms |")
        w("|---:|---:|---:|---:|")
        for r in g:
            w(f"| {r['n']:,} | {r['submit']['rps']:,.0f} | {r['first'][0]:.2f} / "
              f"{r['first'][1]:.2f} | {r['deep'][0]:.2f} / {r['deep'][1]:.2f} |")
        by_n = {r["n"]: r for r in g}
        if 100_000 in by_n and 1_000_000 in by_n:
            worst = max(ratio(by_n[1_000_000][k][1], by_n[100_000][k][1])
                        for k in ("first", "deep"))
            w("")
            w(f"- list p99 at 1M / at 100k: **{worst:.2f}×** worst case "
              f"(target ≤ 2: {verdict(worst, 2.0, False)})")
        w("")
    return "\n".join(out)


def write_benchmarks_md(text):
    path = ROOT / "BENCHMARKS.md"
    doc = path.read_text()
    begin, end = "<!-- bench/run: begin -->", "<!-- bench/run: end -->"
    block = f"{begin}\n{text}\n{end}"
    if begin in doc and end in doc:
        doc = doc[:doc.index(begin)] + block + doc[doc.index(end) + len(end):]
    else:
        doc = doc.rstrip() + "\n\n## Latest kit run\n\n" + block + "\n"
    path.write_text(doc)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=None,
                    help="sections: sustained submit form drain criterion peer audit growth")
    ap.add_argument("--seconds", type=int, default=8, help="wrk duration per cell")
    ap.add_argument("--levels", type=int, nargs="*", default=[1, 16, 64, 256])
    ap.add_argument("--backends", nargs="*", default=["sqlite", "postgres"])
    ap.add_argument("--mails", type=int, default=10_000)
    ap.add_argument("--smtp-connections", type=int, nargs="*", default=[1, 4])
    ap.add_argument("--criterion-secs", type=int, default=2)
    ap.add_argument("--audit-entries", type=int, default=100_000)
    ap.add_argument("--growth", type=int, nargs="*", default=[0, 100_000, 1_000_000])
    ap.add_argument("--list-runs", type=int, default=200)
    ap.add_argument("--window", type=int, default=20, help="sustained: wrk seconds per cell")
    ap.add_argument("--sustained-levels", type=int, nargs="*", default=[16, 64])
    ap.add_argument("--drain-timeout", type=int, default=600,
                    help="sustained: the most seconds to wait for the outbox to empty")
    ap.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = ap.parse_args()
    sections = args.only or ["sustained", "submit", "form", "drain", "criterion", "peer", "audit", "growth"]

    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.time()
    work = pathlib.Path(tempfile.mkdtemp(prefix="sealpost-bench-"))
    body_file = work / "submission.json"
    body_file.write_text(json.dumps(SUBMISSION))
    results = {}
    try:
        if "sustained" in sections:
            print("sustained (intake with delivery)", flush=True)
            results["sustained"] = sustained_section(args, work)
        if "submit" in sections:
            print("submit throughput", flush=True)
            results["submit"] = submit_section(args, work, body_file)
        if "form" in sections:
            print("form page", flush=True)
            results["form"] = form_section(args, work)
        if "drain" in sections:
            print("outbox drain", flush=True)
            results["drain"] = drain_section(args, work, body_file)
        if "criterion" in sections:
            print("criterion", flush=True)
            results["criterion"] = criterion_section(args)
        if "peer" in sections:
            print("peer (django-contact-form)", flush=True)
            at_16 = next((r for r in results.get("submit", ([], []))[0]
                          if r["backend"] == "sqlite" and r["variant"] == "sealpost"
                          and r["c"] == 16), None)
            results["peer"] = peer_section(args, work, at_16)
        if "audit" in sections:
            print("audit chain", flush=True)
            results["audit"] = audit_section(args)
        if "growth" in sections:
            print("growth", flush=True)
            results["growth"] = growth_section(args, work, body_file)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = report(args, results, started, time.time() - t0)
    print("\n" + text)
    if not args.no_write:
        write_benchmarks_md(text)
        print("\nBENCHMARKS.md updated")


if __name__ == "__main__":
    main()
