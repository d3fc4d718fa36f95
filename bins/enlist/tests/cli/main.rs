//! The real `enlist` binary, on SQLite and PostgreSQL: the README's first
//! run (banner, key, working endpoint, graceful stop), every operator
//! command, notification mail over SMTP end to end, webhook delivery
//! across kills and processes, the console in Chromium, and crash loops.
//! One test binary; a module per subject, the helpers here.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use enlist_diesel::testing::TestDatabase;
use enlist_tests::Client;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_enlist");

pub(crate) fn enlist(db: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN).args(args).env("ENLIST_DATABASE_URL", db).env_remove("ENLIST_CONFIG").output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub(crate) fn ok(db: &str, args: &[&str]) -> String {
    let (success, out, err) = enlist(db, args);
    assert!(success, "enlist {args:?} failed: {err}");
    out
}

pub(crate) fn json_out(db: &str, args: &[&str]) -> Value {
    let out = ok(db, args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("enlist {args:?} --json printed non-JSON ({e}): {out}"))
}

pub(crate) struct Server {
    child: Child,
    pub(crate) addr: String,
    pub(crate) key: Option<String>,
    /// Every banner line up to "Ready.".
    pub(crate) banner: Vec<String>,
}

impl Server {
    /// Starts `enlist serve` on a free port and reads its banner up to
    /// "Ready."; the trial key, when the first start made one, is read from
    /// the file it was written to (stdout here is a pipe, not a terminal).
    pub(crate) fn start(db: &str, extra: &[&str]) -> Self {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let key_file = std::env::temp_dir().join(format!("enlist-first-key-{}-{n}.txt", std::process::id()));
        let _ = std::fs::remove_file(&key_file);
        let mut child = Command::new(BIN)
            .args(["serve", "--bind", "127.0.0.1:0", "--first-key-file"])
            .arg(&key_file)
            .args(extra)
            .env("ENLIST_DATABASE_URL", db)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().unwrap_or_else(|| panic!("enlist serve exited before its banner")).unwrap();
        let addr = first
            .split("http://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or_else(|| panic!("banner: {first}"))
            .to_owned();
        let (mut key, mut ready) = (None, false);
        let mut banner = vec![first];
        for line in lines.by_ref() {
            let line = line.unwrap();
            assert!(!line.contains("API key: "), "a key on stdout, which is not a terminal: {line}");
            if line.starts_with("API key written to ") {
                let text = std::fs::read_to_string(&key_file).unwrap();
                let _ = std::fs::remove_file(&key_file);
                key = Some(text.trim().to_owned());
            }
            if line == "Ready." {
                ready = true;
                break;
            }
            banner.push(line);
        }
        assert!(ready, "enlist serve exited before Ready: {banner:?}");
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self { child, addr, key, banner }
    }
    /// SIGTERM; the server must exit cleanly.
    pub(crate) fn stop(mut self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "graceful shutdown exits 0, got {status}");
    }
}

impl Drop for Server {
    /// A test that failed before `stop` leaves no server running (it would
    /// hold the test's output open and serve a deleted database).
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub(crate) fn databases() -> Vec<TestDatabase> {
    let mut v = vec![TestDatabase::sqlite().unwrap()];
    v.extend(TestDatabase::postgres().unwrap());
    v
}

/// Runs a future to completion on a fresh runtime (for sync tests).
pub(crate) fn futures_lite<F: std::future::Future>(f: F) -> F::Output {
    actix_web::rt::System::new().block_on(f)
}

mod console;
mod crash;
mod deploy;
mod guard;
mod operator;
mod webhooks;
