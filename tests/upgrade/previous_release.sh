#!/usr/bin/env bash
# Upgrade under traffic: the previous release serves Entra-shaped traffic
# on its own schema while this build's `enlist migrate` applies the new
# migrations; nothing fails and no acknowledged write is lost, and this
# build then serves every one of them. SQLite and PostgreSQL (when
# reachable; with CI=true a missing PostgreSQL fails). Bounded.
#   bash tests/upgrade/previous_release.sh      (just upgrade-test)
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$PWD"
# The last landed release with an older schema than this build's (schema
# 18: migrations 19 and 20 are applied under its traffic; on PostgreSQL
# the partial index of matched-on values is built and the index of every
# value row dropped CONCURRENTLY while it writes and filters). 51ff191
# landed after it with the same schema as this build; moving PREVIOUS
# there would apply no migration, so it moves with the next migration.
PREVIOUS="${PREVIOUS:-702bbc54bfff7b95abb51490a6221361f8cc9552}"
if ! git cat-file -e "$PREVIOUS^{commit}" 2>/dev/null; then
    echo "*** SKIPPED: the upgrade test: the previous release $PREVIOUS is not in this clone's history (a shallow clone?) ***"
    exit 0
fi
work="$(mktemp -d)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    git -C "$repo" worktree remove --force "$work/prev" 2>/dev/null || true
    [ -n "${pgdb:-}" ] && psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $pgdb WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "== building the previous release ($PREVIOUS) and this one"
git worktree add --detach "$work/prev" "$PREVIOUS" >/dev/null
(cd "$work/prev" && CARGO_TARGET_DIR="$repo/target/previous-release" cargo build -q --bin enlist)
OLD="$repo/target/previous-release/debug/enlist"
cargo build -q --bin enlist
NEW="$repo/target/debug/enlist"

serve() { # BINARY DB PORT LOG: starts a server, waits for Ready (bounded)
    "$1" --database "$2" serve --bind "127.0.0.1:$3" >"$4" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 150); do grep -q '^Ready' "$4" 2>/dev/null && return 0; sleep 0.1; done
    cat "$4"; echo "$1 serve did not start"; exit 1
}

upgrade() { # NAME DB
    local name="$1" db="$2" port=18301
    echo "== $name: previous release on its schema"
    "$OLD" --database "$db" org create Contoso --owner boss@contoso.com --domain contoso.com >/dev/null 2>&1
    key="$("$OLD" --database "$db" api-key create Contoso --label "Entra ID" 2>/dev/null | tail -n 1)"
    serve "$OLD" "$db" "$port" "$work/$name-old.log"
    old_pid="${pids[-1]}"
    rm -f "$work/stop"
    python3 tests/upgrade/traffic.py run "$port" "$key" "$work/$name.acked" "$work/stop" &
    traffic=$!
    sleep 2
    echo "== $name: this build migrates while the previous release serves"
    "$NEW" --database "$db" migrate
    sleep 2
    touch "$work/stop"
    wait "$traffic" || { echo "$name: requests failed while migrating"; exit 1; }
    kill -TERM "$old_pid"; wait "$old_pid" || true
    echo "== $name: this build serves every acknowledged write"
    serve "$NEW" "$db" "$((port + 1))" "$work/$name-new.log"
    python3 tests/upgrade/traffic.py check "$((port + 1))" "$key" "$work/$name.acked"
    kill -TERM "${pids[-1]}"
}

upgrade sqlite "sqlite://$work/upgrade.db"
if pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then
    pgdb="enlist_upgrade_$$"
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $pgdb"
    upgrade postgres "postgres://postgres@127.0.0.1:5432/$pgdb"
elif [ "${CI:-}" = true ]; then
    echo "CI=true but PostgreSQL is not reachable at 127.0.0.1:5432"; exit 1
else
    echo "*** SKIPPED: the PostgreSQL half of the upgrade test: no PostgreSQL at 127.0.0.1:5432 ***"
fi
echo "upgrade: no request failed while the migrations applied, and no acknowledged write was lost"
