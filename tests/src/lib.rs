//! Black-box test support: the server `enlist serve` runs (the facade's
//! builder, `http_server` and background jobs, over a real database,
//! SQLite or PostgreSQL) on a loopback port, and an HTTP client that
//! speaks to it as Entra would.

// Test support: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod dns;
pub mod webdriver;

/// The tests' HTTP client crate, for what [`Client`] does not cover (TLS).
pub use reqwest;

use enlist::HttpConfig;
use enlist_core::service::NewOrganization;
use enlist_core::testing::{FakeDns, SeqIds};
use enlist_core::{Actor, Caller, DomainName, Email, OrganizationId, Services};
use enlist_diesel::testing::TestDatabase;
use serde_json::Value;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Which database a test server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A temporary SQLite file.
    Sqlite,
    /// A fresh PostgreSQL database.
    Postgres,
}

/// A running server with two organizations (A: `contoso.com` registered,
/// B: none) and one API key each.
pub struct TestServer {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The core services behind it (for setup the CLI would do).
    pub enlist: Services,
    /// Organization A and its key.
    pub org_a: OrganizationId,
    /// A's bearer token.
    pub key_a: String,
    /// Organization B and its key.
    pub org_b: OrganizationId,
    /// B's bearer token.
    pub key_b: String,
    /// Which backend.
    pub backend: Backend,
    handle: actix_web::dev::ServerHandle,
    /// The background jobs, running while the server lives.
    _background: enlist::Background,
    _db: TestDatabase,
}

impl TestServer {
    /// Starts one; `None` when the backend is PostgreSQL and none is
    /// reachable outside CI (skipped loudly).
    pub async fn start(backend: Backend) -> Option<Self> {
        let t = match backend {
            Backend::Sqlite => TestDatabase::sqlite().unwrap(),
            Backend::Postgres => TestDatabase::postgres().unwrap()?,
        };
        let app = facade(t.db.clone(), Arc::new(SeqIds::default())).await;
        let enlist = app.services().clone();
        let op = |o: &OrganizationId| Caller { organization_id: o.clone(), actor: Actor::Operator };
        let a = enlist
            .organizations
            .create(
                &Actor::Operator,
                NewOrganization::new("Contoso")
                    .owner(Email::parse("admin@contoso.com").unwrap())
                    .domain(DomainName::parse("contoso.com").unwrap()),
            )
            .await
            .unwrap();
        let b = enlist
            .organizations
            .create(
                &Actor::Operator,
                NewOrganization::new("Fabrikam")
                    .owner(Email::parse("admin@fabrikam.com").unwrap())
                    .domain(DomainName::parse("fabrikam.com").unwrap()),
            )
            .await
            .unwrap();
        let key_a = enlist.api_keys.create(&op(&a.id), "Entra ID provisioning").await.unwrap().token;
        let key_b = enlist.api_keys.create(&op(&b.id), "Okta").await.unwrap().token;
        // What `enlist serve` runs: the background jobs (activity writer,
        // webhooks, pruning) and the HTTP server of the facade.
        let background = app.start_background();
        let (server, addrs) = app.http_server(2, ("127.0.0.1", 0)).unwrap();
        let addr = addrs[0].to_string();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Some(Self {
            addr,
            enlist,
            org_a: a.id,
            key_a,
            org_b: b.id,
            key_b,
            backend,
            handle,
            _background: background,
            _db: t,
        })
    }

    /// The database behind the server (for event consumers in tests).
    pub fn database(&self) -> &enlist_diesel::Database {
        &self._db.db
    }
    /// A client with A's key.
    pub fn a(&self) -> Client {
        Client::new(&self.addr, Some(&format!("Bearer {}", self.key_a)))
    }
    /// A client with B's key.
    pub fn b(&self) -> Client {
        Client::new(&self.addr, Some(&format!("Bearer {}", self.key_b)))
    }
    /// A client with a given Authorization header (or none).
    pub fn with_auth(&self, auth: Option<&str>) -> Client {
        Client::new(&self.addr, auth)
    }
    /// Stops the server.
    pub async fn stop(self) {
        self.handle.stop(true).await;
    }

    /// The database URL (`sqlite://PATH` or `postgres://…`).
    pub fn url(&self) -> &str {
        &self._db.url
    }

    /// A second server over the same database with pools of its own and
    /// its own background jobs: what a second `enlist serve` process
    /// shares with this one.
    pub async fn second_process(&self) -> SecondProcess {
        let db = enlist_diesel::Database::open(self.url(), &enlist_diesel::PoolOptions::default()).unwrap();
        // Ids of its own, as another process has: counting from zero again
        // would collide with this one's events and audit records.
        let app = facade(db, Arc::new(enlist::system::RandomIds)).await;
        let background = app.start_background();
        let (server, addrs) = app.http_server(1, ("127.0.0.1", 0)).unwrap();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        SecondProcess { addr: addrs[0].to_string(), handle, background }
    }
}

/// A second `enlist serve` over the test server's database.
pub struct SecondProcess {
    /// Its address.
    pub addr: String,
    handle: actix_web::dev::ServerHandle,
    background: enlist::Background,
}

impl SecondProcess {
    /// Stops its server, then its background jobs (queued activity is
    /// written).
    pub async fn stop(self) {
        self.handle.stop(true).await;
        self.background.stop().await;
    }
}

/// The facade as the tests run it: the real builder over `db`, with the
/// system clock (webhook signatures carry real timestamps), `ids` (the
/// first process's make runs repeatable), no DNS, and small limits.
async fn facade(db: enlist_diesel::Database, ids: Arc<dyn enlist::IdGenerator>) -> enlist::Enlist {
    enlist::Enlist::builder()
        .database_handle(db)
        .ids(ids)
        .dns(Arc::new(FakeDns::default()))
        .http(HttpConfig {
            max_body_bytes: 64 * 1024,
            body_timeout: std::time::Duration::from_secs(2),
            ..HttpConfig::default()
        })
        .build()
        .await
        .unwrap()
}

/// One HTTP response.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body text.
    pub text: String,
}

impl Response {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == &name.to_ascii_lowercase()).map(|(_, v)| v.as_str())
    }
    /// The body as JSON (panics with the text when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }
    /// Asserts a SCIM error with this status and scimType, returns detail.
    pub fn scim_error(&self, status: u16, scim_type: Option<&str>) -> String {
        assert_eq!(self.status, status, "body: {}", self.text);
        let j = self.json();
        assert_eq!(j["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error", "{}", self.text);
        assert_eq!(j["status"], status.to_string(), "status is a string: {}", self.text);
        assert_eq!(j["scimType"].as_str(), scim_type, "{}", self.text);
        assert_eq!(self.header("content-type"), Some("application/scim+json"));
        j["detail"].as_str().unwrap_or_default().to_owned()
    }
}

/// The tests' HTTP client: reqwest, as an identity provider's client
/// would speak, plus [`Client::send_bytes`] for what no well-behaved client
/// sends (invalid UTF-8, a body the server refuses before reading it).
#[derive(Clone)]
pub struct Client {
    addr: String,
    auth: Option<String>,
    http: reqwest::Client,
}

impl Client {
    /// A client for a server at `addr` (`127.0.0.1:PORT`) sending this
    /// Authorization header.
    pub fn new(addr: &str, auth: Option<&str>) -> Self {
        // No pooling: each test runs on its own runtime, and a connection
        // kept across requests would hide a server that closes early.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self { addr: addr.to_owned(), auth: auth.map(str::to_owned), http }
    }

    /// Sends a request with extra headers and an optional body.
    pub async fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Response {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(method, format!("http://{}{path}", self.addr));
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a);
        }
        if body.is_some() && !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
            req = req.header("Content-Type", "application/scim+json");
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(body) = body {
            req = req.body(body.to_owned());
        }
        let r = req.timeout(std::time::Duration::from_secs(30)).send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        Response { status, headers, text: r.text().await.unwrap() }
    }

    /// Sends raw HTTP/1.1 over a socket, for requests a well-behaved
    /// client will not make: a body of any bytes (invalid UTF-8 too), or
    /// one the server answers before reading (the status line is read
    /// even when the body could not all be written).
    pub async fn send_bytes(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Response {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", self.addr);
        if let Some(a) = &self.auth {
            req.push_str(&format!("Authorization: {a}\r\n"));
        }
        let has_ct = headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
        if body.is_some() && !has_ct {
            req.push_str("Content-Type: application/scim+json\r\n");
        }
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        let body = body.unwrap_or_default();
        req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let mut stream = tokio::net::TcpStream::connect(&self.addr).await.unwrap();
        stream.write_all(req.as_bytes()).await.unwrap();
        // The server may answer (413) and close before reading it all.
        let _ = stream.write_all(body).await;
        let mut raw = Vec::new();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(30), stream.read_to_end(&mut raw)).await;
        parse(&raw)
    }
    /// GET.
    pub async fn get(&self, path: &str) -> Response {
        self.send("GET", path, &[], None).await
    }
    /// POST JSON.
    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.send("POST", path, &[], Some(&body.to_string())).await
    }
    /// PUT JSON.
    pub async fn put(&self, path: &str, body: &Value) -> Response {
        self.send("PUT", path, &[], Some(&body.to_string())).await
    }
    /// PATCH with these operations.
    pub async fn patch(&self, path: &str, ops: &Value) -> Response {
        let body = serde_json::json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
        self.send("PATCH", path, &[], Some(&body.to_string())).await
    }
    /// DELETE.
    pub async fn delete(&self, path: &str) -> Response {
        self.send("DELETE", path, &[], None).await
    }
}

/// A raw answer, read to the end (the raw path sends `Connection: close`
/// and a `Content-Length`; actix answers those with a length too).
fn parse(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP response: {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status: u16 = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    assert!(
        !headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")),
        "a chunked answer on the raw path: use Client::send"
    );
    Response { status, headers, text: String::from_utf8_lossy(&raw[split + 4..]).into_owned() }
}

/// Runs an async scenario on both backends, as `#[actix_web::test]`s.
#[macro_export]
macro_rules! on_both {
    ($name:ident) => {
        mod $name {
            #[actix_web::test]
            async fn sqlite() {
                let s = $crate::TestServer::start($crate::Backend::Sqlite).await.unwrap();
                super::$name(&s).await;
                s.stop().await;
            }
            #[actix_web::test]
            async fn postgres() {
                if let Some(s) = $crate::TestServer::start($crate::Backend::Postgres).await {
                    super::$name(&s).await;
                    s.stop().await;
                }
            }
        }
    };
}

/// A one-session SMTP sink on 127.0.0.1: returns its port and a task that
/// yields (envelope commands, DATA text) when the client quits.
pub async fn smtp_sink() -> (u16, tokio::task::JoinHandle<(Vec<String>, String)>) {
    use tokio::io::AsyncBufReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let (r, mut w) = stream.into_split();
        let mut r = tokio::io::BufReader::new(r);
        w.write_all(b"220 sink ESMTP\r\n").await.unwrap();
        let (mut envelope, mut data) = (Vec::new(), String::new());
        let mut line = String::new();
        loop {
            line.clear();
            if r.read_line(&mut line).await.unwrap() == 0 {
                break;
            }
            let cmd = line.trim_end().to_owned();
            let upper = cmd.to_ascii_uppercase();
            if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                w.write_all(b"250-sink\r\n250 8BITMIME\r\n").await.unwrap();
            } else if upper.starts_with("MAIL FROM") || upper.starts_with("RCPT TO") {
                envelope.push(cmd);
                w.write_all(b"250 OK\r\n").await.unwrap();
            } else if upper == "DATA" {
                w.write_all(b"354 go ahead\r\n").await.unwrap();
                loop {
                    line.clear();
                    if r.read_line(&mut line).await.unwrap() == 0 || line == ".\r\n" {
                        break;
                    }
                    data.push_str(&line);
                }
                w.write_all(b"250 queued\r\n").await.unwrap();
            } else if upper == "QUIT" {
                w.write_all(b"221 bye\r\n").await.unwrap();
                break;
            } else {
                w.write_all(b"250 OK\r\n").await.unwrap();
            }
        }
        (envelope, data)
    });
    (port, task)
}

/// What a [`WebhookReceiver`] saw.
#[derive(Debug, Default)]
pub struct Received {
    /// The JSON of each verified delivery, in arrival order.
    pub events: Vec<Value>,
    /// Requests answered 500 on purpose (see [`WebhookReceiver::start`]).
    pub refused: usize,
    /// Requests whose Standard Webhooks signature did not verify.
    pub forged: usize,
}

/// A webhook endpoint on 127.0.0.1 that verifies every request with the
/// Standard Webhooks reference library before accepting it.
pub struct WebhookReceiver {
    /// Its port.
    pub port: u16,
    /// The signing secret to verify with (set once registered).
    pub secret: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    /// What arrived.
    pub got: std::sync::Arc<std::sync::Mutex<Received>>,
}

impl WebhookReceiver {
    /// Starts one; the first `refuse_first` verified requests get 500.
    pub async fn start(refuse_first: usize) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let secret = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
        let got = std::sync::Arc::new(std::sync::Mutex::new(Received::default()));
        let (secret2, got2) = (secret.clone(), got.clone());
        tokio::spawn(async move {
            // Bounded: tests send a few dozen requests. One request per
            // connection, and the answer says so.
            for _ in 0..500 {
                let Ok((mut sock, _)) = listener.accept().await else { return };
                let (head, body) = read_request(&mut sock).await;
                let mut headers = http::HeaderMap::new();
                for line in head.lines().skip(1) {
                    if let Some((k, v)) = line.split_once(':') {
                        if let (Ok(k), Ok(v)) =
                            (http::HeaderName::try_from(k.trim()), http::HeaderValue::from_str(v.trim()))
                        {
                            headers.insert(k, v);
                        }
                    }
                }
                let status = {
                    let mut g = got2.lock().unwrap();
                    let key = secret2.lock().unwrap().clone().unwrap_or_default();
                    let verified = standardwebhooks::Webhook::new(&key).and_then(|w| w.verify(&body, &headers)).is_ok();
                    if !verified {
                        g.forged += 1;
                        "401 Unauthorized"
                    } else if g.refused < refuse_first {
                        g.refused += 1;
                        "500 Internal Server Error"
                    } else {
                        g.events.push(serde_json::from_slice(&body).unwrap());
                        "204 No Content"
                    }
                };
                let _ = sock
                    .write_all(
                        format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes(),
                    )
                    .await;
            }
        });
        Self { port, secret, got }
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/enlist", self.port)
    }

    /// Waits (bounded) until `n` events arrived; whether they did.
    pub async fn wait_for(&self, n: usize) -> bool {
        for _ in 0..200 {
            if self.got.lock().unwrap().events.len() >= n {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        false
    }
}

/// Reads one HTTP request: the head, then Content-Length bytes of body.
async fn read_request(sock: &mut tokio::net::TcpStream) -> (String, Vec<u8>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = sock.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return (String::new(), Vec::new());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i]).into_owned();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0);
            while buf.len() < i + 4 + len {
                let n = sock.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return (head, buf[i + 4..].to_vec());
        }
    }
}
