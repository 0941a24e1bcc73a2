#!/usr/bin/env python3
"""What the spam defences cost a submission: Sealpost with the proof of work and the scoring on
(as production ships), beside the same build with the proof of work off, beside the build
before the defences existed ("before", a release binary of an earlier commit), in one run.

usage: bench/spam.py --before BIN [--after BIN] [--requests N] [--connections C]

Every variant gets the same N submissions to POST /api/v1/messages over C keep-alive
connections, each with a text of its own (visitors do not all write the same words), on SQLite,
with delivery on into Postfix's smtp-sink (two mails per submission), and the kit waits until
the outbox is empty. With the proof of work on, each submission carries a solution of its own:
N challenges are fetched from the server and solved by bench/pow-solve before the clock
starts, so what is timed is the server's side (verifying a solution and spending its challenge).
Reports req/s over the N submissions, p50 and p99 latency, and how many were held or refused
(none should be: the texts are friendly). Python standard library only, beside the release
binaries; bench/run builds them.
"""
import argparse, http.client, json, os, pathlib, shutil, subprocess, sys, tempfile, threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import kit  # noqa: E402  (the kit's process and environment helpers)

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOLVER = ROOT / "target" / "release" / "sealpost-bench-pow-solve"

WORDS = ("order delivery parcel invoice refund account password address courier warehouse "
         "tuesday morning colour size exchange receipt store branch question thanks").split()


def body(i):
    # A friendly text of its own per submission: the same text from many addresses is a signal.
    picks = " ".join(WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(12))
    return (f"Hello,\n\nI have a question about my {WORDS[i % len(WORDS)]} number {i}: {picks}."
            "\nCould you tell me when it arrives? The tracking page shows nothing yet."
            "\n\nThank you and kind regards")


def submissions(n, payloads=None):
    out = []
    for i in range(n):
        msg = {"name": "Bench Visitor", "email": f"visitor{i}@example.org",
               "subject": f"Question {i}", "body": body(i), "consent": True}
        if payloads:
            msg["altcha"] = payloads[i]
        out.append(json.dumps(msg).encode())
    return out


def drive(port, bodies, conns):
    """Posts every body once over `conns` keep-alive connections; (statuses, latencies, secs)."""
    lock = threading.Lock()
    queue = list(enumerate(bodies))
    statuses, latencies = {}, []

    def worker():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                if not queue:
                    return
                _, data = queue.pop()
            start = time.perf_counter()
            c.request("POST", "/api/v1/messages", data, {"content-type": "application/json"})
            r = c.getresponse()
            r.read()
            took = time.perf_counter() - start
            with lock:
                statuses[r.status] = statuses.get(r.status, 0) + 1
                latencies.append(took)

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses, sorted(latencies), time.perf_counter() - start


def quantile(sorted_values, q):
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def challenges(port, n):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    out = []
    for _ in range(n):
        c.request("GET", "/api/v1/challenge")
        r = c.getresponse()
        text = r.read().decode()
        if r.status != 200:
            raise RuntimeError(f"GET /api/v1/challenge: {r.status} {text}")
        out.append(text.replace("\n", ""))
    return out


def solve(lines):
    done = subprocess.run([str(SOLVER)], input="\n".join(lines) + "\n", text=True,
                          capture_output=True, check=True)
    return done.stdout.split()


def count_statuses(db):
    out = subprocess.run(["sqlite3", str(db), "SELECT status, count(*) FROM threads GROUP BY 1"],
                         capture_output=True, text=True, check=True).stdout
    return dict(line.split("|") for line in out.split())


def run(binary, label, pow_on, args, work):
    run_dir = pathlib.Path(tempfile.mkdtemp(dir=work, prefix="spam-"))
    port, sink_port = kit.free_port(), kit.free_port()
    sink = kit.smtp_sink(sink_port)
    settings = {"mail.transport": "smtp", "mail.smtp.url": f"smtp://127.0.0.1:{sink_port}"}
    if pow_on is not None:
        settings["spam.pow.enabled"] = "true" if pow_on else "false"
    env = kit.sealpost_env(run_dir, port, None, **settings)
    subprocess.run([str(binary), "migrate"], env=env, check=True, capture_output=True)
    server = kit.Server([str(binary), "serve"], env, port, run_dir / "server.log")
    try:
        payloads = None
        solve_secs = None
        if pow_on:
            started = time.perf_counter()
            payloads = solve(challenges(port, args.requests))
            solve_secs = time.perf_counter() - started
        bodies = submissions(args.requests, payloads)
        started = time.perf_counter()
        statuses, latencies, secs = drive(port, bodies, args.connections)
        # Until every mail of the run has been handed to the sink.
        db = run_dir / "sealpost.db"
        deadline = time.time() + 600
        while time.time() < deadline:
            left = subprocess.run(
                ["sqlite3", str(db), "SELECT count(*) FROM outbox WHERE state IN ('pending','sending')"],
                capture_output=True, text=True, check=True).stdout.strip()
            if left == "0":
                break
            time.sleep(0.2)
        delivered_secs = time.perf_counter() - started
        threads = count_statuses(db)
    finally:
        server.stop()
        sink.terminate()
        sink.wait()
    row = dict(label=label, requests=args.requests, created=statuses.get(201, 0),
               other=sum(n for s, n in statuses.items() if s != 201),
               rps=args.requests / secs, p50_ms=quantile(latencies, 0.5) * 1000,
               p99_ms=quantile(latencies, 0.99) * 1000, held=int(threads.get("held", 0)),
               delivered_per_s=args.requests / delivered_secs, solve_secs=solve_secs)
    print(f"  {label:52} {row['rps']:7.0f} req/s  p50 {row['p50_ms']:6.1f} ms  "
          f"p99 {row['p99_ms']:6.1f} ms  201: {row['created']}  other: {row['other']}  "
          f"held: {row['held']}  all mail out at {row['delivered_per_s']:5.0f} submissions/s",
          flush=True)
    shutil.rmtree(run_dir, ignore_errors=True)
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", required=True, help="a release sealpost of the earlier commit")
    ap.add_argument("--after", default=str(ROOT / "target" / "release" / "sealpost"))
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=2, help="each variant this many times, interleaved")
    args = ap.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="sealpost-spam-bench-"))
    variants = [
        (args.before, "before: honeypot and rate limit only (no scoring)", None),
        (args.after, "after: scoring on, proof of work off (off)", False),
        (args.after, "after: scoring and proof of work on (as shipped)", True),
    ]
    rows = []
    try:
        for round_ in range(args.rounds):
            print(f"round {round_ + 1} of {args.rounds}", flush=True)
            for binary, label, pow_on in variants:
                rows.append(run(binary, label, pow_on, args, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
