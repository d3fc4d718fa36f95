#!/usr/bin/env bash
# The TLS-terminating proxies of docs/deploy.md, run for real on this
# machine (root; installs Debian's nginx and caddy when missing, without
# starting their services): each terminates HTTPS with a certificate made
# here and forwards to `enlist serve` on loopback; a SCIM request through
# each must answer 200 with the right Location. Bounded waits.
#   bash tests/package/proxies.sh        (just proxy-test)
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "run as root: it installs nginx and caddy"; exit 1; }
missing=""
command -v nginx >/dev/null 2>&1 || missing="$missing nginx-light"
command -v caddy >/dev/null 2>&1 || missing="$missing caddy"
if [ -n "$missing" ]; then
    # Install without starting the packages' own services (port 80, 2019).
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing) || { rm -f /usr/sbin/policy-rc.d; exit 1; }
    rm -f /usr/sbin/policy-rc.d
fi
[ -x target/debug/enlist ] || cargo build -q --bin enlist
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost -addext basicConstraints=critical,CA:FALSE \
    -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

db="sqlite://$work/enlist.db"
target/debug/enlist --database "$db" org create Contoso --owner boss@contoso.com --domain contoso.com >/dev/null 2>&1
key="$(target/debug/enlist --database "$db" api-key create Contoso --label Entra 2>/dev/null | tail -n 1)"

check() { # NAME PORT: a SCIM request through the proxy
    local base="https://localhost:$2"
    for _ in $(seq 1 100); do curl -s --cacert "$work/cert.pem" -o /dev/null "$base/scim/v2/ServiceProviderConfig" && break; sleep 0.1; done
    code="$(curl -s --cacert "$work/cert.pem" -o "$work/$1.json" -w '%{http_code}' -H "Authorization: Bearer $key" \
        -H 'Content-Type: application/scim+json' -d '{"userName":"via-'"$1"'@contoso.com"}' "$base/scim/v2/Users")"
    [ "$code" = 201 ] || { cat "$work/$1.json"; echo "$1: HTTP $code"; exit 1; }
    grep -q "\"location\":\"$base/scim/v2/Users/" "$work/$1.json" || { cat "$work/$1.json"; echo "$1: Location is not the public URL"; exit 1; }
    echo "$1: HTTPS through the proxy, 201, Location $base/..."
}

run_behind() { # NAME PORT: enlist serve on loopback with the proxy's public URL
    target/debug/enlist --database "$db" serve --bind "127.0.0.1:$(($2 + 100))" --no-trial-org \
        --public-url "https://localhost:$2" >"$work/$1-serve.out" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 100); do grep -q '^Ready' "$work/$1-serve.out" 2>/dev/null && return 0; sleep 0.1; done
    cat "$work/$1-serve.out"; exit 1
}

# nginx, as docs/deploy.md gives it (paths and ports of this test).
run_behind nginx 18443
cat > "$work/nginx.conf" <<CONF
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events {}
http {
    access_log off;
    client_body_temp_path $work;
    server {
        listen 127.0.0.1:18443 ssl;
        server_name localhost;
        ssl_certificate     $work/cert.pem;
        ssl_certificate_key $work/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        client_max_body_size 1m;
        location /scim/ {
            proxy_pass http://127.0.0.1:18543;
            proxy_set_header Host \$host;
            proxy_set_header X-Request-Id \$request_id;
            proxy_read_timeout 60s;
        }
    }
}
CONF
nginx -c "$work/nginx.conf" -g 'daemon off;' &
pids+=($!)
check nginx 18443

# Caddy, as docs/deploy.md gives it, with this test's certificate instead
# of one from a public CA.
run_behind caddy 18444
cat > "$work/Caddyfile" <<CONF
{
    admin off
    auto_https disable_redirects
}
https://localhost:18444 {
    tls $work/cert.pem $work/key.pem
    reverse_proxy 127.0.0.1:18544
}
CONF
XDG_DATA_HOME="$work" XDG_CONFIG_HOME="$work" caddy run --config "$work/Caddyfile" --adapter caddyfile >"$work/caddy.log" 2>&1 &
pids+=($!)
check caddy 18444
echo "proxies: nginx and Caddy terminate HTTPS in front of enlist serve"
