//! The SMTP adapter of the [`Mailer`] port (feature `smtp`): lettre over
//! rustls, so no system TLS library is linked.

use crate::render;
use enlist_core::ports::{MailError, Mailer};
use enlist_core::{Branding, Notification};
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// Why the SMTP settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MailConfigError {
    /// The URL is not lettre's SMTP URL form.
    #[error("invalid SMTP URL: {0}. Use smtp://HOST:PORT, smtp://USER:PASS@HOST:587?tls=required or smtps://HOST")]
    Url(String),
    /// The sender address is not an address.
    #[error("invalid sender address '{0}': set ENLIST_MAIL_FROM to e.g. 'Enlist <no-reply@example.com>'")]
    From(String),
}

/// Sends notifications over SMTP.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    brand: Branding,
}

impl SmtpMailer {
    /// From lettre's URL form (`smtp://127.0.0.1:2525`,
    /// `smtp://user:pass@host:587?tls=required`, `smtps://host`).
    ///
    /// # Errors
    /// [`MailConfigError`] for a bad URL or sender.
    pub fn from_url(url: &str, from: &str) -> Result<Self, MailConfigError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailConfigError::Url(e.to_string()))?
            .timeout(Some(Duration::from_secs(20)))
            .build();
        let from = from.parse().map_err(|_| MailConfigError::From(from.to_owned()))?;
        Ok(Self { transport, from, brand: Branding::default() })
    }

    /// Mail in the host product's name, colour and logo (default: Enlist's).
    #[must_use]
    pub fn branding(mut self, brand: Branding) -> Self {
        self.brand = brand;
        self
    }
}

#[async_trait::async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, n: &Notification) -> Result<(), MailError> {
        let to: Mailbox =
            n.recipient.parse().map_err(|_| MailError::permanent("the recipient is not a deliverable address"))?;
        let (subject, text, html) = render(n, &self.brand);
        let msg = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .multipart(
                MultiPart::alternative()
                    .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(text))
                    .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(html)),
            )
            .map_err(|e| MailError::permanent(e.to_string()))?;
        // SMTP replies often quote the address: keep it out of the error,
        // which is logged and stored.
        self.transport.send(msg).await.map(|_| ()).map_err(|e| {
            let message = e.to_string().replace(n.recipient.as_str(), "<recipient>");
            // A 5xx reply (unknown mailbox, refused domain) will be
            // refused again; anything else may pass later.
            if e.is_permanent() {
                MailError::permanent(message)
            } else {
                MailError::transient(message)
            }
        })
    }
}
