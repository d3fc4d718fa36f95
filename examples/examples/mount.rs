//! Example 1: mount Enlist inside an existing actix-web service that has
//! its own routes and its own authentication. The host's session check
//! wraps only the host's routes; the SCIM endpoint under `/idp/scim/v2`
//! authenticates Entra ID and Okta with Enlist API keys by itself.
//!
//! `cargo run -p enlist-examples --example mount`, then point Entra ID at
//! `http://127.0.0.1:8080/idp/scim/v2` with the printed key.

use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, App, HttpResponse, HttpServer};

/// The host's own authentication: a session header, checked by the host.
async fn require_session(
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<EitherBody<BoxBody>>, actix_web::Error> {
    if req.headers().get("x-host-session").is_some_and(|v| v == "valid") {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    Ok(req.into_response(HttpResponse::Unauthorized().body("sign in to the host first")).map_into_right_body())
}

async fn dashboard() -> HttpResponse {
    HttpResponse::Ok().body("the host's own page")
}

/// The host's app: its routes behind its session check, Enlist beside them.
fn host_app(
    enlist: &enlist::Enlist,
) -> App<
    impl actix_web::dev::ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .service(web::scope("/app").wrap(from_fn(require_session)).route("/dashboard", web::get().to(dashboard)))
        .service(web::scope("/idp").configure(enlist.configure()))
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    enlist_examples::logs();
    let (url, _file) = enlist_examples::temp_sqlite("mount");
    let enlist = enlist::Enlist::builder().database(&url).migrate(true).build().await?;
    if let Some((org, token)) = enlist.first_start().await? {
        println!("organization {} is ready; its API key (shown once): {token}", org.name);
    }
    println!("SCIM base: http://127.0.0.1:8080/idp/scim/v2 (Ctrl-C to stop)");
    let e = enlist.clone();
    HttpServer::new(move || host_app(&e)).bind(("127.0.0.1", 8080))?.run().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test;
    use serde_json::{json, Value};

    #[actix_web::test]
    async fn the_host_keeps_its_routes_and_auth_and_enlist_answers_scim_under_its_prefix() {
        let (url, _file) = enlist_examples::temp_sqlite("mount-test");
        let enlist = enlist::Enlist::builder().database(&url).migrate(true).build().await.unwrap();
        let (org, token) = enlist.first_start().await.unwrap().unwrap();
        let app = test::init_service(host_app(&enlist)).await;

        // The host's route: its own auth decides.
        let r = test::call_service(&app, test::TestRequest::get().uri("/app/dashboard").to_request()).await;
        assert_eq!(r.status(), 401);
        let ok = test::TestRequest::get().uri("/app/dashboard").insert_header(("x-host-session", "valid"));
        assert_eq!(test::call_service(&app, ok.to_request()).await.status(), 200);

        // SCIM under /idp: Enlist's key, not the host's session.
        let create = test::TestRequest::post()
            .uri("/idp/scim/v2/Users")
            .insert_header(("authorization", format!("Bearer {token}")))
            .insert_header(("content-type", "application/scim+json"))
            .set_payload(json!({"userName": "ana@contoso.com", "roles": [{"value": "FullMember"}]}).to_string());
        let r = test::call_service(&app, create.to_request()).await;
        assert_eq!(r.status(), 201);
        let location = r.headers().get("location").unwrap().to_str().unwrap().to_owned();
        assert!(location.contains("/idp/scim/v2/Users/"), "Location names the mounted path: {location}");
        let body: Value = test::read_body_json(r).await;
        assert_eq!(body["meta"]["location"], location.as_str());
        let no_key = test::TestRequest::get().uri("/idp/scim/v2/Users").insert_header(("x-host-session", "valid"));
        assert_eq!(test::call_service(&app, no_key.to_request()).await.status(), 401, "a host session is no SCIM key");

        // The host reads what was provisioned without touching Enlist's tables.
        let member = enlist.read().member_by_email(&org.id, "ANA@contoso.com").await.unwrap().unwrap();
        assert_eq!((member.role(), member.active()), (enlist::core::Role::FullMember, true));
        let page = enlist.read().members(&org.id, Some("userName sw \"ana\""), 1, 10).await.unwrap();
        assert_eq!(page.total, 1);
        assert!(enlist.read().members(&org.id, Some("userName eq 'ana'"), 1, 10).await.is_err());
    }
}
