//! Native HTTPS (feature `tls`): a rustls server configuration whose
//! certificate is read from PEM files and can be read again while the
//! server runs (`enlist serve` does on SIGHUP), so a renewed certificate
//! takes effect without a restart. Handshakes in progress keep the key
//! they started with; new ones get the new one.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// A certificate and key read from PEM files, readable again with
/// [`Certificate::reload`].
#[derive(Debug)]
pub struct Certificate {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
}

impl Certificate {
    /// Reads the certificate chain (PEM, leaf first) and its private key
    /// (PEM: PKCS#8, PKCS#1 or SEC1; RSA, ECDSA or Ed25519).
    ///
    /// # Errors
    /// A sentence naming the file and what is wrong with it.
    pub fn load(cert: &Path, key: &Path) -> Result<Arc<Self>, String> {
        let current = RwLock::new(read(cert, key)?);
        Ok(Arc::new(Self { cert: cert.to_owned(), key: key.to_owned(), current }))
    }

    /// Reads both files again and serves the new certificate to new
    /// connections; on an error the one in use stays.
    ///
    /// # Errors
    /// As [`Certificate::load`].
    pub fn reload(&self) -> Result<(), String> {
        let fresh = read(&self.cert, &self.key)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(())
    }

    /// A rustls server configuration (TLS 1.2 and 1.3, HTTP/1.1) that
    /// serves whatever this certificate holds at each handshake.
    pub fn server_config(self: &Arc<Self>) -> rustls::ServerConfig {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        // The ring provider's default versions are TLS 1.2 and 1.3; a
        // failure here would be a build without them.
        let mut config =
            match rustls::ServerConfig::builder_with_provider(provider).with_safe_default_protocol_versions() {
                Ok(b) => b.with_no_client_auth().with_cert_resolver(self.clone()),
                Err(_) => rustls::ServerConfig::builder().with_no_client_auth().with_cert_resolver(self.clone()),
            };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        config
    }
}

impl ResolvesServerCert for Certificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().unwrap_or_else(|p| p.into_inner()).clone())
    }
}

fn read(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("cannot read the certificate {}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("the certificate {} is not valid PEM: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("{} holds no certificate (expected -----BEGIN CERTIFICATE-----)", cert.display()));
    }
    let der = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        format!("cannot read a private key from {} ({e}); expected a PEM PKCS#8, PKCS#1 or SEC1 key", key.display())
    })?;
    let signer = rustls::crypto::ring::sign::any_supported_type(&der).map_err(|e| {
        format!("the private key in {} cannot sign ({e}); use RSA, ECDSA P-256/P-384 or Ed25519", key.display())
    })?;
    let certified = CertifiedKey::new(chain, signer);
    certified.keys_match().map_err(|e| {
        format!("the key in {} does not belong to the certificate in {} ({e})", key.display(), cert.display())
    })?;
    Ok(Arc::new(certified))
}
