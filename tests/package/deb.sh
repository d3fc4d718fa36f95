#!/usr/bin/env bash
# The Debian package end to end, on this machine (as root): build it with
# cargo-deb, install it, check the service user, configuration and unit,
# then run `enlist serve` from the installed files as the service user with
# the packaged configuration, provision one user through it over HTTP, stop
# it cleanly, and purge the package. Every wait is bounded.
#   bash tests/package/deb.sh            (just package-test)
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "run as root: it installs a package"; exit 1; }
command -v cargo-deb >/dev/null 2>&1 || cargo install cargo-deb --locked
command -v curl >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq curl; }

echo "== building the package (release)"
cargo deb -p enlist-cli --output target/debian/enlist.deb
dpkg-deb --info target/debian/enlist.deb | sed -n '/Package:/,/Description:/p'

if dpkg -s enlist >/dev/null 2>&1; then dpkg --purge enlist >/dev/null; fi
work="$(mktemp -d)"
server=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null || true
    dpkg --purge enlist >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "== installing"
dpkg -i target/debian/enlist.deb
getent passwd enlist >/dev/null || { echo "no enlist system user"; exit 1; }
[ "$(stat -c '%U:%G %a' /var/lib/enlist)" = "enlist:enlist 750" ] || { stat /var/lib/enlist; exit 1; }
[ "$(stat -c '%U:%G %a' /etc/enlist/enlist.toml)" = "root:enlist 640" ] || { stat /etc/enlist/enlist.toml; exit 1; }
[ -x /usr/bin/enlist ] && [ -f /lib/systemd/system/enlist.service ]
if command -v systemd-analyze >/dev/null 2>&1; then
    # Syntax and directives of the unit, offline (no systemd runs here).
    systemd-analyze verify /lib/systemd/system/enlist.service
fi

as_enlist() { (cd /var/lib/enlist && runuser -u enlist -- env STATE_DIRECTORY=/var/lib/enlist "$@"); }
cfg=(--config /etc/enlist/enlist.toml)

echo "== operator setup as the service user, with the packaged configuration"
as_enlist enlist "${cfg[@]}" org create Contoso --owner boss@contoso.com --domain contoso.com
key="$(as_enlist enlist "${cfg[@]}" api-key create Contoso --label "Entra ID" | tail -n 1)"
[ -n "$key" ]

echo "== serving from the installed files"
# The packaged configuration, with ports of this test's choosing.
# setpriv execs (runuser would stay as a parent and mask the exit status).
(cd /var/lib/enlist && exec setpriv --reuid=enlist --regid=enlist --init-groups env STATE_DIRECTORY=/var/lib/enlist \
    ENLIST_BIND=127.0.0.1:18288 ENLIST_ADMIN_BIND=127.0.0.1:18289 \
    /usr/bin/enlist "${cfg[@]}" serve) >"$work/serve.out" 2>"$work/serve.err" &
server=$!
for _ in $(seq 1 100); do grep -q '^Ready' "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^Ready' "$work/serve.out" || { cat "$work/serve.out" "$work/serve.err"; echo "enlist serve did not start"; exit 1; }
code="$(curl -s -o "$work/created.json" -w '%{http_code}' -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/scim+json' \
    -d '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ana@contoso.com"}' \
    http://127.0.0.1:18288/scim/v2/Users)"
[ "$code" = 201 ] || { cat "$work/created.json" "$work/serve.err"; echo "provisioning answered $code"; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:18289/readyz)" = 200 ]
[ "$(stat -c '%U' /var/lib/enlist/enlist.db)" = enlist ] || { ls -l /var/lib/enlist; exit 1; }
kill -TERM "$server"
wait "$server" || { cat "$work/serve.err"; echo "enlist serve did not stop cleanly"; exit 1; }
server=""
echo "package: installed, served as the enlist user, provisioned ana@contoso.com (201), stopped cleanly"
