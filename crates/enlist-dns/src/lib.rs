//! Enlist's DNS adapter: implements `enlist_core::ports::DomainVerifier`
//! with hickory-resolver, so an organization Admin can prove control of a
//! domain with a TXT record and the core resolves (and checks) webhook
//! destinations. Lookups are bounded (timeout, attempts) so a dead
//! resolver answers an error, never a hung request.

#![warn(missing_docs)]

use enlist_core::ports::{DomainVerifier, LookupError};
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::{ResolveErrorKind, TokioResolver};
use std::net::SocketAddr;
use std::time::Duration;

/// TXT lookups through hickory-resolver.
pub struct HickoryVerifier {
    resolver: TokioResolver,
}

fn bound(opts: &mut ResolverOpts, timeout: Duration) {
    opts.timeout = timeout;
    opts.attempts = 2;
    // A proof must be read fresh: a record just published should count.
    opts.cache_size = 0;
}

impl HickoryVerifier {
    /// Uses the system's resolver configuration (`/etc/resolv.conf`).
    ///
    /// # Errors
    /// When the system configuration cannot be read.
    pub fn from_system_conf() -> Result<Self, LookupError> {
        let mut builder = TokioResolver::builder(TokioConnectionProvider::default())
            .map_err(|e| LookupError(format!("cannot read the system DNS configuration: {e}")))?;
        bound(builder.options_mut(), Duration::from_secs(5));
        Ok(Self { resolver: builder.build() })
    }

    /// Asks one name server (UDP) only: for tests and split-horizon setups.
    pub fn with_name_server(addr: SocketAddr, timeout: Duration) -> Self {
        let mut config = ResolverConfig::new();
        config.add_name_server(NameServerConfig::new(addr, Protocol::Udp));
        let mut opts = ResolverOpts::default();
        bound(&mut opts, timeout);
        let resolver =
            TokioResolver::builder_with_config(config, TokioConnectionProvider::default()).with_options(opts).build();
        Self { resolver }
    }
}

#[async_trait::async_trait]
impl DomainVerifier for HickoryVerifier {
    async fn txt(&self, name: &str) -> Result<Vec<String>, LookupError> {
        // A fully qualified name: never completed with a search domain.
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        match self.resolver.txt_lookup(fqdn).await {
            Ok(found) => Ok(found
                .iter()
                .map(|txt| txt.txt_data().iter().map(|part| String::from_utf8_lossy(part)).collect::<String>())
                .collect()),
            // No such name, or no TXT record there: nothing is published.
            Err(e)
                if e.is_no_records_found()
                    || matches!(e.kind(), ResolveErrorKind::Proto(p) if p.is_no_records_found()) =>
            {
                Ok(Vec::new())
            }
            Err(e) => Err(LookupError(format!("the DNS lookup of {name} failed: {e}; try again later"))),
        }
    }

    async fn addresses(&self, host: &str) -> Result<Vec<std::net::IpAddr>, LookupError> {
        let fqdn = format!("{}.", host.trim_end_matches('.'));
        match self.resolver.lookup_ip(fqdn).await {
            Ok(found) => Ok(found.iter().collect()),
            Err(e)
                if e.is_no_records_found()
                    || matches!(e.kind(), ResolveErrorKind::Proto(p) if p.is_no_records_found()) =>
            {
                Ok(Vec::new())
            }
            Err(e) => Err(LookupError(format!("the DNS lookup of {host} failed: {e}; try again later"))),
        }
    }
}
