//! The Webhooks page over HTTP: an Admin adds an endpoint (the secret
//! shown once), sends a test, sees a failing endpoint's failures with what
//! the receiver answered, replays from an event, and removes it; wrong
//! numbers, forged forms and another organization's endpoint change
//! nothing.

use super::*;
use enlist_core::ports::{Clock, EventFeed};
use enlist_core::{Webhook, WebhookId};

/// The delivery adapter's part, faked: endpoints get a fixed secret, and
/// a test answers 204 unless the URL says "down".
pub(crate) struct Receiver(pub(crate) Services);

#[async_trait::async_trait]
impl enlist_console::WebhookTools for Receiver {
    async fn register(&self, caller: &Caller, url: &str) -> Result<Webhook, enlist_core::Error> {
        self.0.webhooks.add(caller, url, false, false, "whsec_c2VjcmV0LXNob3duLW9uY2U=".into()).await
    }
    async fn test(&self, caller: &Caller, id: &WebhookId) -> Result<Result<u16, String>, enlist_core::Error> {
        let w = self.0.webhooks.for_test(caller, id).await?;
        Ok(if w.url.contains("down") {
            Err("the endpoint answered HTTP 401 (\"bad signature\")".into())
        } else {
            Ok(204)
        })
    }
}

#[actix_web::test]
async fn an_admin_adds_tests_replays_and_removes_a_webhook() {
    let (t, enlist, op) = contoso().await;
    enlist.users.create(&op, user("ana@contoso.com", &["FullMember"])).await.unwrap();
    let app =
        test::init_service(App::new().configure(enlist_console::configure(console_state(&t, &enlist, None)))).await;
    let link = enlist.console.link(&op, &Email::parse("boss@contoso.com").unwrap()).await.unwrap();
    let r = test::call_service(
        &app,
        test::TestRequest::post().uri("/console/login").set_form([("token", link.as_str())]).to_request(),
    )
    .await;
    let cookie = r.response().cookies().find(|c| c.name() == COOKIE).unwrap().into_owned();
    let get = |uri: &str| test::TestRequest::get().uri(uri).cookie(cookie.clone()).to_request();
    let post = |uri: &str, form: &[(&str, &str)]| {
        test::TestRequest::post().uri(uri).cookie(cookie.clone()).set_form(form.to_vec()).to_request()
    };
    let body = |r: actix_web::dev::ServiceResponse| async move {
        String::from_utf8(test::read_body(r).await.to_vec()).unwrap()
    };

    let page = body(test::call_service(&app, get("/console/webhooks")).await).await;
    assert!(page.contains("No endpoint yet"), "{page}");
    assert!(page.contains("aria-current=\"page\">Webhooks"), "the navigation marks the page: {page}");
    let csrf = page.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();

    // A URL the rules refuse: the sentence, and nothing registered.
    let r =
        test::call_service(&app, post("/console/webhooks", &[("csrf", &csrf), ("url", "http://10.0.0.5/in")])).await;
    assert_eq!(r.status(), 400);
    let refused = body(r).await;
    assert!(refused.contains("not HTTPS") && refused.contains("value=\"http://10.0.0.5/in\""), "{refused}");
    assert!(
        refused.contains("people who run this service") && !refused.contains("--allow-private"),
        "in the Admin's words, no operator command: {refused}"
    );
    assert!(enlist.webhooks.list(&op, false).await.unwrap().is_empty());

    // Added: the secret once, then never again.
    let r =
        test::call_service(&app, post("/console/webhooks", &[("csrf", &csrf), ("url", "https://93.184.216.34/in")]))
            .await;
    assert_eq!(r.status(), 200);
    let added = body(r).await;
    assert!(added.contains("whsec_c2VjcmV0LXNob3duLW9uY2U=") && added.contains("shown only now"), "{added}");
    let id = enlist.webhooks.list(&op, false).await.unwrap()[0].id.clone();
    let page = body(test::call_service(&app, get("/console/webhooks")).await).await;
    assert!(!page.contains("whsec_"), "the secret is shown once: {page}");
    assert!(page.contains("Up to date") || page.contains("Delivering"), "{page}");

    // A test: the receiver's answer.
    let tested =
        body(test::call_service(&app, post(&format!("/console/webhooks/{id}/test"), &[("csrf", &csrf)])).await).await;
    assert!(tested.contains("answered HTTP 204"), "{tested}");

    // Failing: the failures with what the receiver answered.
    let feed: &dyn EventFeed = &t.db;
    let (name, now) = (id.consumer_name(), enlist_core::testing::TickClock::default().now());
    let claim = feed
        .claim(&name, Some(op.organization_id.clone()), now, now + chrono::Duration::seconds(30), "x", 5)
        .await
        .unwrap()
        .unwrap();
    feed.retry_later(
        &name,
        &op.organization_id,
        &claim.token,
        None,
        now,
        now,
        "the endpoint answered HTTP 500 (\"db down\")",
    )
    .await
    .unwrap();
    let page = body(test::call_service(&app, get("/console/webhooks")).await).await;
    assert!(page.contains("Failing") && page.contains("db down") && page.contains("1 attempt(s) at event 1"), "{page}");

    // Replay: a wrong number is refused with the range; a right one rewinds.
    for bad in ["0", "abc", "999"] {
        let r = test::call_service(
            &app,
            post(&format!("/console/webhooks/{id}/replay"), &[("csrf", &csrf), ("from", bad)]),
        )
        .await;
        assert_eq!(r.status(), 400, "{bad}");
    }
    let newest = feed.standing(&name, &op.organization_id).await.unwrap().newest;
    let claim = feed
        .claim(&name, Some(op.organization_id.clone()), now, now + chrono::Duration::seconds(30), "y", 50)
        .await
        .unwrap()
        .unwrap();
    feed.ack(&name, &op.organization_id, &claim.token, newest).await.unwrap();
    let r =
        test::call_service(&app, post(&format!("/console/webhooks/{id}/replay"), &[("csrf", &csrf), ("from", "1")]))
            .await;
    let replayed = body(r).await;
    assert!(replayed.contains("from number 1 on will be delivered again"), "{replayed}");
    assert_eq!(feed.standing(&name, &op.organization_id).await.unwrap().delivered, 0);

    // A forged form and another organization's endpoint change nothing.
    let r = test::call_service(&app, post(&format!("/console/webhooks/{id}/remove"), &[("csrf", "forged")])).await;
    assert_eq!(r.status(), 403);
    let other = enlist
        .organizations
        .create(&Actor::Operator, NewOrganization::new("Fabrikam").owner(Email::parse("boss@fabrikam.com").unwrap()))
        .await
        .unwrap();
    let theirs = Caller { organization_id: other.id.clone(), actor: Actor::Operator };
    let hook =
        enlist.webhooks.add(&theirs, "https://93.184.216.34/f", false, false, "whsec_eA==".into()).await.unwrap();
    for action in ["remove", "test"] {
        let r = test::call_service(&app, post(&format!("/console/webhooks/{}/{action}", hook.id), &[("csrf", &csrf)]))
            .await;
        assert!(r.status() == 404 || r.status() == 400, "{action}: {}", r.status());
    }
    let r = test::call_service(
        &app,
        post(&format!("/console/webhooks/{}/replay", hook.id), &[("csrf", &csrf), ("from", "1")]),
    )
    .await;
    assert!(body(r).await.contains("no webhook"));
    assert_eq!(enlist.webhooks.list(&theirs, false).await.unwrap().len(), 1);

    // Removed, with the confirmation the page asks for.
    assert!(page.contains("data-confirm=\"Remove this endpoint?"), "{page}");
    let r = test::call_service(&app, post(&format!("/console/webhooks/{id}/remove"), &[("csrf", &csrf)])).await;
    assert_eq!(r.status(), 303);
    assert!(enlist.webhooks.list(&op, false).await.unwrap().is_empty());
}
