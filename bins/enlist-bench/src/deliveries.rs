//! `deliveries`: webhook throughput and lag while `provision` runs. A
//! receiver on a local address answers every POST with 204 over kept-alive
//! connections and notes when each event arrived; the lag of an event is
//! its arrival minus its `timestamp` (when the change was made, to the
//! millisecond). The endpoint is registered by the operator beforehand
//! (`enlist webhook add ORG http://ADDR/hook --allow-private`).

use crate::stats::{Report, Samples};
use crate::users::Profile;
use crate::{provision, Ctx};
use anyhow::{Context, Result};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// What the receiver saw.
#[derive(Default)]
struct Seen {
    /// Lags of the events received, and of `user.created` among them.
    lags: Samples,
    /// `user.created` events of this run's users.
    created: usize,
    first: Option<Instant>,
    last: Option<Instant>,
    /// Bodies that were not an event.
    bad: usize,
}

/// Reads one request (headers, then `Content-Length` bytes of body); `None`
/// when the client closed the connection.
async fn request<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> Result<Option<Vec<u8>>> {
    let mut length = 0usize;
    let mut line = String::new();
    let mut first = true;
    loop {
        line.clear();
        if r.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        if line == "\r\n" && !first {
            break;
        }
        first = false;
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().context("a Content-Length that is not a number")?;
            }
        }
    }
    let mut body = vec![0; length.min(1 << 20)];
    r.read_exact(&mut body).await?;
    Ok(Some(body))
}

fn note(seen: &Mutex<Seen>, body: &[u8], prefix: &str) {
    let now = Instant::now();
    let Ok(mut seen) = seen.lock() else { return };
    seen.first.get_or_insert(now);
    seen.last = Some(now);
    let event: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let at = event["timestamp"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
    let Some(at) = at else {
        seen.bad += 1;
        return;
    };
    let made = SystemTime::from(at);
    // A load tool measuring wall-clock lag, not the product: the Clock port
    // is the server's.
    #[allow(clippy::disallowed_methods)]
    let lag = SystemTime::now().duration_since(made).unwrap_or_default();
    seen.lags.record("lag", lag);
    let user = event["data"]["user"]["userName"].as_str().unwrap_or_default();
    if event["type"] == "user.created" && user.starts_with(prefix) {
        seen.created += 1;
        seen.lags.record("created_lag", lag);
    }
}

/// Starts the receiver on `listen`.
async fn receive(listen: &str, seen: Arc<Mutex<Seen>>, prefix: String) -> Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    Ok(tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let (seen, prefix) = (seen.clone(), prefix.clone());
            tokio::spawn(async move {
                let (r, mut w) = socket.into_split();
                let mut r = BufReader::new(r);
                while let Ok(Some(body)) = request(&mut r).await {
                    note(&seen, &body, &prefix);
                    if w.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await.is_err() {
                        break;
                    }
                }
            });
        }
    }))
}

/// Creates one user and waits for its event: the endpoint is then
/// delivering here (one that failed while nothing listened waits out its
/// retry delay first), and the measured run starts from no backlog.
async fn warm_up(ctx: &Arc<Ctx>, seen: &Arc<Mutex<Seen>>) -> Result<()> {
    let name = format!("{}-warmup-{}@{}", ctx.prefix, std::process::id(), ctx.domain);
    let body = serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name});
    let r = ctx.conn().send("POST", "/Users", Some(&body)).await?;
    if r.status != 201 {
        anyhow::bail!("the warm-up user was refused: {} {}", r.status, String::from_utf8_lossy(&r.body));
    }
    eprintln!("waiting for the endpoint to deliver a first event (register it with `enlist webhook add`)");
    while seen.lock().map(|s| s.created).unwrap_or_default() == 0 {
        if ctx.over() {
            anyhow::bail!(
                "no event reached the receiver: is the endpoint registered for this organization, at this address?"
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // What arrived before the run is not part of it.
    *seen.lock().map_err(|_| anyhow::anyhow!("receiver panicked"))? = Seen::default();
    Ok(())
}

/// Provisions `users` while receiving their events, then waits (within the
/// run's deadline) for the last of them.
pub async fn deliveries(ctx: &Arc<Ctx>, listen: &str, users: usize, profile: Profile) -> Result<Report> {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let receiver = receive(listen, seen.clone(), format!("{}-", ctx.prefix)).await?;
    warm_up(ctx, &seen).await?;
    let started = Instant::now();
    let provisioned = provision(ctx, users, profile).await?;
    let provision_took = started.elapsed();
    let behind = users.saturating_sub(seen.lock().map(|s| s.created).unwrap_or_default());
    eprintln!(
        "provisioned in {:.1} s; {behind} user.created event(s) not yet delivered, waiting",
        provision_took.as_secs_f64()
    );
    while !ctx.over() && seen.lock().map(|s| s.created).unwrap_or_default() < users {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    receiver.abort();
    let mut seen = std::mem::take(&mut *seen.lock().map_err(|_| anyhow::anyhow!("receiver panicked"))?);
    let window = match (seen.first, seen.last) {
        (Some(a), Some(b)) => b.duration_since(a),
        _ => Duration::ZERO,
    };
    let events = seen.lags.count("lag");
    let mut r = Report::new("deliveries");
    r.add("events", events as f64, "count");
    r.add("rate", crate::rate(events, window), "events/s");
    r.add("created_delivered", seen.created as f64, "count");
    r.add("behind_when_provisioned", behind as f64, "count");
    r.latency(&mut seen.lags, "created_lag", "lag");
    r.add("lag.max", seen.lags.quantile_ms("created_lag", 1.0), "ms");
    r.add("not_events", seen.bad as f64, "count");
    provisioned.append_to(&mut r);
    Ok(r)
}
