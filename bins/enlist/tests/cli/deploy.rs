//! Running it in production: replicas started together on an empty
//! database, the first secret kept out of logs, log levels.

use super::*;
use std::os::unix::fs::PermissionsExt;

/// Four `enlist serve` processes started at once on an empty database
/// (both backends): migrations run one process at a time, every process
/// serves, and the trial organization and its key are made exactly once.
#[test]
fn replicas_started_together_on_an_empty_database_all_serve() {
    for t in TestDatabase::with_migrations(0, databases) {
        let starts: Vec<_> = (0..4)
            .map(|_| {
                let url = t.url.clone();
                std::thread::spawn(move || Server::start(&url, &[]))
            })
            .collect();
        let servers: Vec<Server> = starts
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| panic!("[{}] a replica did not start", t.name)))
            .collect();
        let keys: Vec<&String> = servers.iter().filter_map(|s| s.key.as_ref()).collect();
        assert_eq!(keys.len(), 1, "[{}] one process makes the trial key", t.name);
        for s in &servers {
            let c = Client::new(&s.addr, Some(&format!("Bearer {}", keys[0])));
            let r = futures_lite(c.get("/scim/v2/Users"));
            assert_eq!(r.status, 200, "[{}] every replica serves: {}", t.name, r.text);
        }
        let orgs = json_out(&t.url, &["org", "list", "--json"]);
        assert_eq!(orgs.as_array().map(Vec::len), Some(1), "[{}] one trial organization: {orgs}", t.name);
        let (_, _, err) = enlist(&t.url, &["migrate"]);
        assert!(err.contains("0 applied"), "[{}] nothing left to migrate: {err}", t.name);
        for s in servers {
            s.stop();
        }
    }
}

/// With stdout not a terminal the first key is never printed: it is in a
/// new file only the service user can read, and it works; `--no-trial-org`
/// makes none.
#[test]
fn the_first_key_goes_to_a_private_file_when_stdout_is_a_log() {
    let t = TestDatabase::with_migrations(0, || TestDatabase::sqlite().unwrap());
    let s = Server::start(&t.url, &[]);
    let key = s.key.clone().expect("the key was read from the file");
    let line = s.banner.iter().find(|l| l.starts_with("API key written to ")).expect("the banner names the file");
    assert!(!s.banner.iter().any(|l| l.contains(&key)), "the key is on stdout: {:?}", s.banner);
    assert!(line.contains("readable only by this user"), "{line}");
    s.stop();

    // The file's mode, on a fresh database and a path of our choosing.
    let t = TestDatabase::with_migrations(0, || TestDatabase::sqlite().unwrap());
    let path = std::env::temp_dir().join(format!("enlist-key-mode-{}.txt", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let mut child = Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0", "--first-key-file"])
        .arg(&path)
        .env("ENLIST_DATABASE_URL", &t.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines: Vec<String> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .take_while(|l| l != "Ready.")
        .collect();
    let _ = child.kill();
    let _ = child.wait();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    let _ = std::fs::remove_file(&path);
    assert_eq!(mode, 0o600, "{lines:?}");

    // No trial organization.
    let t = TestDatabase::with_migrations(0, || TestDatabase::sqlite().unwrap());
    let s = Server::start(&t.url, &["--no-trial-org"]);
    assert!(s.key.is_none(), "{:?}", s.banner);
    s.stop();
    assert_eq!(json_out(&t.url, &["org", "list", "--json"]), json!([]));
}

/// `--log-level` and `RUST_LOG` choose what is logged; a wrong value is
/// refused with the values that work.
#[test]
fn log_levels_are_chosen_and_checked() {
    let t = TestDatabase::sqlite().unwrap();
    let run = |args: &[&str], rust_log: Option<&str>| {
        let mut c = Command::new(BIN);
        c.args(args).env("ENLIST_DATABASE_URL", &t.url).env_remove("RUST_LOG");
        if let Some(v) = rust_log {
            c.env("RUST_LOG", v);
        }
        let out = c.output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (ok, err) = run(&["--log-level", "loud", "migrate"], None);
    assert!(!ok && err.contains("not one of error, warn, info, debug, trace"), "{err}");
    let (ok, err) = run(&["migrate"], Some("enlist=nonsense=1"));
    assert!(!ok && err.contains("RUST_LOG"), "{err}");
    // DEBUG lines appear only when asked for.
    let (ok, quiet) = run(&["--log-level", "warn", "org", "list"], None);
    assert!(ok && !quiet.contains("DEBUG"), "{quiet}");
    let (ok, chatty) = run(&["org", "list"], Some("debug"));
    assert!(ok && chatty.contains("DEBUG"), "RUST_LOG=debug logs DEBUG lines: {chatty}");
}

/// `enlist backup` while users are being created: the copy opens, and
/// every user acknowledged (201) before the backup began is in it. It
/// never overwrites a file, and on PostgreSQL it points to pg_dump.
#[test]
fn a_backup_taken_under_load_holds_every_acknowledged_write() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let t = TestDatabase::with_migrations(0, || TestDatabase::sqlite().unwrap());
    let s = Server::start(&t.url, &[]);
    let (addr, key) = (s.addr.clone(), s.key.clone().unwrap());
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (acked, stop) = (acked.clone(), stop.clone());
        std::thread::spawn(move || {
            futures_lite(async move {
                let c = Client::new(&addr, Some(&format!("Bearer {key}")));
                // Bounded: at most 3,000 users, or until told to stop.
                for i in 0..3000 {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let name = format!("u{i}@contoso.com");
                    if c.post("/scim/v2/Users", &json!({"userName": name})).await.status == 201 {
                        acked.lock().unwrap().push(name);
                    }
                }
            })
        })
    };
    // Wait (bounded) for some writes, then back up while they go on.
    for _ in 0..200 {
        if acked.lock().unwrap().len() >= 100 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let before: Vec<String> = acked.lock().unwrap().clone();
    let dir = std::env::temp_dir().join(format!("enlist-backup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("enlist.db");
    let _ = std::fs::remove_file(&copy);
    let out = ok(&t.url, &["backup", copy.to_str().unwrap()]);
    assert!(out.contains("backup written to"), "{out}");
    let during = acked.lock().unwrap().len();
    stop.store(true, Ordering::SeqCst);
    load.join().unwrap();
    s.stop();
    assert!(before.len() >= 100 && during > before.len(), "the backup ran under load ({} then {during})", before.len());

    let restored = format!("sqlite://{}", copy.display());
    let users = json_out(&restored, &["users", "list", "Default", "--json"]);
    let names: std::collections::HashSet<&str> =
        users.as_array().unwrap().iter().filter_map(|u| u["userName"].as_str()).collect();
    let lost: Vec<&String> = before.iter().filter(|n| !names.contains(n.as_str())).collect();
    assert!(lost.is_empty(), "acknowledged before the backup, missing from it: {lost:?}");

    let (success, _, err) = enlist(&t.url, &["backup", copy.to_str().unwrap()]);
    assert!(!success && err.contains("already exists"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
    if let Some(pg) = TestDatabase::postgres().unwrap() {
        let (success, _, err) = enlist(&pg.url, &["backup", "/tmp/never-written.db"]);
        assert!(!success && err.contains("pg_dump"), "{err}");
    }
}

/// `enlist org export` writes the roster as SCIM JSON; `enlist org delete`
/// says what it would remove until given --yes, then offboards the
/// organization and leaves the other one (both backends).
#[test]
fn an_organization_is_exported_then_offboarded() {
    for t in databases() {
        let db = t.url.as_str();
        ok(db, &["org", "create", "Leaving", "--owner", "boss@leaving.com", "--domain", "leaving.com"]);
        ok(db, &["org", "create", "Staying", "--owner", "boss@staying.com", "--domain", "staying.com"]);
        let file = std::env::temp_dir().join(format!("enlist-export-{}-{}.json", std::process::id(), t.name));
        let _ = std::fs::remove_file(&file);
        let (success, _, err) = enlist(db, &["org", "export", "Leaving", "--output", file.to_str().unwrap()]);
        assert!(success && err.contains("export: 1 of 1 user(s)"), "[{}] progress: {err}", t.name);
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(doc["organization"]["domains"], json!(["leaving.com"]), "[{}]", t.name);
        assert_eq!(doc["users"][0]["userName"], "boss@leaving.com", "[{}] {doc}", t.name);
        assert_eq!(doc["users"][0]["schemas"][0], "urn:ietf:params:scim:schemas:core:2.0:User");
        let (success, _, err) = enlist(db, &["org", "export", "Leaving", "--output", file.to_str().unwrap()]);
        assert!(!success && err.contains("never overwrites"), "[{}] {err}", t.name);
        let _ = std::fs::remove_file(&file);

        let (success, out, err) = enlist(db, &["org", "delete", "Leaving"]);
        assert!(!success && out.contains("1 user(s)") && err.contains("--yes"), "[{}] {out} {err}", t.name);
        assert_eq!(json_out(db, &["org", "list", "--json"]).as_array().map(Vec::len), Some(2), "[{}]", t.name);
        let out = ok(db, &["org", "delete", "Leaving", "--yes"]);
        assert!(out.contains("offboarded") && out.contains("audit log is kept"), "[{}] {out}", t.name);
        let orgs = json_out(db, &["org", "list", "--json"]);
        let names: Vec<&str> = orgs.as_array().unwrap().iter().filter_map(|o| o["name"].as_str()).collect();
        assert_eq!(names, ["Staying"], "[{}]", t.name);
        let users = json_out(db, &["users", "list", "Staying", "--json"]);
        assert_eq!(users[0]["userName"], "boss@staying.com", "[{}]", t.name);
    }
}

/// A self-signed certificate for `localhost` (P-256) made with the openssl
/// command, as `NAME.crt` and `NAME.key` in `dir`.
fn certificate(dir: &std::path::Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let (crt, key) = (dir.join(format!("{name}.crt")), dir.join(format!("{name}.key")));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args(["-subj", &format!("/CN=enlist test {name}"), "-addext", "subjectAltName=DNS:localhost"])
        // A leaf, not a CA: webpki refuses a CA certificate as a server's.
        .args(["-addext", "basicConstraints=critical,CA:FALSE", "-addext", "extendedKeyUsage=serverAuth", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .stderr(Stdio::null())
        .status()
        .expect("the openssl command (Debian package openssl; .ci/run installs it)");
    assert!(made.success());
    (crt, key)
}

/// `enlist serve --tls-cert --tls-key` serves HTTPS with the certificate,
/// refuses plain HTTP on that port, and after SIGHUP serves a renewed
/// certificate to new connections without a restart.
#[test]
fn native_tls_serves_and_reloads_its_certificate_on_sighup() {
    let dir = std::env::temp_dir().join(format!("enlist-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a_crt, a_key) = certificate(&dir, "a");
    let (b_crt, b_key) = certificate(&dir, "b");
    let (crt, key) = (dir.join("live.crt"), dir.join("live.key"));
    std::fs::copy(&a_crt, &crt).unwrap();
    std::fs::copy(&a_key, &key).unwrap();
    let t = TestDatabase::sqlite().unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0", "--no-trial-org", "--tls-cert"])
        .arg(&crt)
        .arg("--tls-key")
        .arg(&key)
        .env("ENLIST_DATABASE_URL", &t.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr: std::net::SocketAddr = first
        .split("https://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("an https:// banner: {first}"));
    assert!(lines.by_ref().map_while(Result::ok).any(|l| l == "Ready."));
    std::thread::spawn(move || for _ in lines {});
    // A client that trusts one certificate only, on a new connection.
    let get = |trusted: &std::path::Path| {
        let pem = std::fs::read(trusted).unwrap();
        let client = enlist_tests::reqwest::blocking::Client::builder()
            .add_root_certificate(enlist_tests::reqwest::Certificate::from_pem(&pem).unwrap())
            .tls_built_in_root_certs(false)
            .resolve("localhost", addr)
            .no_proxy()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap();
        client.get(format!("https://localhost:{}/healthz", addr.port())).send().map(|r| r.status().as_u16())
    };
    let first = get(&a_crt);
    assert_eq!(first.as_ref().ok(), Some(&200), "HTTPS with the configured certificate: {first:?}");
    assert!(get(&b_crt).is_err(), "a client that does not trust it is refused");
    let plain = enlist_tests::reqwest::blocking::get(format!("http://{addr}/healthz"));
    assert!(plain.map_or(true, |r| r.status() != 200), "plain HTTP is not served on the TLS port");

    // Renewal: new files, SIGHUP, and new connections get the new one.
    std::fs::copy(&b_crt, &crt).unwrap();
    std::fs::copy(&b_key, &key).unwrap();
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    let mut renewed = false;
    for _ in 0..50 {
        if get(&b_crt).ok() == Some(200) {
            renewed = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(renewed, "SIGHUP did not bring the renewed certificate");
    assert!(get(&a_crt).is_err(), "the old certificate is no longer served");
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert!(child.wait().unwrap().success(), "a clean stop");

    // Bad input: a missing file, a key that is not the certificate's, half
    // a pair. Each refuses to start, saying what to fix.
    let missing = dir.join("missing.pem");
    for (cert, key, says) in
        [(&missing, &a_key, "cannot read the certificate"), (&a_crt, &b_key, "does not belong to the certificate")]
    {
        let out = Command::new(BIN)
            .args(["serve", "--bind", "127.0.0.1:0", "--no-trial-org", "--tls-cert"])
            .arg(cert)
            .arg("--tls-key")
            .arg(key)
            .env("ENLIST_DATABASE_URL", &t.url)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(says) && err.contains("--tls-cert"), "{err}");
    }
    let (ok, _, err) = enlist(&t.url, &["serve", "--tls-cert", a_crt.to_str().unwrap()]);
    assert!(!ok && err.contains("--tls-key"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
