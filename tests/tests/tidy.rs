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
    // enlist-bench's receiver measures wall-clock lag from a server's
    // event timestamps: a load tool's own clock, not the product's.
    let bad = offenders(&["Utc::now", "SystemTime::now"], |r| {
        r == "crates/enlist/src/system.rs" || r == "bins/enlist-bench/src/deliveries.rs"
    });
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

/// Migrations expand, and contract only where listed: a new migration may
/// add tables, columns and indexes, so the previous release keeps serving
/// while it applies (docs/operations.md, "Migrations and upgrades"). A
/// step that drops, renames or rewrites must be a contract step, released
/// one version after the code stopped using what it removes, and named
/// here with the reason. On PostgreSQL a new index on an existing table is
/// built `CONCURRENTLY`, outside a transaction (`metadata.toml`:
/// `run_in_transaction = false`), so writes go on while it builds.
#[test]
fn migrations_only_add_unless_listed_as_contract_steps() {
    // (migration, why it may contract); both predate this rule.
    const CONTRACT: [(&str, &str); 4] = [
        ("2026-12-01-000009_event_counters", "drops organizations.event_seq, moved to event_counters"),
        ("2026-12-01-000010_members_by_user", "rebuilds group_members_user with the group id"),
        (
            "2026-12-03-000014_drop_exact_value_index",
            "drops an index only; the previous release's queries stay correct without it, case-exact value filters scan",
        ),
        (
            "2026-12-04-000020_drop_value_lookup_index",
            "drops an index only (replaced by the partial user_values_filtered); the previous release's value filters scan",
        ),
    ];
    // The first release created its own tables; indexes on them were not
    // concurrent. Every later migration is held to the rule.
    const BEFORE_CONCURRENT_RULE: &str = "2026-12-01-000010_members_by_user";
    let mut bad = Vec::new();
    for backend in ["postgres", "sqlite"] {
        let dir = workspace().join("crates/enlist-diesel/migrations").join(backend);
        let mut names: Vec<String> = fs::read_dir(&dir)
            .expect("migrations folder")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert!(names.len() >= 11, "found {} {backend} migrations", names.len());
        for name in names {
            let sql = fs::read_to_string(dir.join(&name).join("up.sql")).unwrap_or_default();
            let code: String = sql
                .lines()
                .map(|l| l.split("--").next().unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n")
                .to_ascii_uppercase();
            // A trigger's body writes when the trigger fires, not when the
            // migration runs: creating one only adds.
            let code = without_trigger_bodies(&code);
            let contracts =
                ["DROP ", "RENAME", "ALTER COLUMN", "DELETE FROM", "UPDATE "].iter().any(|w| code.contains(w));
            if contracts && !CONTRACT.iter().any(|(n, _)| *n == name) {
                bad.push(format!("{backend}/{name}: drops, renames or rewrites; make it a listed contract step"));
            }
            let creates_index = code.contains("CREATE INDEX") || code.contains("CREATE UNIQUE INDEX");
            let creates_table = code.contains("CREATE TABLE");
            if backend == "postgres" && name.as_str() > BEFORE_CONCURRENT_RULE && creates_index && !creates_table {
                let meta = fs::read_to_string(dir.join(&name).join("metadata.toml")).unwrap_or_default();
                if !code.contains("CONCURRENTLY") || !meta.contains("run_in_transaction = false") {
                    bad.push(format!("{backend}/{name}: build the index CONCURRENTLY with run_in_transaction = false"));
                }
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// `code` (upper case, comments removed) without the bodies of the
/// `CREATE TRIGGER … BEGIN … END;` statements in it.
fn without_trigger_bodies(code: &str) -> String {
    let mut out = String::new();
    let mut rest = code;
    while let Some(start) = rest.find("CREATE TRIGGER") {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        match after.find("END;") {
            Some(end) => rest = &after[end + 4..],
            None => {
                rest = "";
            }
        }
        out.push_str("CREATE TRIGGER;");
    }
    out.push_str(rest);
    out
}
