# Everyday commands. Each recipe is a plain cargo command, so nothing needs
# `just` on a fresh machine (see README.md).

# Run the server on the embedded SQLite default.
run *ARGS:
    cargo run --bin enlist -- serve {{ARGS}}

# Run the whole test suite.
test:
    cargo nextest run --workspace

# Formatting and lints, as CI checks them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Every feature combination of enlist the docs name, without a warning;
# the SQLite-only tree links no libpq or OpenSSL.
features:
    bash .ci/features

# The dependency rule of enlist-core.
check-deps:
    cargo nextest run -p enlist-tests -E 'test(enlist_core_has_no_framework_dependencies)'

# Build the Debian package (target/debian/).
package:
    cargo deb -p enlist-cli --output target/debian/enlist.deb

# The package end to end on this machine (root): build, install, serve as
# the enlist user, provision one user, purge. CI runs it.
package-test:
    bash tests/package/deb.sh

# nginx and Caddy as docs/deploy.md configures them, in front of enlist
# serve (root; installs them without starting their services).
proxy-test:
    bash tests/package/proxies.sh

# Upgrade under traffic from the previous release (builds it from git).
upgrade-test:
    bash tests/upgrade/previous_release.sh

# The console in Chromium (axe-core checked), writing its screenshots to
# docs/console/ (needs chromium, chromium-driver, and npm ci --prefix
# tests/browser).
screenshots:
    npm ci --prefix tests/browser --no-audit --no-fund
    ENLIST_SCREENSHOTS_TO_DOCS=1 cargo nextest run -p enlist-cli -E 'test(console_end_to_end_in_chromium)'

# Benchmarks (print figures).
bench:
    cargo bench --workspace

# Load a fresh release server over HTTP with enlist-bench (SQLite, then
# PostgreSQL when reachable); see docs/performance.md.
bench-scim:
    bash bins/enlist-bench/run.sh

# Two enlist binaries alternately on Entra's full creates and updates
# (SQLite), with the writer thread's CPU per operation.
bench-ab OLD NEW ROUNDS="2":
    bash bins/enlist-bench/ab.sh {{OLD}} {{NEW}} {{ROUNDS}}

# Fuzz a target (filter, patch, or http: whole requests through the app in
# process) for SECONDS. Needs `cargo install cargo-fuzz`;
# RUSTC_BOOTSTRAP lets the stable toolchain take the sanitizer flags.
fuzz TARGET="filter" SECONDS="60":
    mkdir -p fuzz/corpus/{{TARGET}}
    cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run {{TARGET}} corpus/{{TARGET}} seeds/{{TARGET}} -- -max_total_time={{SECONDS}} -max_len=4096

# Property-based API fuzzing from the OpenAPI description (schemathesis,
# installed from PyPI when missing) against a fresh server, for SECONDS.
fuzz-api SECONDS="300":
    bash tests/fuzz/api.sh {{SECONDS}}

# Crash loops: kill -9 the server under write load ROUNDS times on SQLite
# and PostgreSQL (CI runs 3), then check nothing acknowledged was lost.
crash ROUNDS="20":
    ENLIST_CRASH_ROUNDS={{ROUNDS}} cargo nextest run -p enlist-cli -E 'test(crash_loops)' --no-capture

# The race tests ROUNDS times over (CI runs them once per change).
races ROUNDS="20":
    for i in $(seq 1 {{ROUNDS}}); do cargo nextest run -p enlist-tests --test races || exit 1; done

# Everything CI runs.
ci:
    bash .ci/run

# Every library crate packages and builds as crates.io would see it.
publish-check:
    rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/enlist*-0.* target/publish-check
    CARGO_TARGET_DIR=target/publish-check cargo publish --workspace --dry-run
