//! Configuration: flags > environment (`ENLIST_*`, handled by clap) > an
//! optional TOML file (`--config`) > defaults.

use serde::Deserialize;
use std::path::Path;

/// Settings read from the TOML file; every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub database: Option<String>,
    pub bind: Option<String>,
    pub admin_bind: Option<String>,
    pub public_url: Option<String>,
    pub pool_size: Option<u32>,
    pub pool_timeout_secs: Option<u64>,
    pub statement_timeout_secs: Option<u64>,
    pub body_limit_bytes: Option<usize>,
    pub request_timeout_secs: Option<u64>,
    pub smtp_url: Option<String>,
    pub mail_from: Option<String>,
    pub log_format: Option<String>,
    pub log_level: Option<String>,
    pub tls_cert: Option<std::path::PathBuf>,
    pub tls_key: Option<std::path::PathBuf>,
    pub first_key_file: Option<std::path::PathBuf>,
    pub trial_org: Option<bool>,
    pub workers: Option<usize>,
    pub max_in_flight: Option<usize>,
    pub events_keep_days: Option<u32>,
    pub webhook_lease_secs: Option<u64>,
    pub dns_server: Option<String>,
    pub webhooks_allow_private: Option<bool>,
    /// The host product's look in the console and the notification mail.
    pub branding: Option<BrandingFile>,
}

/// `[branding]`: product name, logo URL, accent colour.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrandingFile {
    pub product: Option<String>,
    pub logo_url: Option<String>,
    pub accent: Option<String>,
}

impl File {
    /// Reads the file, or the empty configuration when `path` is `None`.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else { return Ok(Self::default()) };
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}. Check the --config path", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("config file {} is not valid: {e}", path.display()))
    }
}

/// The effective settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database: String,
    pub bind: String,
    pub admin_bind: Option<String>,
    pub public_url: Option<String>,
    pub pool_size: u32,
    pub pool_timeout_secs: u64,
    pub statement_timeout_secs: u64,
    pub body_limit_bytes: usize,
    pub request_timeout_secs: u64,
    pub smtp_url: Option<String>,
    pub mail_from: String,
    pub log_format: String,
    pub log_level: String,
    pub tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
    pub first_key_file: std::path::PathBuf,
    pub trial_org: bool,
    pub workers: usize,
    pub max_in_flight: usize,
    pub events_keep_days: u32,
    pub webhook_lease_secs: u64,
    pub dns_server: Option<std::net::SocketAddr>,
    pub webhooks_allow_private: bool,
    pub branding: enlist::Branding,
}

/// Hides the password of a URL.
pub fn mask(url: &str) -> String {
    enlist_diesel::redact(url)
}

impl Settings {
    /// TOML text of the effective configuration, secrets masked.
    pub fn render(&self) -> String {
        let q = |s: &str| serde_json::Value::String(s.to_owned()).to_string();
        let path = |p: Option<&std::path::PathBuf>| match p {
            Some(p) => q(&p.display().to_string()),
            None => "\"\" # not set".to_owned(),
        };
        let opt = |o: &Option<String>, masked: bool| match o {
            Some(v) if masked => q(&mask(v)),
            Some(v) => q(v),
            None => "\"\" # not set".to_owned(),
        };
        format!(
            "database = {}\nbind = {}\nadmin_bind = {}\npublic_url = {}\npool_size = {}\npool_timeout_secs = {}\nstatement_timeout_secs = {}\n\
             body_limit_bytes = {}\nrequest_timeout_secs = {}\nsmtp_url = {}\nmail_from = {}\nlog_format = {}\nlog_level = {}\n\
             tls_cert = {}\ntls_key = {}\nfirst_key_file = {}\ntrial_org = {}\nworkers = {}\n\
             max_in_flight = {}\nevents_keep_days = {}\nwebhook_lease_secs = {}\ndns_server = {}\nwebhooks_allow_private = {}\n\n[branding]\nproduct = {}\nlogo_url = {}\naccent = {}\n",
            q(&mask(&self.database)),
            q(&self.bind),
            opt(&self.admin_bind, false),
            opt(&self.public_url, false),
            self.pool_size,
            self.pool_timeout_secs,
            self.statement_timeout_secs,
            self.body_limit_bytes,
            self.request_timeout_secs,
            opt(&self.smtp_url, true),
            q(&self.mail_from),
            q(&self.log_format),
            q(&self.log_level),
            path(self.tls.as_ref().map(|t| &t.0)),
            path(self.tls.as_ref().map(|t| &t.1)),
            q(&self.first_key_file.display().to_string()),
            self.trial_org,
            self.workers,
            self.max_in_flight,
            self.events_keep_days,
            self.webhook_lease_secs,
            opt(&self.dns_server.map(|a| a.to_string()), false),
            self.webhooks_allow_private,
            q(self.branding.product()),
            opt(&self.branding.logo_url().map(str::to_owned), false),
            q(self.branding.accent()),
        )
    }
}

/// Merges flags and environment (clap) over the file over defaults.
pub fn settings(global: &crate::cli::Global, serve: Option<&crate::cli::Serve>) -> anyhow::Result<Settings> {
    let file = File::load(global.config.as_deref())?;
    let pick =
        |flag: Option<String>, file: Option<String>, default: &str| flag.or(file).unwrap_or_else(|| default.to_owned());
    Ok(Settings {
        database: pick(global.database.clone(), file.database, "sqlite://enlist.db"),
        bind: pick(serve.and_then(|s| s.bind.clone()), file.bind, "127.0.0.1:8080"),
        admin_bind: serve.and_then(|s| s.admin_bind.clone()).or(file.admin_bind),
        public_url: serve.and_then(|s| s.public_url.clone()).or(file.public_url),
        pool_size: serve.and_then(|s| s.pool_size).or(file.pool_size).unwrap_or(8),
        pool_timeout_secs: file.pool_timeout_secs.unwrap_or(30),
        statement_timeout_secs: file.statement_timeout_secs.unwrap_or(20),
        body_limit_bytes: serve.and_then(|s| s.body_limit).or(file.body_limit_bytes).unwrap_or(1024 * 1024),
        request_timeout_secs: serve.and_then(|s| s.request_timeout).or(file.request_timeout_secs).unwrap_or(30),
        smtp_url: serve.and_then(|s| s.smtp_url.clone()).or(file.smtp_url),
        mail_from: pick(serve.and_then(|s| s.mail_from.clone()), file.mail_from, "Enlist <no-reply@localhost>"),
        log_format: pick(global.log_format.clone(), file.log_format, "human"),
        log_level: pick(global.log_level.clone(), file.log_level, "info"),
        tls: match (
            serve.and_then(|s| s.tls_cert.clone()).or(file.tls_cert),
            serve.and_then(|s| s.tls_key.clone()).or(file.tls_key),
        ) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => {
                anyhow::bail!("tls_cert and tls_key go together: set both (or neither, for plain HTTP behind a proxy)")
            }
        },
        first_key_file: serve.and_then(|s| s.first_key_file.clone()).or(file.first_key_file).unwrap_or_else(|| {
            // systemd's StateDirectory= sets it (colon-separated when
            // several are listed: the first is ours).
            let dir = std::env::var("STATE_DIRECTORY")
                .ok()
                .and_then(|v| v.split(':').next().map(std::path::PathBuf::from))
                .unwrap_or_default();
            dir.join("enlist-first-key.txt")
        }),
        trial_org: !serve.is_some_and(|s| s.no_trial_org) && file.trial_org.unwrap_or(true),
        workers: serve.and_then(|s| s.workers).or(file.workers).unwrap_or(2),
        max_in_flight: serve.and_then(|s| s.max_in_flight).or(file.max_in_flight).unwrap_or(256),
        events_keep_days: serve.and_then(|s| s.events_keep_days).or(file.events_keep_days).unwrap_or(30).max(1),
        webhook_lease_secs: serve.and_then(|s| s.webhook_lease_secs).or(file.webhook_lease_secs).unwrap_or(30).max(2),
        dns_server: match serve.and_then(|s| s.dns_server.clone()).or(file.dns_server) {
            None => None,
            Some(a) => {
                Some(a.parse().map_err(|_| {
                    anyhow::anyhow!("dns_server {a:?} is not an address: give IP:PORT, e.g. 127.0.0.1:53")
                })?)
            }
        },
        webhooks_allow_private: serve.is_some_and(|s| s.webhooks_allow_private)
            || file.webhooks_allow_private.unwrap_or(false),
        branding: match file.branding {
            None => enlist::Branding::default(),
            Some(b) => enlist::Branding::new(
                b.product.as_deref().unwrap_or("Enlist"),
                b.logo_url.as_deref(),
                b.accent.as_deref(),
            )
            .map_err(|e| anyhow::anyhow!("[branding] in the config file: {e}"))?,
        },
    })
}

#[cfg(test)]
mod tests {
    /// The sample configuration shipped with the package parses, and names
    /// every key `--print-config` prints (so a new setting cannot be left
    /// out of it), each with a comment.
    #[test]
    fn the_sample_configuration_names_every_key() {
        let sample = include_str!("../enlist.toml");
        let parsed: Result<super::File, _> = toml::from_str(sample);
        assert!(parsed.is_ok(), "{:?}", parsed.err());
        let global = crate::cli::Global { database: None, config: None, log_format: None, log_level: None };
        let printed = super::settings(&global, None).map(|s| s.render()).unwrap_or_default();
        let keys: Vec<&str> = printed.lines().filter_map(|l| l.split_once(" = ").map(|(k, _)| k)).collect();
        assert!(keys.len() >= 19, "{printed}");
        for key in keys {
            let line = sample.lines().position(|l| l.trim_start_matches("# ").starts_with(&format!("{key} = ")));
            let documented =
                line.is_some_and(|i| i > 0 && sample.lines().nth(i - 1).is_some_and(|p| p.starts_with('#')));
            assert!(documented, "enlist.toml must show `{key}` with a comment above it");
        }
    }
}
