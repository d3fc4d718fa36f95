#!/usr/bin/env bash
# `just bench-ab OLD NEW [ROUNDS]`: two `enlist` binaries, run alternately
# (OLD, NEW, OLD, NEW, …) on a fresh SQLite file each: 10,000 entra-full
# users, then 20,000 of Entra's updates. Prints each run's rate and p99
# and the CPU time per operation of the writer thread and of the whole
# process (/proc/PID/task/*/stat): on a shared machine whose speed moves
# by a quarter from minute to minute, the writer's CPU per operation is
# the steadier figure. Loopback only; bounded by the work and --max-seconds.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 2 ] || { echo "usage: $0 OLD_ENLIST NEW_ENLIST [ROUNDS]" >&2; exit 2; }
old="$1" new="$2" rounds="${3:-2}" port="${PORT:-18281}"
for b in "$old" "$new"; do [ -x "$b" ] || { echo "$b: not an executable enlist binary" >&2; exit 2; }; done
cargo build --release --bin enlist-bench
# shellcheck source=bins/enlist-bench/serve.sh
. bins/enlist-bench/serve.sh
tck=$(getconf CLK_TCK)
# Ticks of the SQLite writer thread, and of the whole process.
cpu() {
    local w=0 t
    for t in /proc/"$1"/task/*; do
        grep -q '^enlist-sqlite-w' "$t/comm" 2>/dev/null && w=$(awk '{print $14 + $15}' "$t/stat")
    done
    echo "$w $(awk '{print $14 + $15}' /proc/"$1"/stat)"
}
work="$(mktemp -d)"
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
run() {
    local bin="$1" name="$2" n="$3"; shift 3
    local w0 p0 w1 p1 out
    read -r w0 p0 < <(cpu "$server")
    out=$(target/release/enlist-bench --url "http://127.0.0.1:$port/scim/v2" --max-seconds 120 "$@" 2>/dev/null \
        | awk '/\.rate|create\.p99|update\.p99/ {printf "%s %s ", $2, $3}')
    read -r w1 p1 < <(cpu "$server")
    echo "$bin $name: $out| writer $(( (w1 - w0) * 1000000 / tck / n )) us/op, process $(( (p1 - p0) * 1000000 / tck / n )) us/op"
}
for r in $(seq 1 "$rounds"); do
    for bin in "$old" "$new"; do
        rm -f "$work"/b.db* "$work/key"
        serve "$bin" "sqlite://$work/b.db" "$port" "$work/out" "$work/key"
        export ENLIST_BENCH_TOKEN="$(cat "$work/key")"
        run "$bin" entra-full 10000 --prefix full provision --users 10000 --profile entra-full
        run "$bin" update 20000 --prefix full update --users 10000 --requests 20000
        kill "$server"; wait "$server" 2>/dev/null || true; server=""
    done
done
