//! The `enlist` server and operator CLI: configuration and wiring only.
//! Every rule lives in `enlist-core`; `main` parses arguments, opens the
//! database and hands each command to its module.

mod cli;
mod config;
mod guard;
mod ops;
mod serve;
mod term;

use anyhow::Context;
use clap::Parser;
use cli::{Cli, Command, UsersCmd};
use enlist_diesel::{Database, PoolOptions};
use ops::*;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use term::note;

/// mimalloc rather than glibc's allocator: a request allocates and frees
/// hundreds of small strings (JSON, SQL binds, value rows), and glibc's
/// malloc and free were 15-20 % of the SQLite writer's time under Entra
/// ID's updates (docs/performance.md). Version 2: it returns freed pages
/// after 10 ms, version 3 after a second. Its arena is committed on demand
/// (`.cargo/config.toml`), or freed pages stay resident. A host embedding
/// Enlist picks its own allocator; this is the binary's choice only.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Logs to stderr at `--log-level`, or as `RUST_LOG` says when it is set
/// (it takes per-module directives: `info,enlist_webhooks=debug`).
fn init_logs(format: &str, level: &str) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => EnvFilter::try_new(&directives).map_err(|e| {
            anyhow::anyhow!("RUST_LOG={directives:?} is not valid ({e}); e.g. RUST_LOG=info,enlist_webhooks=debug")
        })?,
        _ => {
            let level: tracing::Level = level.parse().map_err(|_| {
                anyhow::anyhow!("log level {level:?} is not one of error, warn, info, debug, trace (--log-level)")
            })?;
            EnvFilter::new(level.as_str())
        }
    };
    // Colour codes only on a terminal: a log file or journal gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(filter).with_ansi(ansi);
    let _ = if format == "json" { builder.json().try_init() } else { builder.try_init() };
    Ok(())
}

fn open(s: &config::Settings) -> anyhow::Result<Database> {
    let opts = PoolOptions {
        max_size: s.pool_size,
        connection_timeout: Duration::from_secs(s.pool_timeout_secs),
        statement_timeout: Duration::from_secs(s.statement_timeout_secs),
        // A write ends (committed or rolled back) well before the request's
        // deadline, so a timed-out request never hides a later commit.
        write_deadline: Duration::from_secs(s.request_timeout_secs).mul_f64(2.0 / 3.0),
        write_wait: Duration::from_secs(s.request_timeout_secs).mul_f64(1.0 / 3.0),
    };
    Ok(Database::open(&s.database, &opts)?)
}

/// Runs pending migrations with progress on stderr; reports the version
/// when asked (`enlist migrate`) or when something was applied.
fn migrate(db: &Database, report: bool) -> anyhow::Result<()> {
    let applied = db.migrate(|step| note!("migrating: {step} ..."))?;
    if report || !applied.is_empty() {
        let version = db.schema_version()?.unwrap_or_else(|| "none".into());
        note!("migrations: {} applied, schema version {version}", applied.len());
    }
    Ok(())
}

/// The facade over the opened, migrated database; `serve` adds the HTTP
/// settings and the mailer.
async fn facade(db: &Database, s: &config::Settings, serving: bool) -> anyhow::Result<enlist::Enlist> {
    let mut b = enlist::Enlist::builder()
        .database_handle(db.clone())
        .events_keep_days(s.events_keep_days)
        .webhook_lease(Duration::from_secs(s.webhook_lease_secs))
        .branding(s.branding.clone())
        .webhooks_allow_private(s.webhooks_allow_private);
    if let Some(addr) = s.dns_server {
        b = b.name_server(addr);
    }
    if serving {
        b = b.http(enlist::HttpConfig {
            public_url: s.public_url.clone(),
            max_body_bytes: s.body_limit_bytes,
            request_timeout: Duration::from_secs(s.request_timeout_secs),
            max_in_flight: s.max_in_flight,
            ..enlist::HttpConfig::default()
        });
        if let Some(url) = &s.smtp_url {
            b = b.mailer(Arc::new(enlist::mail::SmtpMailer::from_url(url, &s.mail_from)?.branding(s.branding.clone())));
        }
    }
    Ok(b.build().await?)
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            note!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let serve = match &cli.command {
        Command::Serve(s) => Some(&**s),
        _ => None,
    };
    let s = config::settings(&cli.global, serve)?;
    if let Some(sv) = serve {
        if sv.print_config {
            print!("{}", s.render());
            return Ok(());
        }
    }
    init_logs(&s.log_format, &s.log_level)?;
    let db = open(&s)?;
    tracing::debug!(database = %config::mask(&s.database), pool = s.pool_size, "database opened");
    if let Command::Backup { path } = &cli.command {
        // Before any migration: a backup is what an upgrade starts from.
        return backup_cmd(&db, path).await;
    }
    let blocking_db = db.clone();
    let report = matches!(cli.command, Command::Migrate);
    // Migrations are blocking work: off the async executor.
    tokio::task::spawn_blocking(move || migrate(&blocking_db, report)).await.context("migration task failed")??;
    let enlist = facade(&db, &s, serve.is_some()).await?;
    let e = enlist.services();
    match cli.command {
        Command::Serve(_) => serve::serve_cmd(s, &enlist).await,
        Command::Migrate | Command::Backup { .. } => Ok(()),
        Command::Org(cmd) => org_cmd(e, cmd).await,
        Command::Domain(cmd) => domain_cmd(e, cmd).await,
        Command::ApiKey(cmd) => key_cmd(e, cmd).await,
        Command::GroupRole(cmd) => group_role_cmd(e, cmd).await,
        Command::Users(UsersCmd::List { org, filter, json }) => users_cmd(e, &org, filter.as_deref(), json).await,
        Command::Outbox { cmd, json } => outbox_cmd(&db, cmd, json).await,
        Command::Webhook(cmd) => webhook_cmd(&enlist, cmd).await,
        Command::ConsoleLink { org, email, base } => console_link_cmd(e, &org, &email, &base).await,
        Command::Activity { org, failed, since, user, limit, json } => {
            activity_cmd(&enlist, &org, failed, since, user, limit, json).await
        }
        Command::Events { org, after, limit, json } => events_cmd(e, &org, after, limit, json).await,
        Command::Audit { org, since, limit, json } => audit_cmd(e, &org, since, limit, json).await,
    }
}
