#!/usr/bin/env python3
"""Bounded SCIM load against a local `enlist serve` (127.0.0.1 only).

    enlist serve --bind 127.0.0.1:18181 --first-key-file key.txt > serve.out &
    python3 tests/load/scim_load.py key.txt 18181

Creates 2,000 users sequentially, then 8 clients send 4,000 requests in all,
alternating Entra's matching query (userName eq) and a PATCH. Prints rates
and latency percentiles. Every loop is bounded.
"""
import http.client
import json
import sys
import threading
import time

key_file, port = sys.argv[1], int(sys.argv[2])
key = open(key_file).read().strip()
headers = {"Authorization": "Bearer " + key, "Content-Type": "application/scim+json"}
USERS, CLIENTS, PER_CLIENT = 2000, 8, 500


def conn():
    return http.client.HTTPConnection("127.0.0.1", port, timeout=30)


ids = []
c = conn()
t0 = time.time()
for i in range(USERS):
    body = {"userName": f"u{i}@contoso.com", "emails": [{"type": "work", "value": f"u{i}@contoso.com"}], "roles": [{"value": "FullMember"}]}
    c.request("POST", "/scim/v2/Users", json.dumps(body), headers)
    r = c.getresponse()
    data = r.read()
    assert r.status == 201, (r.status, data)
    ids.append(json.loads(data)["id"])
create_rate = USERS / (time.time() - t0)

latencies, lock = [], threading.Lock()


def client(k):
    c = conn()
    for j in range(PER_CLIENT):
        i = (k * PER_CLIENT + j) % USERS
        t = time.time()
        if j % 2 == 0:
            c.request("GET", f"/scim/v2/Users?filter=userName+eq+%22u{i}%40contoso.com%22", headers=headers)
        else:
            ops = {"Operations": [{"op": "replace", "path": "title", "value": f"t{j}"}]}
            c.request("PATCH", f"/scim/v2/Users/{ids[i]}", json.dumps(ops), headers)
        r = c.getresponse()
        r.read()
        assert r.status == 200, r.status
        with lock:
            latencies.append(time.time() - t)


t0 = time.time()
threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.time() - t0
latencies.sort()
print(
    f"creates (1 client, sequential): {create_rate:.0f}/s; "
    f"userName eq + PATCH, {CLIENTS} clients: {len(latencies) / elapsed:.0f} req/s, "
    f"p50 {latencies[len(latencies) // 2] * 1000:.1f} ms, p99 {latencies[int(len(latencies) * 0.99)] * 1000:.1f} ms"
)
