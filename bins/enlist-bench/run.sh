#!/usr/bin/env bash
# `just bench-scim`: a fresh release `enlist serve` on a temporary SQLite
# file, and on PostgreSQL when one answers at ENLIST_BENCH_PG (default
# postgres://postgres@127.0.0.1:5432), each loaded with enlist-bench at
# fixed sizes. Loopback only; every scenario is bounded by its work and by
# --max-seconds. USERS, MEMBERS and TENANTS change the sizes.
set -euo pipefail
cd "$(dirname "$0")/../.."
USERS="${USERS:-10000}"
MEMBERS="${MEMBERS:-10000}"
TENANTS="${TENANTS:-100}"
PORT="${PORT:-18181}"
cargo build --release --bin enlist --bin enlist-bench
enlist=target/release/enlist
bench() { target/release/enlist-bench --url "http://127.0.0.1:$PORT/scim/v2" --max-seconds 120 "$@"; }
work="$(mktemp -d)"
server=""
stop() { [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; server=""; }
trap 'stop; rm -rf "$work"' EXIT

run_on() {
    local name="$1" url="$2"
    echo "== $name ($url)"
    "$enlist" --database "$url" serve --bind "127.0.0.1:$PORT" >"$work/serve.out" 2>&1 &
    server=$!
    for _ in $(seq 1 100); do grep -q '^Ready' "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
    local key
    key="$(sed -n 's/^API key: //p' "$work/serve.out")"
    [ -n "$key" ] || { cat "$work/serve.out"; echo "no API key printed: is the database fresh?"; exit 1; }
    export ENLIST_BENCH_TOKEN="$key"
    bench provision --users "$USERS"
    bench lookup --users "$USERS" --requests 30000
    bench page --requests 1000
    bench deactivate --users "$USERS" --requests 20000
    bench group-build --members "$MEMBERS" --groups 1
    bench group-query --groups 1 --requests 20000
    echo "rss.after_load $(( $(ps -o rss= -p "$server") / 1024 )) MiB"
    # Tenants for `mixed`: an organization, a domain and a key each.
    : >"$work/tenants"
    for t in $(seq 1 "$TENANTS"); do
        "$enlist" --database "$url" org create "bench-t$t" >/dev/null 2>&1
        "$enlist" --database "$url" domain add "bench-t$t" "t$t.bench.example" >/dev/null 2>&1
        k="$("$enlist" --database "$url" api-key create "bench-t$t" --label bench 2>/dev/null | tail -n1)"
        echo "$k t$t.bench.example" >>"$work/tenants"
        [ $((t % 10)) -eq 0 ] && echo "tenants: $t/$TENANTS" >&2
    done
    bench mixed --tenants "$work/tenants" --rate 25 --seconds 20
    stop
}

run_on sqlite "sqlite://$work/bench.db"
pg="${ENLIST_BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
if command -v psql >/dev/null && psql "$pg/postgres" -qAtc 'select 1' >/dev/null 2>&1; then
    db="enlist_bench_$$"
    psql "$pg/postgres" -qc "CREATE DATABASE $db" >/dev/null
    run_on postgres "$pg/$db"
    psql "$pg/postgres" -qc "DROP DATABASE $db" >/dev/null
else
    echo "== postgres: SKIPPED (nothing answers at $pg; set ENLIST_BENCH_PG)"
fi
