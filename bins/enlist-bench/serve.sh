# Sourced by run.sh and ab.sh. `serve BIN DATABASE_URL PORT OUT KEYFILE`
# starts `enlist serve` on 127.0.0.1:PORT (its output in OUT, a fresh
# database's first key in KEYFILE), sets $server to its pid and returns
# once it prints `Ready`; after 10 s it shows the output and exits.
serve() {
    local bin="$1" url="$2" port="$3" out="$4" key="$5"
    "$bin" --database "$url" serve --bind "127.0.0.1:$port" --first-key-file "$key" >"$out" 2>&1 &
    server=$!
    for _ in $(seq 1 1000); do grep -q '^Ready' "$out" 2>/dev/null && return; sleep 0.01; done
    cat "$out"
    echo "$bin did not become ready on port $port (is the port free?)" >&2
    exit 1
}
