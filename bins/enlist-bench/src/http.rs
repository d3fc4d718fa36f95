//! A minimal HTTP/1.1 keep-alive client for loopback benchmarking: one
//! request at a time per connection, `Content-Length` or chunked bodies.
//! No TLS and no redirects: the tool measures a server, not a network.

use anyhow::{anyhow, bail, Context, Result};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Where the SCIM endpoint is: `http://HOST:PORT/BASE`.
#[derive(Debug, Clone)]
pub struct Target {
    /// `HOST:PORT`.
    pub addr: String,
    /// The base path without a trailing slash (`/scim/v2`).
    pub base: String,
}

impl Target {
    pub fn parse(url: &str) -> Result<Self> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| anyhow!("--url must be http://HOST:PORT/PATH (the tool measures a local server)"))?;
        let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
        let addr = if authority.contains(':') { authority.to_owned() } else { format!("{authority}:80") };
        Ok(Self { addr, base: format!("/{}", path.trim_end_matches('/')).trim_end_matches('/').to_owned() })
    }
}

/// A response: status and body.
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    /// The body as JSON.
    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_slice(&self.body).with_context(|| format!("status {}: body is not JSON", self.status))
    }
}

/// One keep-alive connection with the bearer key.
pub struct Conn {
    target: Target,
    auth: String,
    stream: Option<BufReader<TcpStream>>,
}

impl Conn {
    pub fn new(target: &Target, token: &str) -> Self {
        Self { target: target.clone(), auth: format!("Bearer {token}"), stream: None }
    }

    /// Sends a request to `BASE + path` and reads the whole response.
    /// Reconnects once when the server had closed an idle connection.
    pub async fn send(&mut self, method: &str, path: &str, body: Option<&serde_json::Value>) -> Result<Response> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut head = format!(
            "{method} {}{path} HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\nAccept: application/scim+json\r\n",
            self.target.base, self.target.addr, self.auth
        );
        if !body.is_empty() || method != "GET" {
            head.push_str(&format!("Content-Type: application/scim+json\r\nContent-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let fresh = self.stream.is_none();
        match self.exchange(&head, &body).await {
            Ok(r) => Ok(r),
            Err(_) if !fresh => {
                self.stream = None;
                self.exchange(&head, &body).await
            }
            Err(e) => Err(e),
        }
    }

    async fn exchange(&mut self, head: &str, body: &str) -> Result<Response> {
        if self.stream.is_none() {
            let s = TcpStream::connect(&self.target.addr)
                .await
                .with_context(|| format!("cannot connect to {}: is the server running?", self.target.addr))?;
            s.set_nodelay(true)?;
            self.stream = Some(BufReader::new(s));
        }
        let Some(stream) = self.stream.as_mut() else { bail!("no connection") };
        stream.get_mut().write_all(head.as_bytes()).await?;
        if !body.is_empty() {
            stream.get_mut().write_all(body.as_bytes()).await?;
        }
        let result = read_response(stream).await;
        if let Ok((_, close)) = &result {
            if *close {
                self.stream = None;
            }
        } else {
            self.stream = None;
        }
        result.map(|(r, _)| r)
    }
}

async fn read_response(s: &mut BufReader<TcpStream>) -> Result<(Response, bool)> {
    let mut line = String::new();
    if s.read_line(&mut line).await? == 0 {
        bail!("connection closed");
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| anyhow!("bad status line {line:?}"))?;
    let (mut length, mut chunked, mut close) = (None, false, false);
    loop {
        line.clear();
        if s.read_line(&mut line).await? == 0 {
            bail!("connection closed in the headers");
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((name, value)) = l.split_once(':') {
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse::<usize>().ok(),
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "connection" => close = value.eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            s.read_line(&mut line).await?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)?;
            if size == 0 {
                line.clear();
                s.read_line(&mut line).await?;
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            s.read_exact(&mut body[start..]).await?;
            let mut crlf = [0u8; 2];
            s.read_exact(&mut crlf).await?;
        }
    } else if let Some(n) = length {
        body.resize(n, 0);
        s.read_exact(&mut body).await?;
    }
    Ok((Response { status, body }, close))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_keep_host_port_and_base() {
        let t = Target::parse("http://127.0.0.1:8080/scim/v2/").unwrap_or_else(|_| unreachable!());
        assert_eq!((t.addr.as_str(), t.base.as_str()), ("127.0.0.1:8080", "/scim/v2"));
        let t = Target::parse("http://localhost").unwrap_or_else(|_| unreachable!());
        assert_eq!((t.addr.as_str(), t.base.as_str()), ("localhost:80", ""));
        assert!(Target::parse("https://example.com/scim").is_err());
    }
}
