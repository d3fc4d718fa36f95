#!/usr/bin/env bash
# `just bench-scim`: a fresh release `enlist serve` on a temporary SQLite
# file, and on PostgreSQL when one answers at ENLIST_BENCH_PG (default
# postgres://postgres@127.0.0.1:5432), each loaded with enlist-bench at
# fixed sizes. Loopback only; every scenario is bounded by its work and by
# --max-seconds. USERS, MEMBERS, GROUP_COUNT and TENANTS change the sizes;
# BACKENDS=sqlite skips PostgreSQL, TENANTS=0 skips `mixed`. `deliveries`
# listens on PORT+1.
set -euo pipefail
cd "$(dirname "$0")/../.."
USERS="${USERS:-10000}"
MEMBERS="${MEMBERS:-10000}"
TENANTS="${TENANTS:-100}"
GROUP_COUNT="${GROUP_COUNT:-1}"
BACKENDS="${BACKENDS:-sqlite postgres}"
PORT="${PORT:-18181}"
cargo build --release --bin enlist --bin enlist-bench
# ENLIST: another `enlist` binary to measure (an older build, say).
enlist="${ENLIST:-target/release/enlist}"
# shellcheck source=bins/enlist-bench/serve.sh
. bins/enlist-bench/serve.sh
bench() { target/release/enlist-bench --url "http://127.0.0.1:$PORT/scim/v2" --max-seconds 300 "$@"; }
rss() { echo "$1 $(( $(ps -o rss= -p "$server") / 1024 )) MiB"; }
start() { serve "$enlist" "$1" "$PORT" "$work/serve.out" "$work/key"; }
# Statistics as autovacuum gathers them. Where it is off (as on the
# development machine) PostgreSQL keeps the plans it made for empty tables,
# and a load slows as the tables grow: every 10 s while a scenario runs,
# and after each bulk load, ANALYZE.
analyze() { case "$1" in postgres*) psql "$1" -qc ANALYZE ;; esac; }
analyzer=""
start_analyzer() {
    case "$1" in postgres*) (for _ in $(seq 1 720); do sleep 10; psql "$1" -qc ANALYZE 2>/dev/null; done) & analyzer=$! ;; esac
}
stop_analyzer() { [ -n "$analyzer" ] && kill "$analyzer" 2>/dev/null; analyzer=""; }
work="$(mktemp -d)"
server=""
stop() { [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; server=""; }
trap 'stop; stop_analyzer; rm -rf "$work"' EXIT

run_on() {
    local name="$1" url="$2"
    echo "== $name ($url)"
    rm -f "$work/key"
    start "$url"
    local key
    key="$(cat "$work/key" 2>/dev/null || true)"
    [ -n "$key" ] || { cat "$work/serve.out"; echo "no API key printed: is the database fresh?"; exit 1; }
    export ENLIST_BENCH_TOKEN="$key"
    start_analyzer "$url"
    bench provision --users "$USERS"
    analyze "$url"
    rss rss.after_provision
    bench lookup --users "$USERS" --requests 30000
    bench page --requests 1000
    rss rss.after_page
    # Suspending every user over and over is what the deprovisioning guard
    # stops; an operator planning it switches the guard off, as here. Each
    # PATCH still takes the guard's lock and records its removal.
    "$enlist" --database "$url" org guard Default off >/dev/null
    bench deactivate --users "$USERS" --requests 20000
    rss rss.after_deactivate
    # Entra ID's full default mappings, then its multi-attribute update.
    bench --prefix full provision --users "$USERS" --profile entra-full
    analyze "$url"
    rss rss.after_provision_entra_full
    bench --prefix full update --users "$USERS" --requests 20000
    bench group-build --members "$MEMBERS" --groups "$GROUP_COUNT"
    analyze "$url"
    bench group-query --groups "$GROUP_COUNT" --requests 20000
    # Lookups again, now that users are members (each also reads its groups).
    bench lookup --users "$USERS" --requests 30000 | sed 's/^lookup\./lookup_in_groups./'
    rss rss.after_groups
    # Cold start on the loaded database, then memory across paging.
    stop
    stop_analyzer
    local t0 t1
    t0=$(date +%s%N); start "$url"; t1=$(date +%s%N)
    echo "cold_start $(( (t1 - t0) / 1000000 )) ms"
    rss rss.cold
    bench page --requests 1000 >/dev/null
    rss rss.cold_after_page
    # Webhook deliveries while users are provisioned: enlist-bench receives
    # on a loopback port registered as the Default organization's endpoint.
    local hook hook_port=$((PORT + 1))
    hook="$("$enlist" --database "$url" webhook add Default "http://127.0.0.1:$hook_port/hook" --allow-private | awk 'NR==1 {print $2}')"
    bench --prefix deliv deliveries --users "$USERS" --listen "127.0.0.1:$hook_port"
    "$enlist" --database "$url" webhook remove Default "$hook" >/dev/null
    [ "$TENANTS" -gt 0 ] || { stop; return; }
    # Tenants for `mixed`: an organization, a domain and a key each.
    : >"$work/tenants"
    for t in $(seq 1 "$TENANTS"); do
        # With its domain at once: SCIM is on only for an organization
        # with a registered domain.
        "$enlist" --database "$url" org create "bench-t$t" --domain "t$t.bench.example" >/dev/null 2>&1
        k="$("$enlist" --database "$url" api-key create "bench-t$t" --label bench 2>/dev/null | tail -n1)"
        echo "$k t$t.bench.example" >>"$work/tenants"
        [ $((t % 10)) -eq 0 ] && echo "tenants: $t/$TENANTS" >&2
    done
    start_analyzer "$url"
    bench mixed --tenants "$work/tenants" --rate 25 --seconds 20
    stop_analyzer
    stop
}

case " $BACKENDS " in *" sqlite "*) run_on sqlite "sqlite://$work/bench.db" ;; esac
case " $BACKENDS " in *" postgres "*) ;; *) exit 0 ;; esac
pg="${ENLIST_BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
if command -v psql >/dev/null && psql "$pg/postgres" -qAtc 'select 1' >/dev/null 2>&1; then
    db="enlist_bench_$$"
    psql "$pg/postgres" -qc "CREATE DATABASE $db" >/dev/null
    run_on postgres "$pg/$db"
    psql "$pg/postgres" -qc "DROP DATABASE $db" >/dev/null
else
    echo "== postgres: SKIPPED (nothing answers at $pg; set ENLIST_BENCH_PG)"
fi
