//! The one HTTP request webhooks need: a POST to addresses the core
//! checked (`Webhooks::destination`), over TLS for `https://`, reading back
//! only the status line. Redirects are not followed (a 3xx is a failure),
//! so a destination cannot be moved to an address that was never checked.

use enlist_core::service::WebhookUrl;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// POSTs `body` as JSON with `headers` to the first address that accepts
/// a connection; the response's status code.
///
/// # Errors
/// A sentence saying what failed (connect, TLS, timeout, no status line).
pub async fn post(
    dest: &WebhookUrl,
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
                    return if dest.https() {
                        let connector = native_connector()?;
                        let tls = connector
                            .connect(dest.host(), tcp)
                            .await
                            .map_err(|e| format!("TLS with {}: {e}", dest.host()))?;
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
    .map_err(|_| format!("no answer from {} within {} s", dest.host(), timeout.as_secs()))?
}

fn native_connector() -> Result<tokio_native_tls::TlsConnector, String> {
    tokio_native_tls::native_tls::TlsConnector::new()
        .map(tokio_native_tls::TlsConnector::from)
        .map_err(|e| format!("TLS is not available: {e}"))
}

fn request(dest: &WebhookUrl, headers: &[(&str, String)], body: &str) -> String {
    let host = if dest.host().contains(':') { format!("[{}]", dest.host()) } else { dest.host().to_owned() };
    let mut r = format!(
        "POST {} HTTP/1.1\r\nHost: {host}:{}\r\nUser-Agent: Enlist-Webhooks\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        dest.path(),
        dest.port(),
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
