//! `enlist-bench`: a bounded load generator that speaks to any SCIM 2.0
//! endpoint the way Microsoft Entra ID does (its match query before each
//! create, `"False"` as a string in PATCH), shows progress on stderr, and
//! prints one line per figure (`name value unit`) or `--json`.
//!
//! Every scenario is bounded twice: by its amount of work and by
//! `--max-seconds`. It is a benchmark, never a test: figures depend on the
//! machine.

mod deliveries;
mod http;
mod stats;
mod users;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use http::{Conn, Target};
use serde_json::{json, Value};
use stats::{Progress, Report, Samples};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use users::{new_user, update, Profile};

#[derive(Parser)]
#[command(name = "enlist-bench", version, about)]
struct Cli {
    /// The SCIM base URL, e.g. http://127.0.0.1:8080/scim/v2.
    #[arg(long, env = "ENLIST_BENCH_URL", default_value = "http://127.0.0.1:8080/scim/v2")]
    url: String,
    /// The API key (the server prints one on its first start).
    #[arg(long, env = "ENLIST_BENCH_TOKEN", default_value = "")]
    token: String,
    /// Concurrent clients (connections).
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Stop after this many seconds whatever is left.
    #[arg(long, default_value_t = 60)]
    max_seconds: u64,
    /// userNames are PREFIX-N@DOMAIN: scenarios after `provision` find its
    /// users by the same prefix.
    #[arg(long, default_value = "bench")]
    prefix: String,
    /// The email domain (registered to the key's organization).
    #[arg(long, default_value = "example.com")]
    domain: String,
    /// Print the figures as one JSON object.
    #[arg(long)]
    json: bool,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Entra's match query (`userName eq`), then the create, per user.
    Provision {
        /// Users to create (PREFIX-0 … PREFIX-(N-1)).
        #[arg(long, default_value_t = 10_000)]
        users: usize,
        /// What a user carries: `light` (userName, displayName, a name,
        /// one email, a role) or `entra-full` (Entra ID's default mappings:
        /// title, language, a work address, two phones and the enterprise
        /// extension too).
        #[arg(long, value_enum, default_value = "light")]
        profile: Profile,
    },
    /// Entra's multi-attribute PATCH of a provisioned user: title,
    /// department, manager and mobile phone replaced in one request.
    Update {
        /// Requests in all.
        #[arg(long, default_value_t = 20_000)]
        requests: usize,
        /// Users to spread them over (found by the prefix).
        #[arg(long, default_value_t = 10_000)]
        users: usize,
    },
    /// `userName eq` lookups of random provisioned users.
    Lookup {
        /// The provisioned population to pick from.
        #[arg(long, default_value_t = 10_000)]
        users: usize,
        /// Requests in all.
        #[arg(long, default_value_t = 50_000)]
        requests: usize,
    },
    /// Pages of 100 users walked from the start, `count=100`.
    Page {
        /// Pages in all.
        #[arg(long, default_value_t = 2_000)]
        requests: usize,
    },
    /// PATCH `active` to "False" then back to "True", as Entra suspends.
    Deactivate {
        /// Requests in all.
        #[arg(long, default_value_t = 20_000)]
        requests: usize,
        /// Users to spread them over (found by the prefix).
        #[arg(long, default_value_t = 10_000)]
        users: usize,
    },
    /// Creates GROUPS groups and adds members in PATCHes of 100, up to
    /// MEMBERS each; reports what a batch costs at the start and the end.
    GroupBuild {
        /// Members per group (at most the provisioned users).
        #[arg(long, default_value_t = 10_000)]
        members: usize,
        /// Groups PREFIX-g0 … built one after another.
        #[arg(long, default_value_t = 1)]
        groups: usize,
    },
    /// `displayName eq` with `excludedAttributes=members` over the built groups.
    GroupQuery {
        /// Groups built by `group-build`.
        #[arg(long, default_value_t = 1)]
        groups: usize,
        /// Requests in all.
        #[arg(long, default_value_t = 20_000)]
        requests: usize,
    },
    /// Webhook deliveries while `provision` runs: a receiver on LISTEN
    /// (registered beforehand with `enlist webhook add ORG
    /// http://LISTEN/hook --allow-private`) counts the events and their lag
    /// from the change to arrival.
    Deliveries {
        /// Where the receiver listens (loopback).
        #[arg(long, default_value = "127.0.0.1:18390")]
        listen: String,
        /// Users to create (PREFIX-0 … PREFIX-(N-1)).
        #[arg(long, default_value_t = 10_000)]
        users: usize,
        /// As `provision --profile`.
        #[arg(long, value_enum, default_value = "light")]
        profile: Profile,
    },
    /// Many tenants at a fixed rate each: create, look up, PATCH in turn.
    Mixed {
        /// A file with one `TOKEN DOMAIN [URL]` line per tenant; URL (a SCIM
        /// base, e.g. of a second server process) defaults to --url.
        #[arg(long)]
        tenants: std::path::PathBuf,
        /// Requests per second per tenant.
        #[arg(long, default_value_t = 25.0)]
        rate: f64,
        /// How long to hold the rate.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
    },
}

struct Ctx {
    target: Target,
    token: String,
    clients: usize,
    deadline: Instant,
    limit: Duration,
    prefix: String,
    domain: String,
}

impl Ctx {
    fn user_name(&self, i: usize) -> String {
        format!("{}-{i}@{}", self.prefix, self.domain)
    }
    fn conn(&self) -> Conn {
        Conn::new(&self.target, &self.token)
    }
    fn over(&self) -> bool {
        Instant::now() >= self.deadline
    }
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli).await {
        eprintln!("enlist-bench: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> Result<()> {
    let limit = Duration::from_secs(cli.max_seconds);
    let ctx = Arc::new(Ctx {
        target: Target::parse(&cli.url)?,
        token: cli.token.clone(),
        clients: cli.clients.max(1),
        deadline: Instant::now() + limit,
        limit,
        prefix: cli.prefix.clone(),
        domain: cli.domain.clone(),
    });
    if ctx.token.is_empty() && !matches!(cli.scenario, Scenario::Mixed { .. }) {
        bail!("no API key: pass --token KEY or set ENLIST_BENCH_TOKEN (enlist serve prints one on its first start)");
    }
    let report = match cli.scenario {
        Scenario::Provision { users, profile } => provision(&ctx, users, profile).await?,
        Scenario::Update { requests, users } => update(&ctx, requests, users).await?,
        Scenario::Lookup { users, requests } => lookup(&ctx, users, requests).await?,
        Scenario::Page { requests } => page(&ctx, requests).await?,
        Scenario::Deactivate { requests, users } => deactivate(&ctx, requests, users).await?,
        Scenario::GroupBuild { members, groups } => group_build(&ctx, members, groups).await?,
        Scenario::GroupQuery { groups, requests } => group_query(&ctx, groups, requests).await?,
        Scenario::Mixed { tenants, rate, seconds } => mixed(&ctx, &tenants, rate, seconds).await?,
        Scenario::Deliveries { listen, users, profile } => {
            deliveries::deliveries(&ctx, &listen, users, profile).await?
        }
    };
    report.print(cli.json);
    Ok(())
}

/// Runs `clients` tasks that each take item numbers from one counter until
/// `total` or the deadline; `work` handles one item on the task's
/// connection. Returns the merged samples and the elapsed time.
async fn fan_out<F, Fut>(ctx: &Arc<Ctx>, label: &str, total: usize, work: F) -> Result<(Samples, Duration)>
where
    F: Fn(Arc<Ctx>, usize, Conn, Samples) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = (Conn, Samples)> + Send,
{
    let progress = Progress::start(label, total as u64, ctx.limit);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..ctx.clients {
        let (ctx, next, work, done) = (ctx.clone(), next.clone(), work.clone(), progress.done.clone());
        tasks.push(tokio::spawn(async move {
            let (mut conn, mut samples) = (ctx.conn(), Samples::default());
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total || ctx.over() {
                    break;
                }
                (conn, samples) = work(ctx.clone(), i, conn, samples).await;
                done.fetch_add(1, Ordering::Relaxed);
            }
            samples
        }));
    }
    let mut all = Samples::default();
    for t in tasks {
        all.merge(t.await.context("a client task failed")?);
    }
    let elapsed = started.elapsed();
    drop(progress);
    if let Some(e) = &all.first_error {
        eprintln!("first error: {e}");
    }
    Ok((all, elapsed))
}

/// Sends one request, timing it under `kind`; an unexpected status or a
/// transport error is counted and described.
async fn timed(
    conn: &mut Conn,
    s: &mut Samples,
    kind: &'static str,
    method: &str,
    path: &str,
    body: Option<&Value>,
    want: u16,
) -> Option<http::Response> {
    let t = Instant::now();
    match conn.send(method, path, body).await {
        Ok(r) if r.status == want => {
            s.record(kind, t.elapsed());
            Some(r)
        }
        Ok(r) => {
            s.record(kind, t.elapsed());
            s.error(format!("{method} {path}: {} {}", r.status, String::from_utf8_lossy(&r.body)));
            None
        }
        Err(e) => {
            s.error(format!("{method} {path}: {e:#}"));
            None
        }
    }
}

/// `ATTR eq "VALUE"`, percent-encoded for a query string.
fn eq_filter(attr: &str, value: &str) -> String {
    encode(&format!("{attr} eq \"{value}\""))
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

async fn provision(ctx: &Arc<Ctx>, users: usize, profile: Profile) -> Result<Report> {
    let (mut s, took) = fan_out(ctx, "provision", users, move |ctx, i, mut conn, mut s| async move {
        let t = Instant::now();
        let q = format!("/Users?filter={}", eq_filter("userName", &ctx.user_name(i)));
        let body = new_user(&ctx, i, profile);
        if timed(&mut conn, &mut s, "match", "GET", &q, None, 200).await.is_some()
            && timed(&mut conn, &mut s, "create", "POST", "/Users", Some(&body), 201).await.is_some()
        {
            s.record("provision", t.elapsed());
        }
        (conn, s)
    })
    .await?;
    let mut r = Report::new(if profile == Profile::EntraFull { "provision_entra_full" } else { "provision" });
    r.add("rate", rate(s.count("provision"), took), "users/s");
    r.latency(&mut s, "create", "create");
    r.latency(&mut s, "match", "match");
    r.add("errors", s.errors as f64, "count");
    Ok(r)
}

/// A small deterministic generator (xorshift), so runs pick the same users.
fn pick(i: usize, n: usize) -> usize {
    let mut x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    (x % n.max(1) as u64) as usize
}

async fn lookup(ctx: &Arc<Ctx>, users: usize, requests: usize) -> Result<Report> {
    let (mut s, took) = fan_out(ctx, "lookup", requests, move |ctx, i, mut conn, mut s| async move {
        let name = ctx.user_name(pick(i, users));
        let q = format!("/Users?filter={}", eq_filter("userName", &name));
        if let Some(r) = timed(&mut conn, &mut s, "lookup", "GET", &q, None, 200).await {
            if r.json().ok().and_then(|v| v["totalResults"].as_u64()) != Some(1) {
                s.error(format!("{name}: not found (run `provision --users {users}` first)"));
            }
        }
        (conn, s)
    })
    .await?;
    let mut r = Report::new("lookup");
    r.add("rate", rate(s.count("lookup"), took), "requests/s");
    r.latency(&mut s, "lookup", "lookup");
    r.add("errors", s.errors as f64, "count");
    Ok(r)
}

async fn page(ctx: &Arc<Ctx>, requests: usize) -> Result<Report> {
    let (mut s, took) = fan_out(ctx, "page", requests, |_ctx, i, mut conn, mut s| async move {
        let q = format!("/Users?startIndex={}&count=100", (i % 1000) * 100 + 1);
        timed(&mut conn, &mut s, "page", "GET", &q, None, 200).await;
        (conn, s)
    })
    .await?;
    let mut r = Report::new("page");
    r.add("rate", rate(s.count("page"), took), "pages/s");
    r.latency(&mut s, "page", "page");
    r.add("errors", s.errors as f64, "count");
    Ok(r)
}

/// The ids of the first `n` users named with the prefix (not timed).
async fn user_ids(ctx: &Arc<Ctx>, n: usize) -> Result<Vec<String>> {
    let mut conn = ctx.conn();
    let mut ids = Vec::with_capacity(n);
    let progress = Progress::start("finding users", n as u64, ctx.limit);
    let filter = format!("userName sw \"{}-\"", ctx.prefix);
    let filter = encode(&filter);
    while ids.len() < n && !ctx.over() {
        let q = format!("/Users?filter={filter}&startIndex={}&count=1000&attributes=id", ids.len() + 1);
        let r = conn.send("GET", &q, None).await?;
        if r.status != 200 {
            bail!("listing users: {} {}", r.status, String::from_utf8_lossy(&r.body));
        }
        let v = r.json()?;
        let page = v["Resources"].as_array().cloned().unwrap_or_default();
        if page.is_empty() {
            break;
        }
        for u in page {
            if let Some(id) = u["id"].as_str() {
                ids.push(id.to_owned());
                progress.tick();
            }
        }
    }
    ids.truncate(n);
    if ids.len() < n {
        bail!("found {} users named {}-N, need {n}: run `provision --users {n}` first", ids.len(), ctx.prefix);
    }
    Ok(ids)
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

async fn deactivate(ctx: &Arc<Ctx>, requests: usize, users: usize) -> Result<Report> {
    let ids = Arc::new(user_ids(ctx, users).await?);
    let (mut s, took) = fan_out(ctx, "deactivate", requests, move |_ctx, i, mut conn, mut s| {
        let ids = ids.clone();
        async move {
            // Round one suspends everyone, round two reactivates, …
            let value = if (i / ids.len()) % 2 == 0 { "False" } else { "True" };
            let body = patch(json!([{"op": "Replace", "path": "active", "value": value}]));
            let path = format!("/Users/{}", ids[i % ids.len()]);
            timed(&mut conn, &mut s, "patch", "PATCH", &path, Some(&body), 200).await;
            (conn, s)
        }
    })
    .await?;
    let mut r = Report::new("deactivate");
    r.add("rate", rate(s.count("patch"), took), "requests/s");
    r.latency(&mut s, "patch", "patch");
    r.add("errors", s.errors as f64, "count");
    Ok(r)
}

async fn group_build(ctx: &Arc<Ctx>, members: usize, groups: usize) -> Result<Report> {
    let ids = user_ids(ctx, members).await?;
    let mut conn = ctx.conn();
    let mut s = Samples::default();
    let batches = members.div_ceil(100);
    let progress = Progress::start("group-build", (batches * groups) as u64, ctx.limit);
    let (mut first, mut last) = (Vec::new(), Vec::new());
    let started = Instant::now();
    for g in 0..groups {
        let name = format!("{}-g{g}", ctx.prefix);
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "externalId": name});
        let Some(r) = timed(&mut conn, &mut s, "create", "POST", "/Groups", Some(&body), 201).await else {
            bail!("creating group {name}: {}", s.first_error.unwrap_or_default());
        };
        let id = r.json()?["id"].as_str().unwrap_or_default().to_owned();
        for (b, chunk) in ids.chunks(100).enumerate() {
            if ctx.over() {
                break;
            }
            let values: Vec<Value> = chunk.iter().map(|m| json!({"value": m})).collect();
            let body = patch(json!([{"op": "Add", "path": "members", "value": values}]));
            let t = Instant::now();
            // Entra's member PATCH answers 204.
            let ok = timed(&mut conn, &mut s, "batch", "PATCH", &format!("/Groups/{id}"), Some(&body), 204).await;
            if ok.is_some() {
                let ms = t.elapsed().as_secs_f64() * 1e3;
                if b < 10 {
                    first.push(ms);
                }
                if b + 10 >= batches {
                    last.push(ms);
                }
            }
            progress.tick();
        }
    }
    let took = started.elapsed();
    drop(progress);
    if let Some(e) = &s.first_error {
        eprintln!("first error: {e}");
    }
    let mean = |v: &[f64]| if v.is_empty() { 0.0 } else { v.iter().sum::<f64>() / v.len() as f64 };
    let mut r = Report::new("group-build");
    r.add("rate", rate(s.count("batch") * 100, took), "members/s");
    r.latency(&mut s, "batch", "batch");
    r.add("batch.first", mean(&first), "ms");
    r.add(&format!("batch.at{}", members.saturating_sub(100)), mean(&last), "ms");
    r.add("batch.growth", mean(&last) / mean(&first).max(1e-9), "x");
    r.add("errors", s.errors as f64, "count");
    Ok(r)
}

async fn group_query(ctx: &Arc<Ctx>, groups: usize, requests: usize) -> Result<Report> {
    let (mut s, took) = fan_out(ctx, "group-query", requests, move |ctx, i, mut conn, mut s| async move {
        let name = format!("{}-g{}", ctx.prefix, pick(i, groups));
        let q = format!("/Groups?filter={}&excludedAttributes=members", eq_filter("displayName", &name));
        if let Some(r) = timed(&mut conn, &mut s, "query", "GET", &q, None, 200).await {
            if r.json().ok().and_then(|v| v["totalResults"].as_u64()) != Some(1) {
                s.error(format!("{name}: not found (run `group-build --groups {groups}` first)"));
            }
        }
        (conn, s)
    })
    .await?;
    let mut r = Report::new("group-query");
    r.add("rate", rate(s.count("query"), took), "requests/s");
    r.latency(&mut s, "query", "query");
    r.add("errors", s.errors as f64, "count");
    Ok(r)
}

/// Each tenant sends at its own fixed rate on its own connection; a
/// request's latency counts from when it was due, so a server that falls
/// behind shows it (no coordinated omission).
async fn mixed(ctx: &Arc<Ctx>, tenants: &std::path::Path, per_tenant: f64, seconds: u64) -> Result<Report> {
    let text = std::fs::read_to_string(tenants).with_context(|| format!("reading {}", tenants.display()))?;
    let mut list: Vec<(String, String, Target)> = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut parts = line.split_whitespace();
        let (Some(token), Some(domain)) = (parts.next(), parts.next()) else {
            bail!("{}: expected `TOKEN DOMAIN [URL]`, got {line:?}", tenants.display());
        };
        let target = match parts.next() {
            Some(url) => Target::parse(url)?,
            None => ctx.target.clone(),
        };
        list.push((token.to_owned(), domain.to_owned(), target));
    }
    if list.is_empty() || per_tenant <= 0.0 {
        bail!("{}: expected one `TOKEN DOMAIN` line per tenant, and a positive --rate", tenants.display());
    }
    let seconds = seconds.min(ctx.limit.as_secs());
    let per = (per_tenant * seconds as f64) as usize;
    let progress = Progress::start("mixed", (per * list.len()) as u64, Duration::from_secs(seconds));
    let interval = Duration::from_secs_f64(1.0 / per_tenant);
    let started = Instant::now() + Duration::from_millis(200);
    let mut tasks = Vec::new();
    for (k, (token, domain, target)) in list.iter().cloned().enumerate() {
        let (prefix, done) = (ctx.prefix.clone(), progress.done.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::new(&target, &token);
            let mut s = Samples::default();
            let mut ids: Vec<String> = Vec::new();
            // Tenants start spread over one interval, not all at once.
            let offset = interval.mul_f64(k as f64 / 101.0);
            // A server that falls far behind ends the run at twice its length.
            let hard_stop = started + Duration::from_secs(seconds * 2);
            for n in 0..per {
                if Instant::now() > hard_stop {
                    break;
                }
                let due = started + offset + interval.mul_f64(n as f64);
                tokio::time::sleep_until(due.into()).await;
                let name = format!("{prefix}-m{n}@{domain}");
                let (method, path, body, want) = match n % 3 {
                    0 => {
                        let u = json!({"userName": name, "emails": [{"type": "work", "primary": true, "value": name}],
                                        "roles": [{"value": "FreeMember"}], "active": true});
                        ("POST", "/Users".to_owned(), Some(u), 201)
                    }
                    1 => (
                        "GET",
                        format!("/Users?filter={}", eq_filter("userName", &format!("{prefix}-m{}@{domain}", n - 1))),
                        None,
                        200,
                    ),
                    _ => match ids.last() {
                        Some(id) => (
                            "PATCH",
                            format!("/Users/{id}"),
                            Some(patch(json!([{"op": "Replace", "path": "title", "value": format!("t{n}")}]))),
                            200,
                        ),
                        None => ("GET", "/ServiceProviderConfig".to_owned(), None, 200),
                    },
                };
                match conn.send(method, &path, body.as_ref()).await {
                    Ok(r) if r.status == want => {
                        if method == "POST" {
                            if let Some(id) = r.json().ok().and_then(|v| v["id"].as_str().map(str::to_owned)) {
                                ids.push(id);
                            }
                        }
                    }
                    Ok(r) => s.error(format!("{method} {path}: {} {}", r.status, String::from_utf8_lossy(&r.body))),
                    Err(e) => s.error(format!("{method} {path}: {e:#}")),
                }
                s.record("request", due.elapsed());
                done.fetch_add(1, Ordering::Relaxed);
            }
            s
        }));
    }
    let mut all = Samples::default();
    for t in tasks {
        all.merge(t.await.context("a tenant task failed")?);
    }
    let took = started.elapsed();
    drop(progress);
    if let Some(e) = &all.first_error {
        eprintln!("first error: {e}");
    }
    let offered = per_tenant * list.len() as f64;
    let achieved = rate(all.count("request"), took);
    let mut r = Report::new("mixed");
    r.add("tenants", list.len() as f64, "count");
    r.add("offered", offered, "requests/s");
    r.add("achieved", achieved, "requests/s");
    // Held: every request was sent within 5 % of the run's length of its
    // slot, and answered as it should be (refusals are not service).
    let held = achieved >= offered * 0.95 && all.errors == 0;
    r.add("held", f64::from(u8::from(held)), "bool");
    r.latency(&mut all, "request", "request");
    r.add("errors", all.errors as f64, "count");
    Ok(r)
}
