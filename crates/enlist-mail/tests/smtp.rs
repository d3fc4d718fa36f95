//! A real SMTP conversation: the SMTP adapter talks to a sink the test
//! starts on 127.0.0.1 (`enlist_tests::smtp_sink`), and the received
//! message is checked.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use enlist_core::ports::Mailer;
use enlist_core::{Notification, NotificationKind, OrganizationId};
use enlist_mail::SmtpMailer;
use tokio::net::TcpListener;

#[tokio::test]
async fn notification_goes_over_smtp_with_both_bodies() {
    let (port, server) = enlist_tests::smtp_sink().await;
    let mailer = SmtpMailer::from_url(&format!("smtp://127.0.0.1:{port}"), "Enlist <no-reply@enlist.test>").unwrap();
    let n = Notification {
        id: "n1".into(),
        organization_id: OrganizationId::new("o"),
        organization_name: "Contoso & Co".into(),
        recipient: "ana@contoso.com".into(),
        recipient_name: Some("Ana".into()),
        added_by: "Entra ID provisioning".into(),
        created_at: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        kind: NotificationKind::Added,
    };
    mailer.send(&n).await.unwrap();
    let (envelope, data) = server.await.unwrap();
    assert_eq!(envelope, ["MAIL FROM:<no-reply@enlist.test>", "RCPT TO:<ana@contoso.com>"]);
    assert!(data.contains("Subject: You were added to Contoso & Co on Enlist"), "{data}");
    assert!(data.contains("Content-Type: text/plain") && data.contains("Content-Type: text/html"), "{data}");
    assert!(data.contains("Entra ID provisioning added you to the organization"), "{data}");
    assert!(data.contains("Contoso &amp; Co"), "{data}");
}

#[tokio::test]
async fn an_unreachable_server_is_an_error_not_a_hang() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mailer = SmtpMailer::from_url(&format!("smtp://127.0.0.1:{port}"), "no-reply@enlist.test").unwrap();
    let n = Notification {
        id: "n1".into(),
        organization_id: OrganizationId::new("o"),
        organization_name: "C".into(),
        recipient: "ana@contoso.com".into(),
        recipient_name: None,
        added_by: "k".into(),
        created_at: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        kind: NotificationKind::Added,
    };
    assert!(mailer.send(&n).await.is_err());
    assert!(SmtpMailer::from_url("http://nope", "x@y.z").is_err());
    assert!(SmtpMailer::from_url("smtp://h", "not an address").is_err());
}

/// The error is logged and stored: it never carries the recipient's address.
#[tokio::test]
async fn errors_never_carry_the_recipient_address() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mailer = SmtpMailer::from_url(&format!("smtp://127.0.0.1:{port}"), "no-reply@enlist.test").unwrap();
    for recipient in ["ana at contoso", "ana@contoso.com"] {
        let n = Notification {
            id: "n1".into(),
            organization_id: OrganizationId::new("o"),
            organization_name: "Contoso".into(),
            recipient: recipient.into(),
            recipient_name: None,
            added_by: "Okta".into(),
            created_at: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            kind: NotificationKind::Added,
        };
        let e = mailer.send(&n).await.unwrap_err();
        assert!(!e.to_string().contains(recipient), "{e}");
    }
}
