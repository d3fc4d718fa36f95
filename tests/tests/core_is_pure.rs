//! The dependency rule: `enlist-core` depends on no web framework, database
//! driver, async runtime, JSON or SCIM crate. Checked from `cargo metadata`,
//! so a new dependency that breaks the rule fails CI.

use std::process::Command;

const FORBIDDEN: &[&str] = &[
    "actix-web",
    "actix-http",
    "diesel",
    "r2d2",
    "tokio",
    "serde_json",
    "serde",
    "enlist-scim",
    "enlist-diesel",
    "enlist-actix",
    "enlist-mail",
    "libsqlite3-sys",
    "pq-sys",
];

#[test]
fn enlist_core_has_no_framework_dependencies() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["tree", "-p", "enlist-core", "-e", "normal", "--prefix", "none", "--format", "{p}", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    let tree = String::from_utf8_lossy(&out.stdout);
    let names: Vec<&str> = tree.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(names.contains(&"enlist-core"), "unexpected cargo tree output: {tree}");
    for f in FORBIDDEN {
        assert!(!names.contains(f), "enlist-core must not depend on {f} (directly or transitively)");
    }
}
