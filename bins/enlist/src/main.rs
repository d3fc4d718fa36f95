//! The `enlist` server and operator CLI: configuration and wiring only.
//! Every rule lives in `enlist-core`; this file parses arguments, builds
//! the adapters and prints results.

mod config;
mod system;

use anyhow::{anyhow, Context};
use clap::{Args, Parser, Subcommand};
use enlist_core::query::{ListQuery, Page};
use enlist_core::schema::USER_RESOURCE;
use enlist_core::{Actor, ApiKeyId, Caller, Deps, DomainName, Email, Enlist, Organization, Role};
use enlist_diesel::{Database, PoolOptions};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(name = "enlist", version, about = "Enlist: a SCIM 2.0 service provider for Entra ID and Okta.")]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Global {
    /// Database URL: sqlite://PATH (default sqlite://enlist.db) or postgres://USER@HOST/DB.
    #[arg(long, env = "ENLIST_DATABASE_URL", global = true)]
    database: Option<String>,
    /// Optional TOML configuration file (flags and ENLIST_* variables win over it).
    #[arg(long, env = "ENLIST_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Log format: human or json.
    #[arg(long, env = "ENLIST_LOG_FORMAT", global = true)]
    log_format: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run pending migrations, then serve the SCIM endpoint.
    Serve(Serve),
    /// Run pending migrations and report the schema version.
    Migrate,
    /// Organizations.
    #[command(subcommand)]
    Org(OrgCmd),
    /// Registered email domains.
    #[command(subcommand)]
    Domain(DomainCmd),
    /// API keys.
    #[command(subcommand, name = "api-key")]
    ApiKey(KeyCmd),
    /// Map a group to a role (all its members hold at least that role).
    #[command(subcommand, name = "group-role")]
    GroupRole(GroupRoleCmd),
    /// Users.
    #[command(subcommand)]
    Users(UsersCmd),
    /// The audit log of an organization.
    Audit {
        /// Organization id or name.
        org: String,
        /// Only records at or after this time (RFC 3339, e.g. 2026-11-29T00:00:00Z).
        #[arg(long)]
        since: Option<String>,
        /// At most this many records.
        #[arg(long, default_value_t = 1000)]
        limit: u64,
        /// Print JSON only.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct Serve {
    /// Address to listen on.
    #[arg(long, env = "ENLIST_BIND")]
    bind: Option<String>,
    /// Public URL prefix for Location and $ref (e.g. https://enlist.example.com).
    #[arg(long, env = "ENLIST_PUBLIC_URL")]
    public_url: Option<String>,
    /// Database connections per process.
    #[arg(long, env = "ENLIST_POOL_SIZE")]
    pool_size: Option<u32>,
    /// Largest request body in bytes.
    #[arg(long, env = "ENLIST_BODY_LIMIT")]
    body_limit: Option<usize>,
    /// Per-request deadline in seconds.
    #[arg(long, env = "ENLIST_REQUEST_TIMEOUT")]
    request_timeout: Option<u64>,
    /// SMTP server in lettre's URL form: smtp://HOST:PORT, smtp://USER:PASS@HOST:587?tls=required, smtps://HOST.
    #[arg(long, env = "ENLIST_SMTP_URL")]
    smtp_url: Option<String>,
    /// Sender of notification mail.
    #[arg(long, env = "ENLIST_MAIL_FROM")]
    mail_from: Option<String>,
    /// HTTP worker threads.
    #[arg(long, env = "ENLIST_WORKERS")]
    workers: Option<usize>,
    /// Requests handled at once; more wait up to 10 s, then get 503 with Retry-After.
    #[arg(long, env = "ENLIST_MAX_IN_FLIGHT")]
    max_in_flight: Option<usize>,
    /// Print the effective configuration (secrets masked) and exit.
    #[arg(long)]
    print_config: bool,
}

#[derive(Subcommand)]
enum OrgCmd {
    /// Create an organization; prints its id.
    Create {
        /// Unique name.
        name: String,
        /// Email of the owner, created as an active Admin.
        #[arg(long)]
        owner: Option<String>,
        /// Create with the SCIM add-on off.
        #[arg(long)]
        no_scim: bool,
    },
    /// List organizations.
    List {
        /// Print JSON only.
        #[arg(long)]
        json: bool,
    },
    /// Turn the SCIM add-on on or off.
    Scim {
        /// Organization id or name.
        org: String,
        /// on or off.
        state: OnOff,
    },
    /// Set the role of users provisioned without one.
    DefaultRole {
        /// Organization id or name.
        org: String,
        /// Admin, FullMember, FreeMember or Guest.
        role: String,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum OnOff {
    On,
    Off,
}

#[derive(Subcommand)]
enum DomainCmd {
    /// Register a domain.
    Add { org: String, domain: String },
    /// Remove a registered domain.
    Remove { org: String, domain: String },
    /// List registered domains.
    List {
        org: String,
        /// Print JSON only.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum KeyCmd {
    /// Create a key; the secret is printed once, on the last line.
    Create {
        org: String,
        /// What people see in notification mails and the audit log.
        #[arg(long)]
        label: String,
    },
    /// List keys (never secrets).
    List {
        org: String,
        /// Print JSON only.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key; it stops working at once.
    Revoke { org: String, key_id: String },
}

#[derive(Subcommand)]
enum GroupRoleCmd {
    /// Map GROUP (id or displayName) to ROLE.
    Set { org: String, group: String, role: String },
    /// Remove the mapping.
    Clear { org: String, group: String },
}

#[derive(Subcommand)]
enum UsersCmd {
    /// List users, optionally filtered with a SCIM filter.
    List {
        org: String,
        /// e.g. 'userName eq "ana@contoso.com"'.
        #[arg(long)]
        filter: Option<String>,
        /// Print JSON only.
        #[arg(long)]
        json: bool,
    },
}

fn settings(global: &Global, serve: Option<&Serve>) -> anyhow::Result<config::Settings> {
    let file = config::File::load(global.config.as_deref())?;
    let pick =
        |flag: Option<String>, file: Option<String>, default: &str| flag.or(file).unwrap_or_else(|| default.to_owned());
    Ok(config::Settings {
        database: pick(global.database.clone(), file.database, "sqlite://enlist.db"),
        bind: pick(serve.and_then(|s| s.bind.clone()), file.bind, "127.0.0.1:8080"),
        public_url: serve.and_then(|s| s.public_url.clone()).or(file.public_url),
        pool_size: serve.and_then(|s| s.pool_size).or(file.pool_size).unwrap_or(8),
        pool_timeout_secs: file.pool_timeout_secs.unwrap_or(30),
        statement_timeout_secs: file.statement_timeout_secs.unwrap_or(20),
        body_limit_bytes: serve.and_then(|s| s.body_limit).or(file.body_limit_bytes).unwrap_or(1024 * 1024),
        request_timeout_secs: serve.and_then(|s| s.request_timeout).or(file.request_timeout_secs).unwrap_or(30),
        smtp_url: serve.and_then(|s| s.smtp_url.clone()).or(file.smtp_url),
        mail_from: pick(serve.and_then(|s| s.mail_from.clone()), file.mail_from, "Enlist <no-reply@localhost>"),
        log_format: pick(global.log_format.clone(), file.log_format, "human"),
        workers: serve.and_then(|s| s.workers).or(file.workers).unwrap_or(2),
        max_in_flight: serve.and_then(|s| s.max_in_flight).or(file.max_in_flight).unwrap_or(256),
    })
}

fn init_logs(format: &str) {
    let builder = tracing_subscriber::fmt().with_writer(std::io::stderr).with_max_level(tracing::Level::INFO);
    let _ = if format == "json" { builder.json().try_init() } else { builder.try_init() };
}

fn open(s: &config::Settings) -> anyhow::Result<Database> {
    let opts = PoolOptions {
        max_size: s.pool_size,
        connection_timeout: Duration::from_secs(s.pool_timeout_secs),
        statement_timeout: Duration::from_secs(s.statement_timeout_secs),
    };
    Ok(Database::open(&s.database, &opts)?)
}

/// Runs pending migrations with progress on stderr; reports the version
/// when asked (`enlist migrate`) or when something was applied.
fn migrate(db: &Database, report: bool) -> anyhow::Result<()> {
    let applied = db.migrate(|name| eprintln!("migrating: applying {name} ..."))?;
    if report || !applied.is_empty() {
        let version = db.schema_version()?.unwrap_or_else(|| "none".into());
        eprintln!("migrations: {} applied, schema version {version}", applied.len());
    }
    Ok(())
}

fn services(db: &Database) -> Enlist {
    Enlist::new(Deps {
        store: Arc::new(db.clone()),
        clock: Arc::new(system::SystemClock),
        ids: Arc::new(system::RandomIds),
    })
}

async fn find_org(e: &Enlist, key: &str) -> anyhow::Result<Organization> {
    Ok(e.organizations.find(key).await?)
}

fn operator(org: &Organization) -> Caller {
    Caller { organization_id: org.id.clone(), actor: Actor::Operator }
}

fn role(s: &str) -> anyhow::Result<Role> {
    Role::parse(s).map_err(|_| anyhow!("unknown role '{s}': use Admin, FullMember, FreeMember or Guest"))
}

fn print_json(v: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let serve = match &cli.command {
        Command::Serve(s) => Some(s),
        _ => None,
    };
    let s = settings(&cli.global, serve)?;
    if let Some(sv) = serve {
        if sv.print_config {
            print!("{}", s.render());
            return Ok(());
        }
    }
    init_logs(&s.log_format);
    let db = open(&s)?;
    let blocking_db = db.clone();
    let report = matches!(cli.command, Command::Migrate);
    // Migrations are blocking work: off the async executor.
    tokio::task::spawn_blocking(move || migrate(&blocking_db, report)).await.context("migration task failed")??;
    let e = services(&db);
    match cli.command {
        Command::Serve(_) => serve_cmd(s, db, e).await,
        Command::Migrate => Ok(()),
        Command::Org(cmd) => org_cmd(&e, cmd).await,
        Command::Domain(cmd) => domain_cmd(&e, cmd).await,
        Command::ApiKey(cmd) => key_cmd(&e, cmd).await,
        Command::GroupRole(cmd) => {
            let (org, group, r) = match cmd {
                GroupRoleCmd::Set { org, group, role: r } => (org, group, Some(role(&r)?)),
                GroupRoleCmd::Clear { org, group } => (org, group, None),
            };
            let o = find_org(&e, &org).await?;
            let g = e.groups.find(&operator(&o), &group).await?;
            e.groups.set_role(&operator(&o), &g.id, r).await?;
            println!(
                "group '{}' ({}): role {}",
                g.display_name,
                g.id,
                r.map_or("cleared".to_owned(), |r| r.to_string())
            );
            Ok(())
        }
        Command::Users(UsersCmd::List { org, filter, json }) => users_cmd(&e, &org, filter.as_deref(), json).await,
        Command::Audit { org, since, limit, json } => {
            let o = find_org(&e, &org).await?;
            let since = since
                .map(|t| chrono::DateTime::parse_from_rfc3339(&t).map(|d| d.with_timezone(&chrono::Utc)))
                .transpose()
                .map_err(|_| anyhow!("--since must be RFC 3339, e.g. 2026-11-29T00:00:00Z"))?;
            let records = e.organizations.audit(&operator(&o), since, limit).await?;
            if json {
                let v: Vec<_> = records
                    .iter()
                    .map(|r| {
                        json!({"at": r.at.to_rfc3339(), "actor": r.actor, "resource": r.resource.as_str(), "id": r.resource_id,
                               "operation": r.operation.as_str(), "note": r.note,
                               "changes": r.changes.iter().map(|c| json!({"attribute": c.attribute,
                                   "before": c.before.as_ref().map(|v| v.render()), "after": c.after.as_ref().map(|v| v.render())})).collect::<Vec<_>>()})
                    })
                    .collect();
                print_json(&json!(v));
            } else {
                for r in records {
                    let attrs: Vec<&str> = r.changes.iter().map(|c| c.attribute.as_str()).collect();
                    println!(
                        "{}  {:<24} {:<9} {:<12} {}  {}{}",
                        r.at.to_rfc3339(),
                        r.actor,
                        r.operation.as_str(),
                        r.resource.as_str(),
                        r.resource_id,
                        attrs.join(","),
                        r.note.map(|n| format!("  ({n})")).unwrap_or_default()
                    );
                }
            }
            Ok(())
        }
    }
}

async fn org_cmd(e: &Enlist, cmd: OrgCmd) -> anyhow::Result<()> {
    match cmd {
        OrgCmd::Create { name, owner, no_scim } => {
            let owner =
                owner.map(|o| Email::parse(&o)).transpose().map_err(|_| anyhow!("--owner must be an email address"))?;
            let o = e.organizations.create(&Actor::Operator, &name, owner, !no_scim).await?;
            println!("{}", o.id);
        }
        OrgCmd::List { json } => {
            let orgs = e.organizations.list().await?;
            if json {
                let v: Vec<_> = orgs
                    .iter()
                    .map(|o| json!({"id": o.id.as_str(), "name": o.name, "scim_enabled": o.scim_enabled, "default_role": o.default_role.as_str(),
                                    "domains": o.domains.iter().map(|d| d.as_str()).collect::<Vec<_>>()}))
                    .collect();
                print_json(&json!(v));
            } else {
                for o in orgs {
                    println!(
                        "{}  {:<24} scim={:<3} default-role={:<10} domains={}",
                        o.id,
                        o.name,
                        if o.scim_enabled { "on" } else { "off" },
                        o.default_role,
                        o.domain_list()
                    );
                }
            }
        }
        OrgCmd::Scim { org, state } => {
            let o = find_org(e, &org).await?;
            let o = e.organizations.set_scim(&operator(&o), matches!(state, OnOff::On)).await?;
            println!("organization '{}': SCIM {}", o.name, if o.scim_enabled { "on" } else { "off" });
        }
        OrgCmd::DefaultRole { org, role: r } => {
            let o = find_org(e, &org).await?;
            let o = e.organizations.set_default_role(&operator(&o), role(&r)?).await?;
            println!("organization '{}': default role {}", o.name, o.default_role);
        }
    }
    Ok(())
}

async fn domain_cmd(e: &Enlist, cmd: DomainCmd) -> anyhow::Result<()> {
    let parse = |d: &str| DomainName::parse(d).map_err(|err| anyhow!("{err}"));
    match cmd {
        DomainCmd::Add { org, domain } => {
            let o = find_org(e, &org).await?;
            let o = e.organizations.add_domain(&operator(&o), parse(&domain)?).await?;
            println!("organization '{}': domains {}", o.name, o.domain_list());
        }
        DomainCmd::Remove { org, domain } => {
            let o = find_org(e, &org).await?;
            let o = e.organizations.remove_domain(&operator(&o), parse(&domain)?).await?;
            println!("organization '{}': domains {}", o.name, o.domain_list());
        }
        DomainCmd::List { org, json } => {
            let o = find_org(e, &org).await?;
            if json {
                print_json(&json!(o.domains.iter().map(|d| d.as_str()).collect::<Vec<_>>()));
            } else {
                o.domains.iter().for_each(|d| println!("{d}"));
            }
        }
    }
    Ok(())
}

async fn key_cmd(e: &Enlist, cmd: KeyCmd) -> anyhow::Result<()> {
    match cmd {
        KeyCmd::Create { org, label } => {
            let o = find_org(e, &org).await?;
            let k = e.api_keys.create(&operator(&o), &label).await?;
            println!(
                "API key {} for organization '{}', labelled '{}'. The secret is shown once, on the next line:",
                k.key.id, o.name, k.key.label
            );
            println!("{}", k.token);
        }
        KeyCmd::List { org, json } => {
            let o = find_org(e, &org).await?;
            let keys = e.api_keys.list(&operator(&o)).await?;
            let t = |d: Option<chrono::DateTime<chrono::Utc>>| d.map(|d| d.to_rfc3339());
            if json {
                let v: Vec<_> = keys
                    .iter()
                    .map(|k| json!({"id": k.id.as_str(), "label": k.label, "created": k.created_at.to_rfc3339(), "last_used": t(k.last_used_at), "revoked": t(k.revoked_at)}))
                    .collect();
                print_json(&json!(v));
            } else {
                for k in keys {
                    println!(
                        "{}  {:<28} created {}  last used {}  {}",
                        k.id,
                        k.label,
                        k.created_at.to_rfc3339(),
                        t(k.last_used_at).unwrap_or_else(|| "never".into()),
                        t(k.revoked_at).map(|r| format!("REVOKED {r}")).unwrap_or_else(|| "active".into())
                    );
                }
            }
        }
        KeyCmd::Revoke { org, key_id } => {
            let o = find_org(e, &org).await?;
            e.api_keys.revoke(&operator(&o), &ApiKeyId::new(key_id.clone())).await?;
            println!("API key {key_id} revoked: requests with it now get 401");
        }
    }
    Ok(())
}

async fn users_cmd(e: &Enlist, org: &str, filter: Option<&str>, json_out: bool) -> anyhow::Result<()> {
    let o = find_org(e, org).await?;
    let filter = filter
        .map(|f| enlist_scim::parse_filter(&USER_RESOURCE, f))
        .transpose()
        .map_err(|err| anyhow!("--filter: {}", err.detail))?;
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let q = ListQuery { filter: filter.clone(), sort: None, page: Page::Cursor { after: cursor, count: 500 } };
        let page = e.users.list(&operator(&o), q, false).await?;
        out.extend(page.items);
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    if json_out {
        let v: Vec<_> = out
            .iter()
            .map(|v| {
                let u = &v.user;
                json!({"id": u.id.as_str(), "userName": u.profile.user_name().as_str(), "email": u.profile.email().as_str(),
                       "active": u.profile.active(), "effectiveRole": u.effective_role.as_str(), "roleSource": u.role_source.as_str(),
                       "externalId": u.profile.external_id()})
            })
            .collect();
        print_json(&json!(v));
    } else {
        for v in &out {
            let u = &v.user;
            println!(
                "{}  {:<32} {:<10} {:<8} {}",
                u.id,
                u.profile.user_name().as_str(),
                u.effective_role,
                u.role_source.as_str(),
                if u.profile.active() { "active" } else { "SUSPENDED" }
            );
        }
        eprintln!("{} user(s)", out.len());
    }
    Ok(())
}

struct ServerHealth {
    db: Database,
}

#[async_trait::async_trait]
impl enlist_actix::Health for ServerHealth {
    async fn check(&self) -> Result<(), String> {
        self.db.ping().await.map_err(|e| e.to_string())
    }
    async fn gauges(&self) -> Vec<(&'static str, &'static str, f64)> {
        use enlist_core::ports::OutboxQueue;
        let (open, idle) = self.db.pool_state();
        let depth = self.db.depth().await.map(|d| d as f64).unwrap_or(f64::NAN);
        vec![
            ("enlist_db_pool_connections", "Open database connections.", f64::from(open)),
            ("enlist_db_pool_idle", "Idle database connections.", f64::from(idle)),
            ("enlist_outbox_depth", "Notifications waiting to be sent.", depth),
        ]
    }
}

async fn serve_cmd(s: config::Settings, db: Database, e: Enlist) -> anyhow::Result<()> {
    let bootstrap = if e.organizations.list().await?.is_empty() {
        let o = e.organizations.create(&Actor::Operator, "Default", None, true).await?;
        let key = e.api_keys.create(&operator(&o), "Default key").await?;
        Some(key.token)
    } else {
        None
    };
    let state = actix_web::web::Data::new(enlist_actix::Scim::new(
        e,
        enlist_actix::Config {
            public_url: s.public_url.clone(),
            max_body_bytes: s.body_limit_bytes,
            request_timeout: Duration::from_secs(s.request_timeout_secs),
            max_in_flight: s.max_in_flight,
            ..enlist_actix::Config::default()
        },
        Arc::new(ServerHealth { db: db.clone() }),
        Arc::new(system::RandomIds),
    ));
    let server = actix_web::HttpServer::new({
        let state = state.clone();
        move || actix_web::App::new().configure(enlist_actix::configure(state.clone()))
    })
    .workers(s.workers.max(1))
    .shutdown_timeout(30)
    // Signals are ours, installed before the banner says Ready.
    .disable_signals()
    .bind(&s.bind)
    .with_context(|| format!("cannot listen on {}: is another process using it? Choose another --bind", s.bind))?;
    let addr = server.addrs().first().copied().ok_or_else(|| anyhow!("no listening address"))?;
    let base = s.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    println!("Enlist is serving SCIM at {base}/scim/v2 (database {})", config::mask(&s.database));
    if let Some(token) = bootstrap {
        println!("Created organization \"Default\" with SCIM enabled and an API key labelled \"Default key\". It is shown once:");
        println!("API key: {token}");
        println!("Try: curl -H \"Authorization: Bearer $KEY\" {base}/scim/v2/Users");
    }
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot install the SIGTERM handler")?;
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: finishing in-flight requests, then stopping"),
            _ = sigterm.recv() => tracing::info!("SIGTERM: finishing in-flight requests, then stopping"),
        }
        // Graceful: stop accepting, let in-flight requests finish.
        handle.stop(true).await;
    });
    println!("Ready.");
    // Scripts read the banner: flush it now.
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let worker = match &s.smtp_url {
        Some(url) => {
            let mailer = enlist_mail::SmtpMailer::from_url(url, &s.mail_from)?;
            let w = enlist_mail::Worker {
                queue: Arc::new(db.clone()),
                mailer: Arc::new(mailer),
                clock: Arc::new(system::SystemClock),
                batch: 50,
                idle: Duration::from_secs(5),
            };
            Some(tokio::spawn(w.run(stop_rx)))
        }
        None => {
            tracing::warn!(
                "mail is not configured (ENLIST_SMTP_URL): notifications stay queued in the outbox until it is"
            );
            None
        }
    };
    server.await.context("the HTTP server failed")?;
    let _ = stop_tx.send(true);
    if let Some(w) = worker {
        let _ = w.await;
    }
    drop(state);
    tracing::info!("stopped");
    Ok(())
}
