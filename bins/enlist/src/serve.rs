//! `enlist serve`: the facade's first start, HTTP server and background
//! work, with the banner scripts read, signals and graceful shutdown.

use crate::config;
use crate::term::say;
use anyhow::{anyhow, Context};
use enlist_core::service::DEFAULT_ORGANIZATION;

pub async fn serve_cmd(s: config::Settings, enlist: &enlist::Enlist) -> anyhow::Result<()> {
    // Several processes may start on one empty database: one sets up.
    let bootstrap = if s.trial_org { enlist.first_start().await?.map(|(_, token)| token) } else { None };
    let trial = enlist
        .services()
        .organizations
        .list()
        .await?
        .iter()
        .any(|o| o.name == DEFAULT_ORGANIZATION && o.scim_enabled && o.domains.is_empty());
    // Signals are ours, installed before the banner says Ready.
    let busy =
        |bind: &str, flag: &str| format!("cannot listen on {bind}: is another process using it? Choose another {flag}");
    let certificate = match &s.tls {
        Some((cert, key)) => Some(enlist::tls::Certificate::load(cert, key).map_err(|e| anyhow!("{e}")).context(
            "cannot serve HTTPS: fix --tls-cert / --tls-key (or leave both out to serve plain HTTP behind a proxy)",
        )?),
        None => None,
    };
    let (server, addrs) = match (&certificate, &s.admin_bind) {
        (Some(c), admin) => enlist.https_server(s.workers, s.bind.as_str(), c.server_config(), admin.is_none()),
        (None, Some(_)) => enlist.public_server(s.workers, s.bind.as_str()),
        (None, None) => enlist.http_server(s.workers, s.bind.as_str()),
    }
    .with_context(|| busy(&s.bind, "--bind"))?;
    let admin = match &s.admin_bind {
        Some(bind) => Some(enlist.admin_server(bind.as_str()).with_context(|| busy(bind, "--admin-bind"))?),
        None => None,
    };
    let addr = addrs.first().copied().ok_or_else(|| anyhow!("no listening address"))?;
    let scheme = if certificate.is_some() { "https" } else { "http" };
    let base = s.public_url.clone().unwrap_or_else(|| format!("{scheme}://{addr}"));
    say!("Enlist is serving SCIM at {base}/scim/v2 (database {})", config::mask(&s.database));
    match admin.as_ref().and_then(|(_, a)| a.first()) {
        Some(a) => say!("Health and metrics: http://{a}/healthz, http://{a}/readyz and http://{a}/metrics"),
        None => say!(
            "Note: /healthz, /readyz and /metrics are on the public port and ask for no key; serve them elsewhere with --admin-bind 127.0.0.1:9090"
        ),
    }
    if trial {
        say!(
            "Note: organization \"{DEFAULT_ORGANIZATION}\" has SCIM on without a registered domain (for trying Enlist out). \
             Register one: enlist domain add {DEFAULT_ORGANIZATION} example.com"
        );
    }
    // Settings of the database itself that cost speed; never fatal.
    for advice in enlist.database().advisories().await.unwrap_or_default() {
        say!("Note: {advice}");
        tracing::warn!("{advice}");
    }
    if let Some(token) = bootstrap {
        say!("Created organization \"{DEFAULT_ORGANIZATION}\" with SCIM enabled and an API key labelled \"Default key\".");
        // On a terminal a person reads it; anywhere else stdout is a log
        // (systemd's journal, a container runtime), which never holds a
        // token: the key goes to a file only this user can read.
        if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
            say!("It is shown once:");
            say!("API key: {token}");
        } else {
            let path = &s.first_key_file;
            write_private(path, &format!("{token}\n")).with_context(|| {
                format!(
                    "cannot write the first API key to {}, so it was never shown: revoke it (`enlist api-key list \
                     {DEFAULT_ORGANIZATION}`, then `enlist api-key revoke {DEFAULT_ORGANIZATION} ID`) and create one \
                     you can read (`enlist api-key create {DEFAULT_ORGANIZATION} --label \"Default key\"`); next \
                     time set --first-key-file to a new file in a writable directory, or use --no-trial-org",
                    path.display()
                )
            })?;
            say!("API key written to {} (readable only by this user): read it, then delete the file", path.display());
        }
        say!("Try: curl -H \"Authorization: Bearer $KEY\" {base}/scim/v2/Users");
    }
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot install the SIGTERM handler")?;
    if let Some(cert) = certificate.clone() {
        // SIGHUP reads the certificate again (a renewal); a bad one is
        // logged and the one in use stays.
        let mut sighup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .context("cannot install the SIGHUP handler")?;
        tokio::spawn(async move {
            while sighup.recv().await.is_some() {
                match cert.reload() {
                    Ok(()) => tracing::info!("SIGHUP: TLS certificate reloaded"),
                    Err(e) => {
                        tracing::error!(error = %e, "SIGHUP: TLS certificate not reloaded; the previous one stays")
                    }
                }
            }
        });
    }
    let handle = server.handle();
    let admin_handle = admin.as_ref().map(|(a, _)| a.handle());
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: finishing in-flight requests, then stopping"),
            _ = sigterm.recv() => tracing::info!("SIGTERM: finishing in-flight requests, then stopping"),
        }
        // Graceful: stop accepting, let in-flight requests finish.
        handle.stop(true).await;
        if let Some(h) = admin_handle {
            h.stop(true).await;
        }
    });
    say!("Ready.");
    // Scripts read the banner: flush it now.
    use std::io::Write;
    let _ = std::io::stdout().flush();
    // Mail (when SMTP is configured) and the pruning of old events.
    let background = enlist.start_background();
    let admin = async {
        match admin {
            Some((a, _)) => a.await,
            None => Ok(()),
        }
    };
    let (public, admin) = tokio::join!(server, admin);
    public.context("the HTTP server failed")?;
    admin.context("the health and metrics server failed")?;
    background.stop().await;
    tracing::info!("stopped");
    Ok(())
}

/// Creates `path` readable and writable by this user only (0600) and
/// writes `text`; refuses to follow or replace an existing file, so a
/// planted symlink cannot redirect the secret.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}
