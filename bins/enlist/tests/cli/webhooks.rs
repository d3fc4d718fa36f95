//! `enlist webhook` and delivery by `enlist serve`: a live test request,
//! unsafe URLs refused, every event after a `kill -9`, and two processes
//! never delivering to one endpoint at once.

use super::*;

/// `enlist webhook add|list|test|remove`: the secret once, a live test
/// request to a local endpoint, and unsafe URLs refused with what to do.
#[test]
fn webhook_commands() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        // Bounded: the test sends one request per database.
        for _ in 0..4 {
            let Ok((mut s, _)) = listener.accept() else { return };
            let mut buf = [0u8; 8192];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
        }
    });
    for t in databases() {
        let db = t.url.as_str();
        ok(db, &["org", "create", "Contoso"]);
        let local = format!("http://127.0.0.1:{port}/hook");
        let (success, _, err) = enlist(db, &["webhook", "add", "Contoso", &local]);
        assert!(!success && err.contains("--allow-private"), "[{}] loopback needs the allowance: {err}", t.name);
        let out = ok(db, &["webhook", "add", "Contoso", &local, "--allow-private"]);
        let secret = out.lines().last().unwrap();
        assert!(secret.starts_with("whsec_"), "[{}] {out}", t.name);
        let list = json_out(db, &["webhook", "list", "Contoso", "--json"]);
        let id = list[0]["id"].as_str().unwrap().to_owned();
        assert_eq!(list[0]["failing_since"], Value::Null);
        assert!(!list.to_string().contains(secret), "[{}] the secret is shown once only", t.name);
        let tested = ok(db, &["webhook", "test", "Contoso", &id]);
        assert!(tested.contains("HTTP 204"), "[{}] {tested}", t.name);
        let (success, out, err) = enlist(db, &["webhook", "add", "Contoso", "http://hooks.example.com/x"]);
        assert!(!success && out.is_empty() && err.contains("is not HTTPS"), "[{}] {err}", t.name);
        let (success, _, err) = enlist(db, &["webhook", "add", "Contoso", "https://10.1.2.3/x"]);
        assert!(!success && err.contains("--allow-private"), "[{}] {err}", t.name);
        ok(db, &["webhook", "remove", "Contoso", &id]);
        assert_eq!(json_out(db, &["webhook", "list", "Contoso", "--json"]), json!([]));
    }
}

/// A webhook receiver for crash and two-process tests: records each
/// delivery's sequence number in arrival order, answers slowly (so a kill
/// lands mid-delivery), and counts deliveries that overlapped in time.
struct SlowReceiver {
    port: u16,
    seqs: std::sync::Arc<std::sync::Mutex<Vec<u64>>>,
    overlaps: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

fn slow_receiver(delay: std::time::Duration) -> SlowReceiver {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seqs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let overlaps = std::sync::Arc::new(AtomicUsize::new(0));
    let in_flight = std::sync::Arc::new(AtomicUsize::new(0));
    let (s2, o2) = (seqs.clone(), overlaps.clone());
    std::thread::spawn(move || {
        for _ in 0..2000 {
            let Ok((mut sock, _)) = listener.accept() else { return };
            let (seqs, overlaps, in_flight) = (s2.clone(), o2.clone(), in_flight.clone());
            std::thread::spawn(move || {
                if in_flight.fetch_add(1, Ordering::SeqCst) > 0 {
                    overlaps.fetch_add(1, Ordering::SeqCst);
                }
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                let _ = sock.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                while let Ok(n) = sock.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf);
                    if let Some(i) = text.find("\r\n\r\n") {
                        let len: usize = text[..i]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if buf.len() >= i + 4 + len {
                            break;
                        }
                    }
                }
                std::thread::sleep(delay);
                let text = String::from_utf8_lossy(&buf).into_owned();
                if let Some(body) = text.split("\r\n\r\n").nth(1) {
                    if let Ok(j) = serde_json::from_str::<Value>(body) {
                        if let Some(s) = j["seq"].as_u64() {
                            seqs.lock().unwrap().push(s);
                        }
                    }
                }
                in_flight.fetch_sub(1, Ordering::SeqCst);
                let _ = sock.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
            });
        }
    });
    SlowReceiver { port, seqs, overlaps }
}

/// At least once and in order: every number up to `total` arrived, and
/// none arrived before all smaller ones had.
fn assert_in_order_at_least_once(seqs: &[u64], total: u64, what: &str) {
    let mut seen = std::collections::BTreeSet::new();
    for s in seqs {
        assert!((1..*s).all(|k| seen.contains(&k)), "{what}: {s} arrived before a smaller one: {seqs:?}");
        seen.insert(*s);
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), (1..=total).collect::<Vec<_>>(), "{what}: {seqs:?}");
}

fn wait_for(mut done: impl FnMut() -> bool, what: &str) {
    for _ in 0..300 {
        if done() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

/// `kill -9` while a webhook delivery is in flight: after a restart every
/// event arrives at least once, none is skipped, order holds.
#[test]
fn a_killed_server_delivers_every_event_after_restart() {
    for t in databases() {
        let db = t.url.as_str();
        let rx = slow_receiver(std::time::Duration::from_millis(80));
        // A short lease: the restarted server takes over the killed one's
        // claim within seconds.
        let lease = ["--webhook-lease-secs", "2"];
        let s = Server::start(db, &lease);
        let key = s.key.clone().unwrap();
        ok(db, &["webhook", "add", "Default", &format!("http://127.0.0.1:{}/hook", rx.port), "--allow-private"]);
        let c = Client::new(&s.addr, Some(&format!("Bearer {key}")));
        for i in 0..12 {
            let r = futures_lite(c.post("/scim/v2/Users", &json!({"userName": format!("u{i}@x.com")})));
            assert_eq!(r.status, 201, "[{}] {}", t.name, r.text);
        }
        // api_key.created, then twelve user.created.
        let total = 13;
        wait_for(|| rx.seqs.lock().unwrap().len() >= 3, "the first deliveries");
        let mut s = s;
        let child = &mut s.child;
        child.kill().unwrap();
        child.wait().unwrap();
        let before = rx.seqs.lock().unwrap().len();
        assert!(before < total as usize, "[{}] the kill must land mid-stream", t.name);
        let again = Server::start(db, &lease);
        wait_for(
            || rx.seqs.lock().unwrap().iter().collect::<std::collections::BTreeSet<_>>().len() >= total as usize,
            "every event",
        );
        again.stop();
        let seqs = rx.seqs.lock().unwrap().clone();
        assert_in_order_at_least_once(&seqs, total, t.name);
    }
}

/// Two `enlist serve` processes on one database never hand one
/// organization's events to the endpoint at once.
#[test]
fn two_servers_never_deliver_at_once() {
    for t in databases().into_iter().filter(|t| t.name == "postgres") {
        let db = t.url.as_str();
        let rx = slow_receiver(std::time::Duration::from_millis(40));
        let one = Server::start(db, &[]);
        let key = one.key.clone().unwrap();
        ok(db, &["webhook", "add", "Default", &format!("http://127.0.0.1:{}/hook", rx.port), "--allow-private"]);
        let two = Server::start(db, &[]);
        let c = Client::new(&two.addr, Some(&format!("Bearer {key}")));
        for i in 0..15 {
            assert_eq!(futures_lite(c.post("/scim/v2/Users", &json!({"userName": format!("u{i}@x.com")}))).status, 201);
        }
        wait_for(|| rx.seqs.lock().unwrap().len() >= 16, "every event");
        one.stop();
        two.stop();
        assert_eq!(rx.overlaps.load(std::sync::atomic::Ordering::SeqCst), 0, "two deliveries overlapped");
        assert_in_order_at_least_once(&rx.seqs.lock().unwrap(), 16, "postgres");
    }
}
