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
    pub public_url: Option<String>,
    pub pool_size: Option<u32>,
    pub pool_timeout_secs: Option<u64>,
    pub statement_timeout_secs: Option<u64>,
    pub body_limit_bytes: Option<usize>,
    pub request_timeout_secs: Option<u64>,
    pub smtp_url: Option<String>,
    pub mail_from: Option<String>,
    pub log_format: Option<String>,
    pub workers: Option<usize>,
    pub max_in_flight: Option<usize>,
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
    pub public_url: Option<String>,
    pub pool_size: u32,
    pub pool_timeout_secs: u64,
    pub statement_timeout_secs: u64,
    pub body_limit_bytes: usize,
    pub request_timeout_secs: u64,
    pub smtp_url: Option<String>,
    pub mail_from: String,
    pub log_format: String,
    pub workers: usize,
    pub max_in_flight: usize,
}

/// Hides the password of a URL.
pub fn mask(url: &str) -> String {
    enlist_diesel::redact(url)
}

impl Settings {
    /// TOML text of the effective configuration, secrets masked.
    pub fn render(&self) -> String {
        let q = |s: &str| serde_json::Value::String(s.to_owned()).to_string();
        let opt = |o: &Option<String>, masked: bool| match o {
            Some(v) if masked => q(&mask(v)),
            Some(v) => q(v),
            None => "\"\" # not set".to_owned(),
        };
        format!(
            "database = {}\nbind = {}\npublic_url = {}\npool_size = {}\npool_timeout_secs = {}\nstatement_timeout_secs = {}\n\
             body_limit_bytes = {}\nrequest_timeout_secs = {}\nsmtp_url = {}\nmail_from = {}\nlog_format = {}\nworkers = {}\n\
             max_in_flight = {}\n",
            q(&mask(&self.database)),
            q(&self.bind),
            opt(&self.public_url, false),
            self.pool_size,
            self.pool_timeout_secs,
            self.statement_timeout_secs,
            self.body_limit_bytes,
            self.request_timeout_secs,
            opt(&self.smtp_url, true),
            q(&self.mail_from),
            q(&self.log_format),
            self.workers,
            self.max_in_flight,
        )
    }
}
