//! The rules of a webhook URL and of the addresses it may reach: parsed
//! once, HTTPS to a public address unless the operator allows otherwise,
//! and refusals in the words of whoever reads them.

use super::*;

/// Whether `ip` is not a public unicast address of the internet: what a
/// webhook may reach only with the operator's allowance. Loopback,
/// private, shared, link-local, documentation, benchmarking, reserved,
/// multicast and broadcast IPv4; and IPv6 loopback, unspecified,
/// unique-local, link- and site-local, multicast, documentation, discard,
/// ORCHID, and every form that embeds an IPv4 address (mapped,
/// compatible `::a.b.c.d`, NAT64 `64:ff9b::/96` and `64:ff9b:1::/48`,
/// 6to4 `2002::/16`, Teredo `2001::/32`), which could lead anywhere.
pub fn is_internal_address(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            a == 0                                   // "this" network
                || a == 10                           // private
                || (a == 100 && (64..128).contains(&b)) // shared (CGN)
                || a == 127                          // loopback
                || (a == 169 && b == 254)            // link-local, cloud metadata
                || (a == 172 && (16..32).contains(&b)) // private
                || (a == 192 && b == 0 && c == 0)    // IETF protocol assignments
                || (a == 192 && b == 0 && c == 2)    // TEST-NET-1
                || (a == 192 && b == 88 && c == 99)  // 6to4 relay anycast
                || (a == 192 && b == 168)            // private
                || (a == 198 && (18..20).contains(&b)) // benchmarking
                || (a == 198 && b == 51 && c == 100) // TEST-NET-2
                || (a == 203 && b == 0 && c == 113)  // TEST-NET-3
                || a >= 224 // multicast, reserved, broadcast
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal_address(IpAddr::V4(v4));
            }
            (s[0..6] == [0; 6])                      // ::, ::1, ::a.b.c.d (compatible)
                || (s[0] == 0x64 && s[1] == 0xff9b)  // NAT64 64:ff9b::/96 and 64:ff9b:1::/48
                || (s[0] == 0x100 && s[1..4] == [0; 3]) // discard 100::/64
                || (s[0] == 0x2001 && s[1] < 0x200)  // Teredo 2001::/32, ORCHID, IETF 2001::/23
                || (s[0] == 0x2001 && s[1] == 0xdb8) // documentation
                || s[0] == 0x2002                    // 6to4
                || (s[0] & 0xfff0) == 0x3ff0         // documentation 3fff::/20
                || s[0] == 0x5f00                    // SRv6 SIDs
                || (s[0] & 0xfe00) == 0xfc00         // unique local
                || (s[0] & 0xffc0) == 0xfe80         // link-local
                || (s[0] & 0xffc0) == 0xfec0         // site-local (deprecated)
                || (s[0] & 0xff00) == 0xff00 // multicast
        }
    }
}

/// A host that is this machine or a private network by its name or
/// literal address, before any DNS lookup: `localhost` (and
/// `*.localhost`), or an internal IP literal.
fn is_internal_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']').trim_end_matches('.').to_ascii_lowercase();
    h == "localhost"
        || h.ends_with(".localhost")
        || h.parse::<std::net::IpAddr>().is_ok_and(is_internal_address)
        // Forms the URL parsers of resolvers accept as IPv4: 2130706433,
        // 0x7f.1, 127.1. Anything all digits, dots and x is not a name.
        || (!h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit() || c == '.' || c == 'x') && h.chars().any(|c| c.is_ascii_digit()) && !h.contains(".."))
            && h.parse::<std::net::Ipv4Addr>().is_err()
}

/// A webhook endpoint's URL, parsed once: `http(s)://host[:port]/path?query`
/// with no credentials, spaces or control characters, at most 2,048 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    url: String,
    https: bool,
    host: String,
    port: u16,
    path: String,
}

impl WebhookUrl {
    /// Parses a URL; the rule of where it may point is [`check_webhook_url`].
    ///
    /// # Errors
    /// `InvalidValue` saying what is wrong.
    pub fn parse(url: &str) -> Result<Self> {
        let bad =
            |why: &str| Error::invalid(format!("webhook URL '{url}' {why}; use https://host/path ({HINT_PARSE})"));
        let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(bad("is not an http(s) URL"));
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err(bad("carries credentials"));
        }
        if url.len() > 2048 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("is too long or contains spaces"));
        }
        // `[v6]:port`, `[v6]`, `host:port` or `host`.
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => {
                let (h, after) = v6.split_once(']').ok_or_else(|| bad("has an unclosed [IPv6] host"))?;
                (h, after.strip_prefix(':'))
            }
            None => match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            },
        };
        let port = match port {
            Some(p) => p.parse::<u16>().map_err(|_| bad("has an invalid port"))?,
            None if https => 443,
            None => 80,
        };
        if host.is_empty() {
            return Err(bad("has no host"));
        }
        let after = rest.get(authority.len()..).unwrap_or_default();
        let path = after.split('#').next().unwrap_or_default();
        let path = match path.chars().next() {
            None => "/".to_owned(),
            Some('?') => format!("/{path}"),
            Some(_) => path.to_owned(),
        };
        Ok(Self { url: url.to_owned(), https, host: host.to_owned(), port, path })
    }
    /// The URL as registered.
    pub fn as_str(&self) -> &str {
        &self.url
    }
    /// `https://`.
    pub fn https(&self) -> bool {
        self.https
    }
    /// The host as written (an IPv6 literal without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }
    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }
    /// Path and query, `/` at least.
    pub fn path(&self) -> &str {
        &self.path
    }
    /// The URL without its query, for logs and messages: a query may
    /// carry the receiver's own token.
    pub fn redacted(&self) -> String {
        let path = self.path.split('?').next().unwrap_or("/");
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        format!("{}://{host}:{}{path}", if self.https { "https" } else { "http" }, self.port)
    }
}

/// What the operator may allow, as refusals name it (the CLI's flag)...
const HINT_PARSE: &str = "http:// only with the operator's --allow-private, for development";
const HINT_HTTP: &str = "plain HTTP is for development, and needs the operator: enlist webhook add --allow-private";
const HINT_PRIVATE: &str = "the operator may allow private addresses: enlist webhook add --allow-private";
/// ...and as an organization's Admin reads it.
const ADMIN_HINT: &str =
    "only the people who run this service can allow private addresses or plain HTTP, for development";

/// A refusal of [`check_webhook_url`] or [`Webhooks::addresses`] in an
/// Admin's words.
pub(super) fn in_admin_words(e: Error) -> Error {
    match e {
        Error::InvalidValue { detail } => Error::InvalidValue {
            detail: [HINT_PARSE, HINT_HTTP, HINT_PRIVATE].iter().fold(detail, |d, h| d.replace(h, ADMIN_HINT)),
        },
        other => other,
    }
}

/// The rule of a webhook URL, before any DNS lookup: a [`WebhookUrl`];
/// without the operator's `allow_private`, HTTPS and a host that is neither
/// this machine nor an internal address.
///
/// # Errors
/// `InvalidValue` saying what is wrong and how to fix it.
pub fn check_webhook_url(url: &str, allow_private: bool) -> Result<WebhookUrl> {
    let parsed = WebhookUrl::parse(url)?;
    if !allow_private {
        if !parsed.https {
            return Err(Error::invalid(format!(
                "webhook URL '{url}' is not HTTPS; webhooks go to public HTTPS endpoints ({HINT_HTTP})"
            )));
        }
        if is_internal_host(&parsed.host) {
            return Err(internal(url, &parsed.host, None));
        }
    }
    Ok(parsed)
}

fn internal(url: &str, host: &str, ip: Option<std::net::IpAddr>) -> Error {
    Error::invalid(format!("webhook URL '{url}': {}", internal_detail(host, ip)))
}

pub(super) fn internal_detail(host: &str, ip: Option<std::net::IpAddr>) -> String {
    let resolves = ip.map(|ip| format!(" resolves to {ip}, which is")).unwrap_or_else(|| " names".into());
    format!(
        "{host}{resolves} this machine or a private network; webhooks go to public HTTPS endpoints ({HINT_PRIVATE})"
    )
}

#[cfg(test)]
mod tests {
    use super::{is_internal_address, is_internal_host, WebhookUrl};

    #[test]
    fn urls_parse_to_scheme_host_and_port() {
        for (url, want) in [
            ("https://hooks.example.com/enlist", Some((true, "hooks.example.com", 443))),
            ("https://hooks.example.com:8443/x?y=1", Some((true, "hooks.example.com", 8443))),
            ("http://127.0.0.1:9000/hook", Some((false, "127.0.0.1", 9000))),
            ("http://[::1]:7000/hook", Some((false, "::1", 7000))),
            ("ftp://x/y", None),
            ("https://user:pw@hooks.example.com/", None),
            ("https:///nohost", None),
            ("https://a b/", None),
        ] {
            let got = WebhookUrl::parse(url).ok();
            assert_eq!(got.as_ref().map(|u| (u.https(), u.host(), u.port())), want, "{url}");
        }
    }

    #[test]
    fn paths_and_queries_are_kept_and_the_query_is_left_out_of_logs() {
        let u = WebhookUrl::parse("https://hooks.example.com:8443/in/enlist?k=1#frag").unwrap();
        assert_eq!((u.path(), u.redacted().as_str()), ("/in/enlist?k=1", "https://hooks.example.com:8443/in/enlist"));
        assert_eq!(WebhookUrl::parse("http://127.0.0.1:9").unwrap().path(), "/");
        assert_eq!(WebhookUrl::parse("https://h.example?x=1").unwrap().path(), "/?x=1");
        assert_eq!(WebhookUrl::parse("https://[2606:4700::1]/x").unwrap().redacted(), "https://[2606:4700::1]:443/x");
    }

    #[test]
    fn every_internal_and_reserved_range_is_recognised() {
        for ip in [
            "0.1.2.3",
            "10.1.2.3",
            "100.64.0.1",
            "127.0.0.1",
            "169.254.169.254",
            "172.20.0.1",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:10.0.0.1",
            "::10.0.0.1",
            "::8.8.8.8",
            "64:ff9b::a00:1",
            "64:ff9b:1::1",
            "100::1",
            "2001::1",
            "2001:10::1",
            "2001:db8::1",
            "2002:a00:1::1",
            "3fff::1",
            "5f00::1",
            "fc00::1",
            "fd00::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
        ] {
            assert!(is_internal_address(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "198.20.0.1", "2606:4700::1111", "2a00:1450::1"] {
            assert!(!is_internal_address(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn internal_hosts_are_recognised_by_name_and_literal_before_any_lookup() {
        for host in [
            "localhost",
            "LOCALHOST.",
            "api.localhost",
            "127.0.0.1",
            "[::1]",
            "::1",
            "10.0.0.7",
            "2130706433",
            "0x7f.1",
            "127.1",
        ] {
            assert!(is_internal_host(host), "{host}");
        }
        for host in ["hooks.example.com", "8.8.8.8", "deadbeef.example", "a1.example.com"] {
            assert!(!is_internal_host(host), "{host}");
        }
    }
}
