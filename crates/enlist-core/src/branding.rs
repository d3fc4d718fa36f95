//! The host product's name, logo and accent colour: the console and the
//! notification mail speak in the product's name, not Enlist's.

use crate::Error;

/// How the console and the notification mail present the product.
/// Checked once when built, so neither can be made to carry markup, a
/// style injection or a logo from a non-HTTPS origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branding {
    product: String,
    logo_url: Option<String>,
    accent: String,
}

/// The accent colour when none is configured (a dark blue that white text
/// reads well on).
pub const DEFAULT_ACCENT: &str = "#0b3d91";

impl Default for Branding {
    fn default() -> Self {
        Self { product: "Enlist".into(), logo_url: None, accent: DEFAULT_ACCENT.into() }
    }
}

impl Branding {
    /// The product's name (1 to 60 characters, no control characters),
    /// a logo URL (`https://…`, or a path on the console's own host such
    /// as `/static/logo.svg`), and an accent colour (`#rgb` or `#rrggbb`).
    ///
    /// # Errors
    /// `InvalidValue` naming what is wrong and what is accepted.
    pub fn new(product: &str, logo_url: Option<&str>, accent: Option<&str>) -> Result<Self, Error> {
        let product = product.trim();
        if product.is_empty() || product.chars().count() > 60 || product.chars().any(crate::service::is_hostile_char) {
            return Err(Error::invalid(format!(
                "branding product name {product:?}: give 1 to 60 characters without control characters"
            )));
        }
        let logo_url = logo_url.map(str::trim).filter(|l| !l.is_empty()).map(check_logo).transpose()?;
        let accent = match accent.map(str::trim).filter(|a| !a.is_empty()) {
            None => DEFAULT_ACCENT.to_owned(),
            Some(a) => check_colour(a)?,
        };
        Ok(Self { product: product.to_owned(), logo_url, accent })
    }

    /// The product's name.
    pub fn product(&self) -> &str {
        &self.product
    }

    /// The logo's URL, if any.
    pub fn logo_url(&self) -> Option<&str> {
        self.logo_url.as_deref()
    }

    /// The accent colour, `#rrggbb`.
    pub fn accent(&self) -> &str {
        &self.accent
    }

    /// The text colour to put on the accent: white where it reads with a
    /// contrast of at least 4.5:1 (WCAG AA), else near-black.
    pub fn on_accent(&self) -> &'static str {
        let l = luminance(&self.accent);
        if (1.05) / (l + 0.05) >= 4.5 {
            "#ffffff"
        } else {
            "#111111"
        }
    }

    /// The origin the logo is fetched from (`https://cdn.example.com`), for
    /// the console's Content-Security-Policy; `None` when there is no logo
    /// or it is on the console's own host.
    pub fn logo_origin(&self) -> Option<String> {
        let url = self.logo_url.as_deref()?;
        let rest = url.strip_prefix("https://")?;
        let host = rest.split(['/', '?', '#']).next()?;
        Some(format!("https://{host}"))
    }
}

fn check_logo(url: &str) -> Result<String, Error> {
    let bad = || {
        Error::invalid(format!(
            "branding logo URL {url:?}: give an https:// URL or a path on this host starting with / (at most 2000 \
             characters, no spaces, quotes, commas or semicolons)"
        ))
    };
    if url.len() > 2000 || url.chars().any(|c| c.is_whitespace() || c.is_control() || "\"'<>\\`;,".contains(c)) {
        return Err(bad());
    }
    let host_ok = |rest: &str| {
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        !host.is_empty() && !host.contains('@')
    };
    match (url.strip_prefix("https://"), url.starts_with('/') && !url.starts_with("//")) {
        (Some(rest), _) if host_ok(rest) => Ok(url.to_owned()),
        (None, true) => Ok(url.to_owned()),
        _ => Err(bad()),
    }
}

fn check_colour(c: &str) -> Result<String, Error> {
    let hex = c.strip_prefix('#').unwrap_or_default();
    if !hex.chars().all(|ch| ch.is_ascii_hexdigit()) || !(hex.len() == 3 || hex.len() == 6) {
        return Err(Error::invalid(format!("branding accent colour {c:?}: give #rgb or #rrggbb, e.g. #0b3d91")));
    }
    let full: String = if hex.len() == 3 { hex.chars().flat_map(|ch| [ch, ch]).collect() } else { hex.to_owned() };
    Ok(format!("#{}", full.to_ascii_lowercase()))
}

/// The relative luminance of a `#rrggbb` colour (WCAG 2).
fn luminance(colour: &str) -> f64 {
    let channel = |i: usize| {
        let v = colour.get(1 + 2 * i..3 + 2 * i).and_then(|h| u8::from_str_radix(h, 16).ok()).unwrap_or(0);
        let c = f64::from(v) / 255.0;
        if c <= 0.03928 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_product_name_logo_and_colour_are_checked() {
        let b = Branding::new(" Acme Flow ", Some("https://cdn.acme.test/logo.svg"), Some("#F60")).unwrap();
        assert_eq!(
            (b.product(), b.logo_url(), b.accent()),
            ("Acme Flow", Some("https://cdn.acme.test/logo.svg"), "#ff6600")
        );
        assert_eq!(b.logo_origin().as_deref(), Some("https://cdn.acme.test"));
        assert_eq!(Branding::new("Acme", Some("/static/logo.png"), None).unwrap().logo_origin(), None);
        assert_eq!(Branding::default().product(), "Enlist");
        for (product, logo, accent) in [
            ("", None, None),
            ("Acme\u{202e}", None, None),
            ("Acme", Some("http://cdn.acme.test/logo.svg"), None),
            ("Acme", Some("javascript:alert(1)"), None),
            ("Acme", Some("//evil.test/x.png"), None),
            ("Acme", Some("https://cdn.acme.test/a\".png"), None),
            ("Acme", Some("https://user@cdn.acme.test/a.png"), None),
            // Nothing that could end the CSP's img-src and start another directive.
            ("Acme", Some("https://cdn.acme.test;script-src/x.png"), None),
            ("Acme", Some("https://cdn.acme.test,evil.test/x.png"), None),
            ("Acme", None, Some("red")),
            ("Acme", None, Some("#12345")),
            ("Acme", None, Some("#0b3d91;}body{")),
        ] {
            let e = Branding::new(product, logo, accent).unwrap_err().to_string();
            assert!(e.contains("branding"), "{product:?} {logo:?} {accent:?}: {e}");
        }
    }

    #[test]
    fn text_on_the_accent_stays_readable() {
        let on = |c: &str| Branding::new("A", None, Some(c)).unwrap().on_accent();
        assert_eq!(on("#0b3d91"), "#ffffff");
        assert_eq!(on("#000000"), "#ffffff");
        assert_eq!(on("#ffdd00"), "#111111");
        assert_eq!(on("#ffffff"), "#111111");
    }
}
