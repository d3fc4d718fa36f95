//! Whole requests through the HTTP app in process (actix's test service
//! over the in-memory store): any method, route and body is answered
//! without a panic and never with a 5xx. The first byte picks the method
//! and the route, the rest is the body.
#![no_main]
use actix_web::{test, web, App};
use enlist_core::testing::{FakeDns, MemoryStore, SeqIds, TickClock};
use enlist_core::service::NewOrganization;
use enlist_core::{Actor, Caller, Deps, Email, Services};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

struct Healthy;

#[async_trait::async_trait]
impl enlist_actix::Health for Healthy {
    async fn check(&self) -> Result<(), String> {
        Ok(())
    }
    async fn gauges(&self) -> Vec<enlist_actix::Gauge> {
        Vec::new()
    }
}

struct World {
    runner: actix_web::rt::SystemRunner,
    state: web::Data<enlist_actix::HttpState>,
    token: String,
    user: String,
    group: String,
}

fn world() -> World {
    let runner = actix_web::rt::System::new();
    let ids = Arc::new(SeqIds::default());
    let deps = Deps {
        store: Arc::new(MemoryStore::new()),
        clock: Arc::new(TickClock::default()),
        ids: ids.clone(),
        dns: Arc::new(FakeDns::default()),
    };
    let enlist = Services::new(deps);
    let (token, user, group) = runner.block_on(async {
        let org = enlist
            .organizations
            .create(&Actor::Operator, NewOrganization::new("Contoso").owner(Email::parse("boss@contoso.com").unwrap()))
            .await
            .unwrap();
        let op = Caller { organization_id: org.id.clone(), actor: Actor::Operator };
        enlist.organizations.add_domain(&op, enlist_core::DomainName::parse("contoso.com").unwrap()).await.unwrap();
        let token = enlist.api_keys.create(&op, "fuzz").await.unwrap().token;
        let user = enlist.users.by_email(&op, &Email::parse("boss@contoso.com").unwrap()).await.unwrap().user.id;
        let new = enlist_core::service::NewGroup {
            display_name: enlist_core::DisplayName::parse("G").unwrap(),
            external_id: None,
            members: vec![user.clone()],
        };
        let group = enlist.groups.create(&op, new).await.unwrap().group.id;
        (token, user.to_string(), group.to_string())
    });
    let state = web::Data::new(enlist_actix::HttpState::new(
        enlist,
        enlist_actix::Config { max_body_bytes: 64 * 1024, ..enlist_actix::Config::default() },
        Arc::new(Healthy),
        ids,
    ));
    World { runner, state, token, user, group }
}

thread_local! {
    static WORLD: World = world();
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else { return };
    WORLD.with(|w| {
        let method = ["GET", "POST", "PUT", "PATCH", "DELETE"][usize::from(pick % 5)];
        let path = match (pick / 5) % 8 {
            0 => "/scim/v2/Users".to_owned(),
            1 => format!("/scim/v2/Users/{}", w.user),
            2 => "/scim/v2/Groups".to_owned(),
            3 => format!("/scim/v2/Groups/{}", w.group),
            4 => "/scim/v2/Users/.search".to_owned(),
            5 => "/scim/v2/Groups/.search".to_owned(),
            6 => "/scim/v2/.search".to_owned(),
            _ => "/scim/v2/Users?filter=userName%20eq%20%22boss%40contoso.com%22".to_owned(),
        };
        let status = w.runner.block_on(async {
            let app = test::init_service(App::new().configure(enlist_actix::configure(w.state.clone()))).await;
            let req = test::TestRequest::default()
                .method(method.parse().unwrap())
                .uri(&path)
                .insert_header(("Authorization", format!("Bearer {}", w.token)))
                .insert_header(("Content-Type", "application/scim+json"))
                .set_payload(body.to_vec())
                .to_request();
            test::call_service(&app, req).await.status()
        });
        assert!(status.as_u16() < 500, "{method} {path} answered {status} to {:?}", String::from_utf8_lossy(body));
    });
});
