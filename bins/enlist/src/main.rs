//! The `enlist` server and operator CLI: wiring and configuration only.
//! Not built yet (issue 6): it only says so.

fn main() {
    eprintln!(
        "enlist: the server is not built yet (issue 6). \
         The domain lives in crates/enlist-core; run `cargo nextest run --workspace` to test it."
    );
    std::process::exit(2);
}
