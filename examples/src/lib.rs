//! Support shared by the examples in `examples/`: a throwaway SQLite file.
//! Run one with `cargo run -p enlist-examples --example walkthrough`.

/// `docs/embedding.md`, whose every Rust block `cargo test --doc` compiles
/// (and runs unless marked `no_run`): the page cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../docs/embedding.md")]
pub struct EmbeddingWalkthrough;

/// A SQLite URL in the temporary directory, unique to this process and
/// `name`; the file is removed when the returned guard drops.
pub fn temp_sqlite(name: &str) -> (String, TempFile) {
    let path = std::env::temp_dir().join(format!("enlist-example-{name}-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    (format!("sqlite://{}", path.display()), TempFile(path))
}

/// Removes its file (and SQLite's WAL companions) when dropped.
pub struct TempFile(std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

/// Installs a `tracing` subscriber on stderr (colour only on a terminal).
/// Enlist logs through `tracing`; a host without a subscriber sees none of
/// its warnings (mail not configured, a webhook disabled, activity lost).
pub fn logs() {
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt().with_writer(std::io::stderr).with_ansi(ansi).try_init();
}
