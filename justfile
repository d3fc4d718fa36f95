# Everyday commands. Each recipe is a plain cargo command, so nothing needs
# `just` on a fresh machine (see README.md).

# Run the server on the embedded SQLite default.
run *ARGS:
    cargo run -p enlist -- serve {{ARGS}}

# Run the whole test suite.
test:
    cargo nextest run --workspace

# Formatting and lints, as CI checks them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# The dependency rule of enlist-core.
check-deps:
    cargo nextest run -p enlist-tests -E 'test(enlist_core_has_no_framework_dependencies)'

# Benchmarks (print figures).
bench:
    cargo bench --workspace

# Fuzz targets (need `cargo install cargo-fuzz` and a nightly toolchain).
fuzz TARGET="filter" SECONDS="60":
    cd fuzz && cargo fuzz run {{TARGET}} -- -max_total_time={{SECONDS}}

# Everything CI runs.
ci:
    bash .ci/run
