//! Workspace invariants that review would otherwise have to remember: every
//! Rust file says what it is for in a `//!` line; only the facade's `system.rs`
//! reads the wall clock; only `enlist-diesel` speaks SQL.

#![allow(clippy::expect_used)] // a workspace without a parent folder cannot exist

use std::fs;
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the workspace").to_path_buf()
}

/// Every `.rs` file under the workspace's source folders, `target` excluded.
fn rust_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "target" && n != "corpus") {
                    walk(&p, out);
                }
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    for top in ["crates", "bins", "tests", "fuzz", "examples"] {
        walk(&workspace().join(top), &mut out);
    }
    assert!(out.len() > 40, "found only {} Rust files; is the walk rooted right?", out.len());
    out
}

fn rel(p: &Path) -> String {
    p.strip_prefix(workspace()).unwrap_or(p).display().to_string()
}

/// `needle` as written in code, not in this file's own tables.
fn offenders(needles: &[&str], allowed: impl Fn(&str) -> bool) -> Vec<String> {
    let me = rel(Path::new(file!()));
    let mut bad = Vec::new();
    for p in rust_files() {
        let r = rel(&p);
        if allowed(&r) || r.ends_with(&me) || me.ends_with(&r) {
            continue;
        }
        let text = fs::read_to_string(&p).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            if needles.iter().any(|needle| line.contains(needle)) {
                bad.push(format!("{r}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    bad
}

#[test]
fn every_rust_file_opens_with_a_module_doc_line() {
    let missing: Vec<String> = rust_files()
        .into_iter()
        .filter(|p| !fs::read_to_string(p).unwrap_or_default().starts_with("//!"))
        .map(|p| rel(&p))
        .collect();
    assert!(missing.is_empty(), "these files need a first line `//! what this file is for`:\n{}", missing.join("\n"));
}

#[test]
fn only_the_binary_reads_the_wall_clock() {
    let bad = offenders(&["Utc::now", "SystemTime::now"], |r| r == "crates/enlist/src/system.rs");
    assert!(
        bad.is_empty(),
        "read time through the Clock port; only crates/enlist/src/system.rs implements it:\n{}",
        bad.join("\n")
    );
}

#[test]
fn only_enlist_diesel_speaks_sql() {
    let sql = ["SELECT ", "INSERT INTO", "DELETE FROM", "CREATE TABLE", "ALTER TABLE", "DROP TABLE"];
    let bad = offenders(&sql, |r| r.starts_with("crates/enlist-diesel/"));
    assert!(bad.is_empty(), "SQL belongs in crates/enlist-diesel (add a repository method):\n{}", bad.join("\n"));
}

/// The rooms table of `docs/architecture.md` names every source file of
/// every crate and binary (brace lists like `src/{a,b}.rs` expanded), and
/// names no file that is gone: the map and the tree agree.
#[test]
fn the_architecture_doc_lists_every_room_and_only_rooms_that_exist() {
    let doc = fs::read_to_string(workspace().join("docs/architecture.md")).expect("docs/architecture.md");
    let table = doc.split("\n## The rooms\n").nth(1).expect("a '## The rooms' section");
    let table = table.split("\n## ").next().unwrap_or_default();
    let mut listed = std::collections::BTreeSet::new();
    for row in table.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| crate") && !l.starts_with("|---")) {
        let mut cells = row.split('|').map(str::trim).filter(|c| !c.is_empty());
        let (Some(krate), Some(files)) = (cells.next(), cells.next()) else { continue };
        let root = if krate.starts_with("bins/") { krate.to_owned() } else { format!("crates/{krate}") };
        for code in files.split('`').skip(1).step_by(2) {
            let expanded: Vec<String> = match (code.find('{'), code.find('}')) {
                (Some(a), Some(b)) => code[a + 1..b]
                    .split(',')
                    .map(|part| format!("{}{}{}", &code[..a], part.trim(), &code[b + 1..]))
                    .collect(),
                _ => vec![code.to_owned()],
            };
            listed.extend(expanded.into_iter().filter(|f| f.ends_with(".rs")).map(|f| format!("{root}/{f}")));
        }
    }
    let actual: std::collections::BTreeSet<String> = rust_files()
        .iter()
        .map(|p| rel(p))
        .filter(|r| (r.starts_with("crates/") || r.starts_with("bins/")) && r.contains("/src/"))
        .filter(|r| !r.ends_with("/tests.rs") && !r.contains("/tests/"))
        .collect();
    let missing: Vec<_> = actual.difference(&listed).collect();
    let gone: Vec<_> = listed.difference(&actual).collect();
    assert!(
        missing.is_empty() && gone.is_empty(),
        "docs/architecture.md, '## The rooms', is out of step with the tree.\nnot listed: {missing:?}\nlisted but gone: {gone:?}"
    );
}
