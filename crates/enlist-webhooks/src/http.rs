//! The one HTTP request webhooks need: a POST to a checked address, over
//! TLS for `https://`, reading back only the status line. Redirects are not
//! followed (a 3xx is a failure), so a destination cannot be moved to an
//! address that was never checked.

use enlist_core::service::{is_internal_address, webhook_host};
use enlist_core::Error;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

fn invalid(detail: String) -> Error {
    Error::InvalidValue { detail }
}

/// Where a webhook goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// `https://`.
    pub https: bool,
    /// The host as written.
    pub host: String,
    /// The port.
    pub port: u16,
    /// Path and query (`/` at least).
    pub path: String,
}

impl Destination {
    /// Parses a registered URL.
    ///
    /// # Errors
    /// `InvalidValue` as the core's URL rule says.
    pub fn parse(url: &str) -> Result<Self, Error> {
        let (https, host, port) = webhook_host(url)?;
        let rest = url.split_once("://").map_or("", |(_, r)| r);
        let path = rest.find(['/', '?']).map_or("/".to_owned(), |i| rest[i..].to_owned());
        let path = if path.starts_with('?') { format!("/{path}") } else { path };
        Ok(Self { https, host, port, path })
    }

    /// The URL without its query, for logs and messages: a query may
    /// carry the receiver's own token.
    pub fn redacted(&self) -> String {
        let path = self.path.split('?').next().unwrap_or("/");
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        format!("{}://{host}:{}{path}", if self.https { "https" } else { "http" }, self.port)
    }
}

/// Resolves the destination and refuses internal addresses
/// ([`is_internal_address`]) unless the operator allowed private ones.
/// Returns the addresses to connect to.
///
/// # Errors
/// `InvalidValue` naming the host and the address.
pub async fn check_destination(dest: &Destination, allow_private: bool) -> Result<Vec<SocketAddr>, Error> {
    let addrs: Vec<SocketAddr> =
        tokio::time::timeout(Duration::from_secs(5), tokio::net::lookup_host((dest.host.as_str(), dest.port)))
            .await
            .map_err(|_| invalid(format!("resolving {} timed out; check the host name", dest.host)))?
            .map_err(|e| invalid(format!("{} does not resolve ({e}); check the host name", dest.host)))?
            .collect();
    if addrs.is_empty() {
        return Err(invalid(format!("{} has no address; check the host name", dest.host)));
    }
    if let Some(bad) = addrs.iter().find(|a| !allow_private && is_internal_address(a.ip())) {
        return Err(invalid(format!(
            "{} resolves to {}, a private or internal address; webhooks go to public HTTPS endpoints \
             (the operator may allow private addresses: enlist webhook add --allow-private)",
            dest.host,
            bad.ip()
        )));
    }
    Ok(addrs)
}

/// POSTs `body` as JSON with `headers` to the first address that accepts
/// a connection; the response's status code.
///
/// # Errors
/// A sentence saying what failed (connect, TLS, timeout, no status line).
pub async fn post(
    dest: &Destination,
    addrs: &[SocketAddr],
    headers: &[(&str, String)],
    body: &str,
    timeout: Duration,
) -> Result<u16, String> {
    tokio::time::timeout(timeout, async {
        let mut last = String::from("no address to connect to");
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(tcp) => {
                    let request = request(dest, headers, body);
                    return if dest.https {
                        let connector = native_connector()?;
                        let tls = connector
                            .connect(&dest.host, tcp)
                            .await
                            .map_err(|e| format!("TLS with {}: {e}", dest.host))?;
                        exchange(tls, &request).await
                    } else {
                        exchange(tcp, &request).await
                    };
                }
                Err(e) => last = format!("cannot connect to {addr}: {e}"),
            }
        }
        Err(last)
    })
    .await
    .map_err(|_| format!("no answer from {} within {} s", dest.host, timeout.as_secs()))?
}

fn native_connector() -> Result<tokio_native_tls::TlsConnector, String> {
    tokio_native_tls::native_tls::TlsConnector::new()
        .map(tokio_native_tls::TlsConnector::from)
        .map_err(|e| format!("TLS is not available: {e}"))
}

fn request(dest: &Destination, headers: &[(&str, String)], body: &str) -> String {
    let host = if dest.host.contains(':') { format!("[{}]", dest.host) } else { dest.host.clone() };
    let mut r = format!(
        "POST {} HTTP/1.1\r\nHost: {host}:{}\r\nUser-Agent: Enlist-Webhooks\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        dest.path,
        dest.port,
        body.len()
    );
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    r.push_str("\r\n");
    r.push_str(body);
    r
}

/// Writes the request and reads the status line (at most 8 KiB).
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, request: &str) -> Result<u16, String> {
    stream.write_all(request.as_bytes()).await.map_err(|e| format!("sending the request: {e}"))?;
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 512];
    while !buf.windows(2).any(|w| w == b"\r\n") && buf.len() < 8192 {
        let n = stream.read(&mut chunk).await.map_err(|e| format!("reading the response: {e}"))?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let line = String::from_utf8_lossy(&buf);
    let status = line.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse::<u16>().ok());
    status.ok_or_else(|| {
        format!("the endpoint did not answer HTTP (got {:?})", line.chars().take(40).collect::<String>())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_keep_their_path_and_query() {
        let d = Destination::parse("https://hooks.example.com:8443/in/enlist?k=1").unwrap();
        assert_eq!(
            (d.host.as_str(), d.port, d.path.as_str(), d.https),
            ("hooks.example.com", 8443, "/in/enlist?k=1", true)
        );
        assert_eq!(Destination::parse("http://127.0.0.1:9").unwrap().path, "/");
        assert_eq!(d.redacted(), "https://hooks.example.com:8443/in/enlist", "no query in logs");
    }

    #[tokio::test]
    async fn internal_addresses_are_refused_unless_the_operator_allowed_them() {
        let local = Destination::parse("http://127.0.0.1:9/x").unwrap();
        let e = check_destination(&local, false).await.unwrap_err();
        assert!(e.to_string().contains("--allow-private"), "loopback is internal too: {e}");
        assert!(check_destination(&local, true).await.is_ok(), "development, with the operator's allowance");
        let named = Destination::parse("http://localhost:9/x").unwrap();
        assert!(check_destination(&named, false).await.is_err(), "localhost resolves to loopback");
        // `localhost.` style tricks aside, an HTTPS name that resolves to
        // loopback is not development.
        let sneaky = Destination { https: true, host: "127.0.0.1.nip.invalid".into(), port: 443, path: "/".into() };
        assert!(check_destination(&sneaky, false).await.is_err(), "unresolvable names are refused too");
        let private = Destination { https: true, host: "10.0.0.7".into(), port: 443, path: "/".into() };
        let e = check_destination(&private, false).await.unwrap_err();
        assert!(e.to_string().contains("--allow-private"), "{e}");
        assert!(check_destination(&private, true).await.is_ok(), "the operator may allow it");
    }
}
