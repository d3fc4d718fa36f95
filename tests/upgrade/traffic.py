#!/usr/bin/env python3
"""Entra-shaped SCIM traffic for the upgrade test (127.0.0.1 only, bounded).

    traffic.py run PORT KEY OUT STOPFILE   # create users and PATCH them until STOPFILE exists (at most 5,000 requests)
    traffic.py check PORT KEY OUT          # every user acknowledged in OUT exists, with its last acknowledged title

`run` writes one line per acknowledged write to OUT ("created NAME" or
"title NAME VALUE") and exits 1 if any request got a 5xx or failed to
connect; every other answer is what Entra would get on a healthy server.
"""
import http.client
import json
import os
import sys
import time


def request(port, key, method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": "Bearer " + key, "Content-Type": "application/scim+json"}
    c.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, (json.loads(data) if data else None)


def run(port, key, out, stop):
    failures, ids = 0, []
    with open(out, "w") as log:
        for i in range(5000):
            if os.path.exists(stop):
                break
            try:
                if i % 3 == 2 and ids:
                    # Entra's update: a PATCH replacing several attributes.
                    uid, name = ids[i % len(ids)]
                    title = f"title-{i}"
                    ops = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
                        {"op": "Replace", "path": "title", "value": title},
                        {"op": "Replace", "path": "displayName", "value": f"User {i}"}]}
                    status, _ = request(port, key, "PATCH", f"/scim/v2/Users/{uid}", ops)
                    if status == 200:
                        log.write(f"title {name} {title}\n")
                else:
                    name = f"u{i}@contoso.com"
                    user = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name,
                            "externalId": f"ext-{i}", "active": True, "displayName": f"User {i}",
                            "name": {"givenName": "U", "familyName": str(i)},
                            "emails": [{"primary": True, "type": "work", "value": name}]}
                    status, body = request(port, key, "POST", "/scim/v2/Users", user)
                    if status == 201:
                        ids.append((body["id"], name))
                        log.write(f"created {name}\n")
                if status >= 500:
                    failures += 1
                    print(f"request {i}: HTTP {status}", file=sys.stderr)
            except OSError as e:
                failures += 1
                print(f"request {i}: {e}", file=sys.stderr)
            log.flush()
    print(f"traffic: {len(ids)} users created, {failures} failures")
    return 1 if failures else 0


def check(port, key, out):
    created, titles = [], {}
    for line in open(out):
        parts = line.split()
        if parts[0] == "created":
            created.append(parts[1])
        else:
            titles[parts[1]] = parts[2]
    seen, start = {}, 1
    while True:
        status, page = request(port, key, "GET", f"/scim/v2/Users?startIndex={start}&count=500")
        assert status == 200, status
        for u in page["Resources"]:
            seen[u["userName"]] = u.get("title")
        start += len(page["Resources"])
        if not page["Resources"] or start > page["totalResults"]:
            break
    lost = [n for n in created if n not in seen]
    stale = [n for n, t in titles.items() if seen.get(n) != t]
    print(f"check: {len(created)} acknowledged users, {len(lost)} lost, {len(stale)} with a lost title")
    return 1 if lost or stale or not created else 0


if __name__ == "__main__":
    cmd, port, key, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    sys.exit(run(port, key, out, sys.argv[5]) if cmd == "run" else check(port, key, out))
