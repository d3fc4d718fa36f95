//! Notification mail. The core queues a [`Notification`] in the outbox in
//! the same transaction as the provisioning; the [`Worker`] job here sends
//! queued mail through a [`Mailer`] (with feature `smtp`, the
//! `SmtpMailer` adapter speaks SMTP with lettre), retries failures with
//! exponential backoff and marks each message sent. A failing mail server never fails or slows
//! provisioning, and a restart resumes whatever is still queued.

#![warn(missing_docs)]

#[cfg(feature = "smtp")]
mod smtp;
#[cfg(feature = "smtp")]
pub use smtp::{MailConfigError, SmtpMailer};

use enlist_core::ports::{Clock, Mailer, OutboxQueue};
use enlist_core::{Branding, Notification, NotificationKind};
use std::sync::Arc;
use std::time::Duration;

/// Most characters of a person's name in a mail.
pub const MAX_NAME_CHARS: usize = 64;
/// Most characters of an organization name or key label in a mail.
pub const MAX_LABEL_CHARS: usize = 100;

/// Text from an identity provider or an Admin, fit for a mail: control
/// characters and bidirectional overrides become spaces (no forged lines
/// or headers, no reordered text), runs of space collapse, and the result
/// is cut to `max` characters with `…`.
pub fn clean(s: &str, max: usize) -> String {
    let spaced: String = s.chars().map(|c| if enlist_core::service::is_hostile_char(c) { ' ' } else { c }).collect();
    let words: Vec<&str> = spaced.split_whitespace().collect();
    let joined = words.join(" ");
    if joined.chars().count() <= max {
        return joined;
    }
    let mut cut: String = joined.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The subject, plain-text and HTML bodies of a notification. The person's
/// name comes from the identity provider and the organization name and
/// key label from administrators: each is [`clean`]ed and length-capped
/// everywhere, and escaped in the HTML. The mail names the host's
/// product (`brand`) and carries its accent colour and logo.
pub fn render(n: &Notification, brand: &Branding) -> (String, String, String) {
    let org = clean(&n.organization_name, MAX_LABEL_CHARS);
    let added_by = clean(&n.added_by, MAX_LABEL_CHARS);
    let greeting = match n.recipient_name.as_deref().map(|name| clean(name, MAX_NAME_CHARS)) {
        Some(name) if !name.is_empty() => format!("Hello {name},"),
        _ => "Hello,".to_owned(),
    };
    if let NotificationKind::DeprovisioningHeld { removed, limit, window_secs } = n.kind {
        return render_held(brand, &org, &added_by, &greeting, removed, limit, window_secs);
    }
    let product = brand.product();
    let subject = format!("You were added to {org} on {product}");
    let text = format!(
        "{greeting}\n\n{added_by} added you to the organization \"{org}\" on {product}.\n\n\
         Sign in with your organization's single sign-on to get started. If you did not expect this, contact your IT administrator.\n"
    );
    let html = page(
        brand,
        &format!(
            "<p>{}</p><p><strong>{}</strong> added you to the organization <strong>{}</strong> on {}.</p>\
             <p>Sign in with your organization's single sign-on to get started. If you did not expect this, contact your IT administrator.</p>",
            escape(&greeting),
            escape(&added_by),
            escape(&org),
            escape(product)
        ),
    );
    (subject, text, html)
}

/// An HTML mail: a bar in the product's accent colour with its logo (an
/// absolute https:// one: a mail has no host to resolve a path against)
/// or name, then the body. Inline styles: mail clients drop stylesheets.
fn page(brand: &Branding, body: &str) -> String {
    let mark = match brand.logo_url().filter(|u| u.starts_with("https://")) {
        Some(logo) => format!("<img src=\"{}\" alt=\"{}\" height=\"28\">", escape(logo), escape(brand.product())),
        None => format!("<strong>{}</strong>", escape(brand.product())),
    };
    format!(
        "<!doctype html><html><body style=\"margin:0;font-family:system-ui,sans-serif;color:#1a1a1a\">\
         <div style=\"background:{};color:{};padding:12px 16px\">{mark}</div>\
         <div style=\"padding:8px 16px\">{body}</div></body></html>",
        brand.accent(),
        brand.on_accent()
    )
}

/// The deprovisioning guard's alert to an Admin: what was held, and the
/// two ways on.
fn render_held(
    brand: &Branding,
    org: &str,
    key: &str,
    greeting: &str,
    removed: u64,
    limit: u64,
    window_secs: u32,
) -> (String, String, String) {
    let window = enlist_core::guard::GuardSettings { window_secs, ..Default::default() }.window_words();
    let product = brand.product();
    let subject = format!("{product} held removals in {org}: check your identity provider");
    let what = format!(
        "{product}'s deprovisioning guard stopped \"{key}\" from deactivating or deleting more people in \"{org}\": \
         {removed} were removed within {window}, and the limit is {limit}. Further removals are held; nothing more was changed."
    );
    let next = "If this was not intended (a changed assignment scope or group in Entra ID or Okta, or a second \
                tenant using the same key), fix it in the identity provider, then dismiss the hold in the admin \
                console (Provisioning guard). If it was intended, approve the held removals there; the identity \
                provider's retries then apply.";
    let text = format!("{greeting}\n\n{what}\n\n{next}\n");
    let html = page(brand, &format!("<p>{}</p><p>{}</p><p>{}</p>", escape(greeting), escape(&what), escape(next)));
    (subject, text, html)
}

/// Minimal HTML escaping for text content.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Delay before retry `attempts` (1-based): 30 s doubling, at most 6 h.
pub fn backoff(attempts: u32) -> Duration {
    let secs = 30u64.saturating_mul(1u64 << attempts.saturating_sub(1).min(20));
    Duration::from_secs(secs.min(6 * 3600))
}

/// Attempts after which a notification that still fails is set aside
/// (with the 6-hour cap of [`backoff`], about five days of trying).
pub const MAX_ATTEMPTS: u32 = 30;

/// How long sent notifications are kept (for "was it sent?" questions).
pub const KEEP_SENT_DAYS: i64 = 30;

/// How fast one organization's notifications go out, per process: a
/// burst at once, then one every `3600 / per_hour` seconds (a generic cell
/// rate). Past it, notifications wait in the outbox, spread over the next
/// free slots; none is dropped. It keeps a misconfigured or hostile key
/// from mailing thousands of people a minute from the product's domain.
pub struct OrgRate {
    burst: u32,
    interval: chrono::Duration,
    /// Per organization: when its bucket is empty again (theoretical
    /// arrival time).
    tat: std::sync::Mutex<std::collections::HashMap<enlist_core::OrganizationId, chrono::DateTime<chrono::Utc>>>,
}

impl OrgRate {
    /// `burst` at once, then `per_hour` an hour.
    pub fn new(burst: u32, per_hour: u32) -> Self {
        let interval = chrono::Duration::milliseconds(3_600_000 / i64::from(per_hour.max(1)));
        Self { burst: burst.max(1), interval, tat: Default::default() }
    }

    /// The default: 500 at once, then 2,000 an hour per organization.
    pub fn standard() -> Self {
        Self::new(500, 2000)
    }

    /// When a notification of `org` may go: `None` now (and it is
    /// counted), or the time to wait for; `ahead` notifications of the
    /// same organization already wait this round, and take the slots
    /// before it.
    fn admit(
        &self,
        org: &enlist_core::OrganizationId,
        now: chrono::DateTime<chrono::Utc>,
        ahead: i32,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        let mut tat = self.tat.lock().unwrap_or_else(|p| p.into_inner());
        let t = tat.get(org).copied().unwrap_or(now).max(now);
        let allowed_at = t - self.interval * (self.burst as i32 - 1);
        if allowed_at <= now && ahead == 0 {
            tat.insert(org.clone(), t + self.interval);
            return None;
        }
        Some(allowed_at.max(now) + self.interval * ahead)
    }
}

/// Drains the outbox.
pub struct Worker {
    /// Where queued mail is.
    pub queue: Arc<dyn OutboxQueue>,
    /// How it is sent.
    pub mailer: Arc<dyn Mailer>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Messages sent per round, each claimed on its own.
    pub batch: u32,
    /// Pause when the outbox is empty.
    pub idle: Duration,
    /// How fast each organization's mail goes out.
    pub rate: Arc<OrgRate>,
}

impl Worker {
    /// Sends up to `batch` due notifications; returns (sent, failed). Each
    /// is claimed just before it is sent, so a claim's lease covers one
    /// send, never a whole batch: no other process sends it meanwhile.
    ///
    /// # Errors
    /// When the outbox cannot be read or updated.
    pub async fn run_once(&self) -> Result<(usize, usize), enlist_core::Error> {
        let (mut sent, mut failed) = (0, 0);
        let mut waiting: std::collections::HashMap<enlist_core::OrganizationId, i32> = Default::default();
        for _ in 0..self.batch {
            let now = self.clock.now();
            let Some(q) = self.queue.due(now, 1).await?.pop() else { break };
            let id = q.notification.id.clone();
            let org = &q.notification.organization_id;
            let ahead = waiting.get(org).copied().unwrap_or(0);
            if let Some(at) = self.rate.admit(org, now, ahead) {
                // Over the organization's rate: kept, and due at its slot.
                *waiting.entry(org.clone()).or_default() += 1;
                self.queue.postpone(&id, at).await?;
                continue;
            }
            match self.mailer.send(&q.notification).await {
                Ok(()) => {
                    self.queue.mark_sent(&id, self.clock.now()).await?;
                    sent += 1;
                }
                Err(e) => {
                    let attempts = q.attempts + 1;
                    failed += 1;
                    // The recipient's address stays out of the log.
                    if e.permanent || attempts >= MAX_ATTEMPTS {
                        tracing::warn!(notification = %id, attempts, error = %e,
                            "notification set aside: it cannot be sent. See `enlist outbox`; fix the address, then `enlist outbox retry ID`");
                        self.queue.set_aside(&id, attempts, self.clock.now(), &e.message).await?;
                        continue;
                    }
                    let wait = backoff(attempts);
                    let retry_at = self.clock.now() + chrono::Duration::from_std(wait).unwrap_or_default();
                    tracing::warn!(notification = %id, attempts, retry_in_s = wait.as_secs(), error = %e, "notification not sent; will retry");
                    self.queue.mark_failed(&id, attempts, retry_at, &e.message).await?;
                }
            }
        }
        Ok((sent, failed))
    }
}

#[async_trait::async_trait]
impl enlist_jobs::Job for Worker {
    fn name(&self) -> String {
        "mail".into()
    }
    /// Sends one batch; at once again while there is work, else after
    /// `idle`. (Sent mail is pruned by the pruning job.)
    async fn round(&self) -> enlist_jobs::Next {
        match self.run_once().await {
            Ok((sent, failed)) if sent + failed > 0 => enlist_jobs::Next::Now,
            Ok(_) => enlist_jobs::Next::After(self.idle),
            Err(e) => {
                tracing::error!(error = %e, "outbox unavailable; retrying");
                enlist_jobs::Next::After(self.idle)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use enlist_core::ports::{MailError, MockMailer, MockOutboxQueue, QueuedNotification};
    use enlist_core::OrganizationId;

    struct Fixed;
    impl Clock for Fixed {
        fn now(&self) -> chrono::DateTime<chrono::Utc> {
            chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
        }
    }

    fn note(org: &str, label: &str) -> Notification {
        Notification {
            id: "n1".into(),
            organization_id: OrganizationId::new("o"),
            organization_name: org.into(),
            recipient: "ana@contoso.com".into(),
            recipient_name: Some("Ana".into()),
            added_by: label.into(),
            created_at: Fixed.now(),
            kind: enlist_core::NotificationKind::Added,
        }
    }

    #[test]
    fn the_guards_alert_says_what_was_held_and_the_two_ways_on() {
        let mut n = note("R&D", "Entra <prov>");
        n.kind = enlist_core::NotificationKind::DeprovisioningHeld { removed: 10, limit: 10, window_secs: 3600 };
        let (subject, text, html) = render(&n, &Branding::default());
        assert_eq!(subject, "Enlist held removals in R&D: check your identity provider");
        assert!(text.starts_with("Hello Ana,"), "{text}");
        assert!(text.contains("10 were removed within 1 hour, and the limit is 10"), "{text}");
        assert!(text.contains("dismiss the hold") && text.contains("approve the held removals"), "{text}");
        assert!(html.contains("&quot;Entra &lt;prov&gt;&quot;") && !html.contains("<prov>"), "{html}");
    }

    #[test]
    fn bodies_name_the_organization_and_label_and_escape_html() {
        let (subject, text, html) = render(&note("R&D <Labs>", "Entra \"prov\""), &Branding::default());
        assert_eq!(subject, "You were added to R&D <Labs> on Enlist");
        assert!(text.contains("Entra \"prov\" added you to the organization \"R&D <Labs>\""));
        assert!(
            html.contains("<strong>Entra &quot;prov&quot;</strong>") && html.contains("R&amp;D &lt;Labs&gt;"),
            "{html}"
        );
        assert!(!html.contains("<Labs>"));
    }

    #[test]
    fn mail_speaks_in_the_host_products_name_colour_and_logo() {
        let brand = Branding::new("Acme Flow", Some("https://cdn.acme.test/logo.png"), Some("#ffdd00")).unwrap();
        let (subject, text, html) = render(&note("R&D", "Entra"), &brand);
        assert_eq!(subject, "You were added to R&D on Acme Flow");
        assert!(text.contains("on Acme Flow.") && !text.contains("Enlist"), "{text}");
        assert!(html.contains("background:#ffdd00;color:#111111"), "{html}");
        assert!(html.contains("<img src=\"https://cdn.acme.test/logo.png\" alt=\"Acme Flow\""), "{html}");
        let mut held = note("R&D", "Entra");
        held.kind = enlist_core::NotificationKind::DeprovisioningHeld { removed: 10, limit: 10, window_secs: 3600 };
        let (subject, text, _) = render(&held, &brand);
        assert!(subject.starts_with("Acme Flow held removals") && !text.contains("Enlist"), "{subject} {text}");
        // A logo on the console's own host has no host in a mail: the name.
        let local = Branding::new("Acme", Some("/logo.png"), None).unwrap();
        assert!(render(&note("R&D", "Entra"), &local).2.contains("<strong>Acme</strong>"));
    }

    #[test]
    fn names_and_labels_are_cleaned_and_capped_everywhere() {
        let mut n = note("Contoso\r\nBcc: victim@example.com", "Entra\u{1b}[2J\u{202e}moc.live");
        n.recipient_name = Some(format!("Ana{}", "x".repeat(500)));
        let (subject, text, html) = render(&n, &Branding::default());
        assert_eq!(subject, "You were added to Contoso Bcc: victim@example.com on Enlist");
        for part in [&subject, &text, &html] {
            assert!(!part.contains('\u{1b}') && !part.contains('\u{202e}') && !part.contains('\r'), "{part:?}");
        }
        let greeting = text.lines().next().unwrap();
        assert!(greeting.chars().count() <= "Hello ,".len() + MAX_NAME_CHARS && greeting.ends_with("…,"), "{greeting}");
        assert_eq!(clean("  a\t b\n\nc ", 10), "a b c");
        assert_eq!(clean("abcdef", 4), "abc…");
    }

    /// One organization's burst goes out, the rest waits in the outbox for
    /// its slots (postponed, never dropped); another organization is not
    /// held up by it.
    #[tokio::test]
    async fn an_organization_past_its_rate_waits_in_the_outbox_and_others_go_on() {
        let rate = OrgRate::new(2, 3600); // two at once, then one a second
        let (a, b) = (OrganizationId::new("a"), OrganizationId::new("b"));
        let now = Fixed.now();
        assert_eq!(rate.admit(&a, now, 0), None);
        assert_eq!(rate.admit(&a, now, 0), None);
        assert_eq!(rate.admit(&a, now, 0), Some(now + chrono::Duration::seconds(1)));
        assert_eq!(rate.admit(&a, now, 1), Some(now + chrono::Duration::seconds(2)), "spread, not all at once");
        assert_eq!(rate.admit(&b, now, 0), None, "b has its own budget");
        assert_eq!(rate.admit(&a, now + chrono::Duration::seconds(1), 0), None, "a slot came free");

        let mut queue = MockOutboxQueue::new();
        let mut seq = mockall::Sequence::new();
        for (id, org) in [("n1", "a"), ("n2", "a"), ("n3", "b")] {
            let mut n = note("A", "k");
            n.id = id.into();
            n.organization_id = OrganizationId::new(org);
            queue
                .expect_due()
                .times(1)
                .in_sequence(&mut seq)
                .returning(move |_, _| Ok(vec![QueuedNotification { notification: n.clone(), attempts: 0 }]));
        }
        queue.expect_due().times(1).in_sequence(&mut seq).returning(|_, _| Ok(vec![]));
        queue
            .expect_postpone()
            .withf(|id, at| id == "n2" && *at == Fixed.now() + chrono::Duration::seconds(3600))
            .times(1)
            .returning(|_, _| Ok(()));
        queue.expect_mark_sent().withf(|id, _| id == "n1" || id == "n3").times(2).returning(|_, _| Ok(()));
        queue.expect_mark_failed().never();
        let mut mailer = MockMailer::new();
        mailer.expect_send().times(2).returning(|_| Ok(()));
        let w = Worker {
            queue: Arc::new(queue),
            mailer: Arc::new(mailer),
            clock: Arc::new(Fixed),
            batch: 10,
            idle: Duration::from_secs(1),
            rate: Arc::new(OrgRate::new(1, 1)),
        };
        assert_eq!(w.run_once().await.unwrap(), (2, 0));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1), Duration::from_secs(30));
        assert_eq!(backoff(2), Duration::from_secs(60));
        assert_eq!(backoff(5), Duration::from_secs(480));
        assert_eq!(backoff(40), Duration::from_secs(6 * 3600));
    }

    #[tokio::test]
    async fn an_empty_outbox_is_an_idle_round() {
        use enlist_jobs::{Job, Next};
        let mut queue = MockOutboxQueue::new();
        queue.expect_due().times(1).returning(|_, _| Ok(vec![]));
        queue.expect_prune().never();
        let w = Worker {
            queue: Arc::new(queue),
            mailer: Arc::new(MockMailer::new()),
            clock: Arc::new(Fixed),
            batch: 10,
            idle: Duration::from_secs(60),
            rate: Arc::new(OrgRate::standard()),
        };
        assert_eq!(w.round().await, Next::After(Duration::from_secs(60)));
    }

    /// A worker over mocks: batches of 10, the standard rate.
    fn worker(queue: MockOutboxQueue, mailer: MockMailer) -> Worker {
        Worker {
            queue: Arc::new(queue),
            mailer: Arc::new(mailer),
            clock: Arc::new(Fixed),
            batch: 10,
            idle: Duration::from_secs(1),
            rate: Arc::new(OrgRate::standard()),
        }
    }

    /// The queue holds one notification after `attempts` tries: claimed
    /// once, one at a time, then the queue is empty.
    fn once(queue: &mut MockOutboxQueue, attempts: u32) {
        let mut seq = mockall::Sequence::new();
        queue
            .expect_due()
            .withf(|_, limit| *limit == 1)
            .times(1)
            .in_sequence(&mut seq)
            .returning(move |_, _| Ok(vec![QueuedNotification { notification: note("A", "k"), attempts }]));
        queue.expect_due().times(1).in_sequence(&mut seq).returning(|_, _| Ok(vec![]));
    }

    #[tokio::test]
    async fn what_can_never_be_sent_is_set_aside_not_retried() {
        for (attempts, error) in
            [(0, MailError::permanent("550 no such user")), (MAX_ATTEMPTS - 1, MailError::transient("421 busy"))]
        {
            let mut queue = MockOutboxQueue::new();
            once(&mut queue, attempts);
            let want = error.message.clone();
            queue
                .expect_set_aside()
                .withf(move |id, n, at, err| id == "n1" && *n == attempts + 1 && *at == Fixed.now() && err == want)
                .times(1)
                .returning(|_, _, _, _| Ok(()));
            queue.expect_mark_failed().never();
            let mut mailer = MockMailer::new();
            let error = std::sync::Mutex::new(Some(error));
            mailer.expect_send().times(1).returning(move |_| Err(error.lock().unwrap().take().unwrap()));
            let w = worker(queue, mailer);
            assert_eq!(w.run_once().await.unwrap(), (0, 1));
        }
    }

    #[tokio::test]
    async fn a_failed_send_is_retried_later_and_a_sent_one_marked() {
        let mut queue = MockOutboxQueue::new();
        once(&mut queue, 2);
        queue
            .expect_mark_failed()
            .withf(|id, attempts, at, err| {
                id == "n1" && *attempts == 3 && *at == Fixed.now() + chrono::Duration::seconds(120) && err == "421 busy"
            })
            .times(1)
            .returning(|_, _, _, _| Ok(()));
        queue.expect_mark_sent().never();
        let mut mailer = MockMailer::new();
        mailer.expect_send().times(1).returning(|_| Err(MailError::transient("421 busy")));
        let w = worker(queue, mailer);
        assert_eq!(w.run_once().await.unwrap(), (0, 1));

        let mut queue = MockOutboxQueue::new();
        once(&mut queue, 0);
        queue.expect_mark_sent().withf(|id, _| id == "n1").times(1).returning(|_, _| Ok(()));
        let mut mailer = MockMailer::new();
        mailer.expect_send().times(1).returning(|_| Ok(()));
        let w = worker(queue, mailer);
        assert_eq!(w.run_once().await.unwrap(), (1, 0));
    }
}
