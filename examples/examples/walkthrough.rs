//! The walkthrough of `docs/embedding.md` as one program, depending on the
//! `enlist` crate alone: a host service with its own routes mounts Enlist's
//! SCIM endpoint under `/idp` and its health and metrics on a private port,
//! sets up its first tenant at every start, forwards change events as
//! JSON, and keeps a rule of its own over Enlist's services, unit-tested on
//! Enlist's mocks.
//!
//! `cargo run -p enlist-examples --example walkthrough` serves it;
//! `cargo test -p enlist-examples --example walkthrough` drives the same
//! app with a SCIM request and tests the rule.

use actix_web::{web, App, HttpResponse, HttpServer};
use enlist::{
    Caller, DomainName, Email, Enlist, Error, Event, EventHandler, HandlerError, OrganizationId, Role, Services, UserId,
};
use std::sync::{Arc, Mutex};

/// The host's routes with Enlist mounted beside them: SCIM at
/// `/idp/scim/v2`, authenticated by Enlist's own API keys (the host's
/// session check, if any, wraps only `/app`).
fn host(cfg: &mut web::ServiceConfig, enlist: &Enlist) {
    let services = enlist.services().clone();
    cfg.route("/app", web::get().to(|| async { HttpResponse::Ok().body("the host's own page") }))
        // The host's rule at work (a real host checks its own session first).
        .route(
            "/app/orgs/{org}/people/{user}/may-invite",
            web::get().to(move |path: web::Path<(String, String)>| {
                let services = services.clone();
                async move {
                    let (org, user) = path.into_inner();
                    match may_invite_collaborators(&services, &OrganizationId::new(org), &UserId::new(user)).await {
                        Ok(yes) => HttpResponse::Ok().json(yes),
                        Err(e) => HttpResponse::InternalServerError().body(e.to_string()),
                    }
                }
            }),
        )
        .service(web::scope("/idp").configure(enlist.configure()));
}

/// The first tenant, safe to run at every start: Contoso with its domain,
/// SCIM on, and one key for Entra ID whose secret exists only on the
/// first run.
async fn set_up_tenant(enlist: &Enlist) -> Result<(OrganizationId, Option<String>), Error> {
    let domain = DomainName::parse("contoso.com")?;
    let owner = Email::parse("it-admin@contoso.com")?;
    let org = enlist.tenants().ensure("Contoso", &[domain], Some(&owner)).await?;
    let key = enlist.tenants().ensure_key(&org.id, "Entra ID provisioning").await?;
    Ok((org.id, key.map(|k| k.token)))
}

/// Change events in process, forwarded as the JSON webhooks carry (here
/// kept in memory; a host would send them to its queue). Delivery is at
/// least once and in order per organization; a handler error is retried.
#[derive(Default)]
struct Forward {
    sent: Mutex<Vec<serde_json::Value>>,
}

#[async_trait::async_trait]
impl EventHandler for Forward {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let json = enlist::event_json(event);
        println!("event {}: {}", event.seq, json["type"]);
        self.sent.lock().map_err(|_| HandlerError("the forward buffer is poisoned".into()))?.push(json);
        Ok(())
    }
}

/// The host's own rule over Enlist's services: only an active Admin may
/// invite outside collaborators. It takes `Services`, which production
/// gets from `enlist.services()` and a test builds over mocks.
async fn may_invite_collaborators(services: &Services, org: &OrganizationId, user: &UserId) -> Result<bool, Error> {
    match services.users.get(&Caller::operator(org), user, false).await {
        Ok(v) => Ok(v.user.profile.active() && v.user.effective_role == Role::Admin),
        Err(Error::NotFound { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Enlist logs through `tracing`: install a subscriber or see nothing.
    enlist_examples::logs();
    let (url, _file) = enlist_examples::temp_sqlite("walkthrough");
    let enlist = Enlist::builder().database(&url).migrate(true).build().await?;
    if let (_, Some(token)) = set_up_tenant(&enlist).await? {
        println!("Contoso is ready. Entra ID: Tenant URL http://127.0.0.1:8080/idp/scim/v2?aadOptscim062020, Secret Token {token} (shown once)");
    }
    let events = enlist.subscribe("host-forwarder", Arc::new(Forward::default()));
    let background = enlist.start_background();

    let (public, admin) = (enlist.clone(), enlist.clone());
    let app = HttpServer::new(move || App::new().configure(|c| host(c, &public))).bind(("127.0.0.1", 8080))?.run();
    // Health and metrics name internal details: a port only monitoring reaches.
    let ops = HttpServer::new(move || App::new().configure(admin.configure_admin()))
        .workers(1)
        .bind(("127.0.0.1", 9090))?
        .run();
    println!("serving on 127.0.0.1:8080 (metrics on 127.0.0.1:9090); Ctrl-C stops");
    tokio::try_join!(app, ops)?;
    events.stop().await;
    background.stop().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test as http;
    use enlist::testing::{services, user, MockStore, MockTx};
    use serde_json::json;

    #[actix_web::test]
    async fn a_scim_create_under_the_host_prefix_reaches_the_host_as_an_event_and_its_rule() {
        let (url, _file) = enlist_examples::temp_sqlite("walkthrough-test");
        let enlist = Enlist::builder().database(&url).migrate(true).build().await.unwrap();
        let (org, token) = set_up_tenant(&enlist).await.unwrap();
        let token = token.expect("the first start makes the key");
        assert_eq!(set_up_tenant(&enlist).await.unwrap(), (org.clone(), None), "a second start changes nothing");
        let forward = Arc::new(Forward::default());
        let events = enlist.subscribe("host-forwarder", forward.clone());
        let app = http::init_service(App::new().configure(|c| host(c, &enlist))).await;

        assert_eq!(http::call_service(&app, http::TestRequest::get().uri("/app").to_request()).await.status(), 200);
        let create = http::TestRequest::post()
            .uri("/idp/scim/v2/Users")
            .insert_header(("authorization", format!("Bearer {token}")))
            .insert_header(("content-type", "application/scim+json"))
            .set_payload(json!({"userName": "ana@contoso.com", "roles": [{"value": "Admin"}]}).to_string());
        let r = http::call_service(&app, create.to_request()).await;
        assert_eq!(r.status(), 201);
        let location = r.headers().get("location").unwrap().to_str().unwrap().to_owned();
        assert!(location.contains("/idp/scim/v2/Users/"), "Location names the mounted path: {location}");
        let id = UserId::new(location.rsplit('/').next().unwrap());
        let anonymous = http::TestRequest::get().uri("/idp/scim/v2/Users");
        assert_eq!(http::call_service(&app, anonymous.to_request()).await.status(), 401);
        let metrics = http::TestRequest::get().uri("/idp/metrics");
        assert_eq!(http::call_service(&app, metrics.to_request()).await.status(), 404, "configure() is SCIM only");

        let created = |f: &Forward| {
            f.sent
                .lock()
                .unwrap()
                .iter()
                .any(|e| e["type"] == "user.created" && e["data"]["user"]["email"] == "ana@contoso.com")
        };
        let mut heard = false;
        for _ in 0..200 {
            heard = created(&forward);
            if heard {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        assert!(heard, "the handler got user.created: {:?}", forward.sent.lock().unwrap());
        events.stop().await;

        let ask = http::TestRequest::get().uri(&format!("/app/orgs/{org}/people/{id}/may-invite"));
        assert!(http::call_and_read_body_json::<_, _, bool>(&app, ask.to_request()).await, "an active Admin");
        assert!(!may_invite_collaborators(enlist.services(), &org, &UserId::new("nobody")).await.unwrap());
    }

    /// The rule on the mocks: `Users::get` without groups reads the user
    /// once and nothing else, and a mock panics on any call it was not told
    /// to expect, so this is the whole interaction.
    fn decide(found: Option<enlist::User>) -> bool {
        let mut tx = MockTx::default();
        tx.users.expect_get().times(1).returning(move |_, _| Ok(found.clone()));
        let services = services(MockStore::new(tx));
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(may_invite_collaborators(&services, &OrganizationId::new("o1"), &UserId::new("u1"))).unwrap()
    }

    #[test]
    fn only_an_active_admin_may_invite() {
        assert!(decide(Some(user("ana@contoso.com").role(Role::Admin).build())));
        assert!(!decide(Some(user("ana@contoso.com").role(Role::Admin).inactive().build())), "suspended");
        assert!(!decide(Some(user("ana@contoso.com").role(Role::FullMember).build())), "not an Admin");
        assert!(!decide(None), "not a member");
    }
}
