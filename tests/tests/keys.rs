//! API keys: the database holds only their hashes (its whole content is
//! searched for the secrets); a revoked key fails on the very next request,
//! in this process and in a second one over the same database; and no
//! secret reaches the logs at any level during a whole provisioning run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use enlist_core::{Actor, Caller};
use enlist_tests::{on_both, Client, TestServer};
use serde_json::json;
use std::sync::{Arc, Mutex, OnceLock};

const U: &str = "/scim/v2/Users";

/// Everything every thread logs, at TRACE, from the first use on.
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        buf
    })
    .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn secret(token: &str) -> &str {
    token.split_once('.').map(|(_, s)| s).unwrap()
}

/// The database's whole content as text: the SQLite file and its WAL, or
/// a `pg_dump` of the PostgreSQL database.
fn database_text(s: &TestServer) -> String {
    if let Some(path) = s.url().strip_prefix("sqlite://") {
        let mut bytes = std::fs::read(path).unwrap();
        bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        let out = std::process::Command::new("pg_dump")
            .arg("--data-only")
            .arg(s.url())
            .output()
            .expect("pg_dump is needed to read the whole PostgreSQL database (Debian package postgresql-client)");
        assert!(out.status.success(), "pg_dump: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

async fn keys_are_hashed_and_revocation_is_immediate_everywhere(s: &TestServer) {
    let _ = logs();
    let a = s.a();
    assert_eq!(a.post(U, &json!({"userName": "k@contoso.com"})).await.status, 201);
    let stored = database_text(s);
    assert!(stored.contains("k@contoso.com"), "[{:?}] the search reads the data", s.backend);
    for token in [&s.key_a, &s.key_b] {
        assert!(!stored.contains(secret(token)), "[{:?}] a key's secret is stored in clear", s.backend);
    }

    let second = s.second_process().await;
    let addr2 = second.addr.clone();
    let auth = format!("Bearer {}", s.key_a);
    let other = Client::new(&addr2, Some(&auth));
    assert_eq!(a.get(U).await.status, 200);
    assert_eq!(other.get(U).await.status, 200, "the second process accepts the key");
    let op = Caller { organization_id: s.org_a.clone(), actor: Actor::Operator };
    let key =
        s.enlist.api_keys.list(&op).await.unwrap().into_iter().find(|k| k.label == "Entra ID provisioning").unwrap();
    s.enlist.api_keys.revoke(&op, &key.id).await.unwrap();
    a.get(U).await.scim_error(401, None);
    other.get(U).await.scim_error(401, None);
    second.stop().await;
}
on_both!(keys_are_hashed_and_revocation_is_immediate_everywhere);

async fn no_secret_reaches_the_logs_at_any_level(s: &TestServer) {
    let logs = logs();
    let a = s.a();
    let u = a.post(U, &json!({"userName": "log@contoso.com", "roles": [{"value": "FullMember"}]})).await.json();
    let up = format!("{U}/{}", u["id"].as_str().unwrap());
    a.patch(&up, &json!([{"op": "replace", "path": "active", "value": "False"}])).await;
    a.get(&format!("{U}?filter=userName%20eq%20%22log%40contoso.com%22")).await;
    a.post(U, &json!({"userName": "bad@contoso.com", "roles": [{"value": "Owner"}]}))
        .await
        .scim_error(400, Some("invalidValue"));
    // A key of the wrong organization, a mangled key, a password.
    s.b().get(&up).await.scim_error(404, None);
    let mangled = format!("Bearer {}x", s.key_a);
    Client::new(&s.addr, Some(&mangled)).get(U).await.scim_error(401, None);
    a.post(U, &json!({"userName": "pw@contoso.com", "password": "Hunter2-secret-pw"})).await;
    a.delete(&up).await;
    // Let the activity recorder and background tasks write.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(text.contains("request"), "[{:?}] the logs were captured: {} bytes", s.backend, text.len());
    for token in [&s.key_a, &s.key_b] {
        assert!(!text.contains(secret(token)), "[{:?}] a key's secret is in the logs", s.backend);
    }
    assert!(!text.contains("Hunter2-secret-pw"), "[{:?}] a password is in the logs", s.backend);
}
on_both!(no_secret_reaches_the_logs_at_any_level);
