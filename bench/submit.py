#!/usr/bin/env python3
"""Submits N messages to POST /api/v1/messages over C keep-alive connections (Python stdlib only).

usage: submit.py URL N [CONCURRENCY]
Prints the number of 201 answers and the elapsed seconds.
"""
import http.client, json, sys, threading, time, urllib.parse

url, total = sys.argv[1], int(sys.argv[2])
conns = int(sys.argv[3]) if len(sys.argv) > 3 else 8
parts = urllib.parse.urlsplit(url)
body = json.dumps({
    "name": "Bench Visitor",
    "email": "bench.visitor@example.org",
    "subject": "Benchmark message",
    "body": "<p>Hello,</p><p>" + "this is a realistic message body with <b>some</b> markup. " * 20 + "</p>",
    "consent": True,
}).encode()
lock = threading.Lock()
counts = {"sent": 0, "created": 0}

def worker():
    c = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    while True:
        with lock:
            if counts["sent"] >= total:
                return
            counts["sent"] += 1
        c.request("POST", parts.path, body, {"content-type": "application/json"})
        r = c.getresponse()
        r.read()
        if r.status == 201:
            with lock:
                counts["created"] += 1

start = time.time()
threads = [threading.Thread(target=worker) for _ in range(conns)]
for t in threads: t.start()
for t in threads: t.join()
print(f"{counts['created']} created in {time.time() - start:.1f} s")
