//! `enlist serve`: first-start bootstrap, the HTTP server, signals and
//! graceful shutdown, and the mail worker.

use crate::{config, ops::operator, system};
use anyhow::{anyhow, Context};
use enlist_core::service::DEFAULT_ORGANIZATION;
use enlist_core::Enlist;
use enlist_diesel::Database;
use std::sync::Arc;
use std::time::Duration;

pub async fn serve_cmd(s: config::Settings, db: Database, e: Enlist) -> anyhow::Result<()> {
    // Several processes may start on one empty database: one sets up.
    let bootstrap = match e.organizations.first_start().await? {
        Some(o) => Some(e.api_keys.create(&operator(&o), "Default key").await?.token),
        None => None,
    };
    let trial = e
        .organizations
        .list()
        .await?
        .iter()
        .any(|o| o.name == DEFAULT_ORGANIZATION && o.scim_enabled && o.domains.is_empty());
    let state = actix_web::web::Data::new(enlist_actix::Scim::new(
        e,
        enlist_actix::Config {
            public_url: s.public_url.clone(),
            max_body_bytes: s.body_limit_bytes,
            request_timeout: Duration::from_secs(s.request_timeout_secs),
            max_in_flight: s.max_in_flight,
            ..enlist_actix::Config::default()
        },
        Arc::new(crate::health::ServerHealth { db: db.clone() }),
        Arc::new(system::RandomIds),
    ));
    // Signals are ours, installed before the banner says Ready.
    let (server, addrs) = enlist_actix::http_server(state.clone(), s.workers, s.bind.as_str())
        .with_context(|| format!("cannot listen on {}: is another process using it? Choose another --bind", s.bind))?;
    let addr = addrs.first().copied().ok_or_else(|| anyhow!("no listening address"))?;
    let base = s.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    println!("Enlist is serving SCIM at {base}/scim/v2 (database {})", config::mask(&s.database));
    if trial {
        println!(
            "Note: organization \"{DEFAULT_ORGANIZATION}\" has SCIM on without a registered domain (for trying Enlist out). \
             Register one: enlist domain add {DEFAULT_ORGANIZATION} example.com"
        );
    }
    if let Some(token) = bootstrap {
        println!(
            "Created organization \"{DEFAULT_ORGANIZATION}\" with SCIM enabled and an API key labelled \"Default key\". It is shown once:"
        );
        println!("API key: {token}");
        println!("Try: curl -H \"Authorization: Bearer $KEY\" {base}/scim/v2/Users");
    }
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot install the SIGTERM handler")?;
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
    let pruner = tokio::spawn(prune_events(db.clone(), s.events_keep_days, stop_rx.clone()));
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
    let _ = pruner.await;
    drop(state);
    tracing::info!("stopped");
    Ok(())
}

/// Hourly: deletes change events older than the retention. Several
/// processes may prune at once; the deletes are idempotent.
async fn prune_events(db: Database, keep_days: u32, mut stop: tokio::sync::watch::Receiver<bool>) {
    use enlist_core::ports::Clock;
    loop {
        let before = system::SystemClock.now() - chrono::Duration::days(i64::from(keep_days));
        match db.prune_events(before).await {
            Ok(n) if n > 0 => tracing::info!(deleted = n, keep_days, "pruned change events"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not prune change events; will try again in an hour"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = stop.changed() => return,
        }
    }
}
