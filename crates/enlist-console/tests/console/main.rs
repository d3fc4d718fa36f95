//! The console over HTTP (actix's test service, the real services on a
//! SQLite test database): sign in with a link once, generate a key and see its
//! secret once, revoke it, read people and activity with the fix in the
//! admin's terms; refusals for a reused link, a forged form, no session
//! and a non-admin.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use actix_web::{test, web, App};
use enlist_console::{ConsoleState, COOKIE};
use enlist_core::ports::ActivityLog;
use enlist_core::service::{NewOrganization, NewUser};
use enlist_core::value::{Complex, Value};
use enlist_core::{ActivityRecord, Actor, Caller, DomainName, Email, Services};
use std::sync::Arc;

mod look;
mod webhooks;

fn user(name: &str, roles: &[&str]) -> NewUser {
    let mut a = Complex::from([("userName".to_owned(), Value::String(name.into()))]);
    let roles = roles.iter().map(|r| Value::Complex(Complex::from([("value".to_owned(), Value::String((*r).into()))])));
    a.insert("roles".into(), Value::Multi(roles.collect()));
    NewUser { attrs: a, password: false }
}

/// A SQLite test database with the services and organization "Contoso",
/// whose owner is the Admin boss@contoso.com; the operator's caller.
async fn contoso() -> (enlist_diesel::testing::TestDatabase, Services, Caller) {
    let t = enlist_diesel::testing::TestDatabase::sqlite().unwrap();
    let enlist = enlist_core::testing::services(Arc::new(t.db.clone()));
    let org = enlist
        .organizations
        .create(
            &Actor::Operator,
            NewOrganization::new("Contoso")
                .owner(Email::parse("boss@contoso.com").unwrap())
                .domain(DomainName::parse("contoso.com").unwrap()),
        )
        .await
        .unwrap();
    let op = Caller { organization_id: org.id.clone(), actor: Actor::Operator };
    (t, enlist, op)
}

/// The console's state over the test database, with Secure cookies.
fn console_state(
    t: &enlist_diesel::testing::TestDatabase,
    enlist: &Services,
    scim_base: Option<&str>,
) -> web::Data<ConsoleState> {
    web::Data::new(state(t, enlist, scim_base))
}

fn state(t: &enlist_diesel::testing::TestDatabase, enlist: &Services, scim_base: Option<&str>) -> ConsoleState {
    ConsoleState {
        enlist: enlist.clone(),
        activity: Arc::new(t.db.clone()),
        scim_base: scim_base.map(str::to_owned),
        secure_cookies: true,
        clock: Arc::new(enlist_core::testing::TickClock::default()),
        feed: Arc::new(t.db.clone()),
        webhooks: Some(Arc::new(webhooks::Receiver(enlist.clone()))),
        branding: enlist_core::Branding::default(),
    }
}

#[actix_web::test]
async fn an_admin_signs_in_manages_keys_and_reads_why_provisioning_failed() {
    let (t, enlist, op) = contoso().await;
    enlist.users.create(&op, user("ana@contoso.com", &["FullMember"])).await.unwrap();
    let refused = ActivityRecord {
        id: "a1".into(),
        organization_id: op.organization_id.clone(),
        at: chrono::DateTime::from_timestamp(1_900_000_000, 0).unwrap(),
        key_label: "Entra ID provisioning".into(),
        method: "POST".into(),
        route: "/Users".into(),
        resource_id: None,
        subject: Some("x@contoso.com".into()),
        status: 400,
        scim_type: Some("invalidValue".into()),
        detail: Some("Unknown role 'Owner' in roles. Allowed values: Admin, FullMember, FreeMember, Guest.".into()),
        latency_ms: 3,
        request_id: "req-7".into(),
        summary: "{}".into(),
    };
    t.db.append(vec![refused]).await.unwrap();
    let state = console_state(&t, &enlist, Some("https://enlist.example.com/scim/v2"));
    let app = test::init_service(App::new().configure(enlist_console::configure(state))).await;

    // No session: told how to get one.
    let r = test::call_service(&app, test::TestRequest::get().uri("/console/").to_request()).await;
    assert_eq!(r.status(), 401);
    let body = String::from_utf8(test::read_body(r).await.to_vec()).unwrap();
    assert!(body.contains("sign-in link") && !body.contains("enlist console-link"), "{body}");

    // A non-admin gets no link; the Admin's link works once.
    assert!(enlist.console.link(&op, &Email::parse("ana@contoso.com").unwrap()).await.is_err());
    let link = enlist.console.link(&op, &Email::parse("boss@contoso.com").unwrap()).await.unwrap();
    // Opening the link (as a mail scanner would, twice) signs no one in:
    // it says who it would sign in where.
    for _ in 0..2 {
        let r = test::call_service(
            &app,
            test::TestRequest::get().uri(&format!("/console/login?token={link}")).to_request(),
        )
        .await;
        assert_eq!(r.status(), 200);
        assert!(r.headers().get("set-cookie").is_none(), "a GET never starts a session");
        let body = String::from_utf8(test::read_body(r).await.to_vec()).unwrap();
        assert!(body.contains("Sign in to <strong>Contoso</strong> as <strong>boss@contoso.com</strong>"), "{body}");
    }
    // A form on another site posting the link (login CSRF) is refused and
    // does not spend it.
    let post = |site: Option<&'static str>| {
        let mut r = test::TestRequest::post().uri("/console/login").set_form([("token", link.as_str())]);
        if let Some(site) = site {
            r = r.insert_header(("Sec-Fetch-Site", site));
        }
        r.to_request()
    };
    assert_eq!(test::call_service(&app, post(Some("cross-site"))).await.status(), 403);
    let r = test::call_service(&app, post(Some("same-origin"))).await;
    assert_eq!(r.status(), 303);
    let cookie = r.response().cookies().find(|c| c.name() == COOKIE).unwrap().into_owned();
    assert!(COOKIE.starts_with("__Host-") && cookie.path() == Some("/") && cookie.domain().is_none(), "{cookie}");
    assert!(cookie.http_only() == Some(true) && cookie.secure() == Some(true), "{cookie}");
    assert_eq!(cookie.same_site(), Some(actix_web::cookie::SameSite::Strict));
    assert_eq!(test::call_service(&app, post(Some("same-origin"))).await.status(), 401, "a link works once");

    let get = |uri: &str| test::TestRequest::get().uri(uri).cookie(cookie.clone()).to_request();
    let page = |r| async move { String::from_utf8(test::read_body(r).await.to_vec()).unwrap() };
    let r = test::call_service(&app, get("/console/")).await;
    assert_eq!(r.status(), 200);
    let body = page(r).await;
    assert!(body.contains("https://enlist.example.com/scim/v2") && body.contains("Generate API key"), "{body}");
    assert!(
        body.contains("<span class=\"org\">Contoso</span><span class=\"email\">boss@contoso.com</span>"),
        "who and where: {body}"
    );
    // Guided setup: the values that bite, ready to copy.
    for value in [
        "id=\"entra-tenant-url\">https://enlist.example.com/scim/v2?aadOptscim062020</code>",
        "id=\"entra-role-expression\">AssertiveAppRoleAssignmentsComplex([appRoleAssignments])</code>",
        "id=\"role-FullMember\">FullMember</code>",
        "id=\"okta-external-name\">roles.^[primary==true].value</code>",
        "Leave Sync Password off",
    ] {
        assert!(body.contains(value), "{value} in {body}");
    }
    let csrf = body.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();

    // A forged form changes nothing.
    let forged = test::TestRequest::post()
        .uri("/console/keys")
        .cookie(cookie.clone())
        .set_form([("csrf", "forged"), ("label", "Evil")]);
    assert_eq!(test::call_service(&app, forged.to_request()).await.status(), 403);
    assert!(enlist.api_keys.list(&op).await.unwrap().is_empty());

    // Generate: the secret once, with the label's note.
    let make = test::TestRequest::post()
        .uri("/console/keys")
        .cookie(cookie.clone())
        .set_form([("csrf", csrf.as_str()), ("label", "Entra ID provisioning")]);
    let body = page(test::call_service(&app, make.to_request()).await).await;
    let keys = enlist.api_keys.list(&op).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert!(body.contains("shown only once") && body.contains("enlist_"), "{body}");
    assert!(enlist
        .api_keys
        .authenticate(body.split("id=\"new-key\">").nth(1).unwrap().split('<').next().unwrap())
        .await
        .is_ok());
    let listing = page(test::call_service(&app, get("/console/")).await).await;
    assert!(!listing.contains("id=\"new-key\""), "the secret is not shown again");

    // Rotate: a second key with the same label; the first still works.
    let rotate = test::TestRequest::post()
        .uri(&format!("/console/keys/{}/rotate", keys[0].id))
        .cookie(cookie.clone())
        .set_form([("csrf", csrf.as_str())]);
    let body = page(test::call_service(&app, rotate.to_request()).await).await;
    let rotated = body.split("id=\"new-key\">").nth(1).unwrap().split('<').next().unwrap().to_owned();
    assert!(enlist.api_keys.authenticate(&rotated).await.is_ok());
    let after = enlist.api_keys.list(&op).await.unwrap();
    assert_eq!(after.len(), 2);
    assert!(
        after.iter().all(|k| k.label == "Entra ID provisioning" && k.revoked_at.is_none()),
        "the old key still works"
    );

    // Revoke.
    let revoke = test::TestRequest::post()
        .uri(&format!("/console/keys/{}/revoke", keys[0].id))
        .cookie(cookie.clone())
        .set_form([("csrf", csrf.as_str())]);
    assert_eq!(test::call_service(&app, revoke.to_request()).await.status(), 303);
    let after = enlist.api_keys.list(&op).await.unwrap();
    assert!(after.iter().find(|k| k.id == keys[0].id).unwrap().revoked_at.is_some());
    assert!(enlist.api_keys.authenticate(&rotated).await.is_ok(), "the new key is untouched");

    // People: roles and their source; a bad filter says what is wrong.
    let body = page(test::call_service(&app, get("/console/people?q=ana")).await).await;
    assert!(body.contains("ana@contoso.com") && body.contains("FullMember") && body.contains("assigned"), "{body}");
    let main = body.split("<main id=\"content\">").nth(1).unwrap();
    assert!(!main.contains("boss@contoso.com"), "the search narrows (the header names the signed-in boss)");
    let r = test::call_service(&app, get("/console/people?filter=nope%20eq%20%27x%27")).await;
    assert_eq!(r.status(), 400);

    // Activity: what Entra was told, and the fix.
    let body = page(test::call_service(&app, get("/console/activity?failed=1")).await).await;
    assert!(body.contains("Unknown role &#39;Owner&#39;") || body.contains("Unknown role 'Owner'"), "{body}");
    assert!(
        body.contains("Add the app role 'Owner' in Entra ID") || body.contains("Add the app role &#39;Owner&#39;"),
        "{body}"
    );
    assert!(body.contains("req-7"));

    // Groups: member counts, and a role set through the console is applied
    // and audited.
    let g = enlist
        .groups
        .create(
            &op,
            enlist_core::service::NewGroup {
                display_name: enlist_core::DisplayName::parse("Staff").unwrap(),
                external_id: None,
                members: vec![],
            },
        )
        .await
        .unwrap()
        .group;
    let ana = enlist.users.by_email(&op, &Email::parse("ana@contoso.com").unwrap()).await.unwrap().user.id;
    enlist
        .groups
        .change(&op, &g.id, vec![enlist_core::change::GroupChange::AddMembers(vec![ana])], None)
        .await
        .unwrap();
    let body = page(test::call_service(&app, get("/console/groups")).await).await;
    assert!(body.contains("Staff</td><td>1</td>"), "{body}");
    let set = test::TestRequest::post()
        .uri(&format!("/console/groups/{}/role", g.id))
        .cookie(cookie.clone())
        .set_form([("csrf", csrf.as_str()), ("role", "FullMember")]);
    assert_eq!(test::call_service(&app, set.to_request()).await.status(), 303);
    assert_eq!(enlist.groups.get(&op, &g.id, false).await.unwrap().group.role, Some(enlist_core::Role::FullMember));
    let audit = enlist.organizations.audit(&op, None, 100).await.unwrap();
    assert!(audit.iter().any(|a| a.changes.iter().any(|c| c.attribute == "role")), "recorded in the audit");
    let forged = test::TestRequest::post()
        .uri(&format!("/console/groups/{}/role", g.id))
        .cookie(cookie.clone())
        .set_form([("csrf", "x"), ("role", "Admin")]);
    assert_eq!(test::call_service(&app, forged.to_request()).await.status(), 403);

    // Domains: what they allow, and how an Admin adds one (no operator
    // command on any page an Admin reads).
    let body = page(test::call_service(&app, get("/console/domains")).await).await;
    assert!(body.contains("Add a domain you control") && !body.contains("enlist "), "{body}");
}

#[actix_web::test]
async fn mounted_under_a_prefix_every_link_form_redirect_and_cookie_follows() {
    let (t, enlist, op) = contoso().await;
    // 55 people whose family name starts "Smi": more than one page.
    for i in 0..55 {
        let mut u = user(&format!("p{i:02}@contoso.com"), &[]);
        u.attrs.insert(
            "name".into(),
            Value::Complex(Complex::from([
                ("givenName".to_owned(), Value::String(format!("Joan{i:02}"))),
                ("familyName".to_owned(), Value::String("Smith".into())),
            ])),
        );
        enlist.users.create(&op, u).await.unwrap();
    }
    let state = console_state(&t, &enlist, None);
    let app =
        test::init_service(App::new().service(web::scope("/admin/enlist").configure(enlist_console::configure(state))))
            .await;

    let link = enlist.console.link(&op, &Email::parse("boss@contoso.com").unwrap()).await.unwrap();
    let r = test::call_service(
        &app,
        test::TestRequest::get().uri(&format!("/admin/enlist/console/login?token={link}")).to_request(),
    )
    .await;
    let body = String::from_utf8(test::read_body(r).await.to_vec()).unwrap();
    assert!(body.contains("action=\"/admin/enlist/console/login\""), "{body}");
    let r = test::call_service(
        &app,
        test::TestRequest::post().uri("/admin/enlist/console/login").set_form([("token", link.as_str())]).to_request(),
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers().get("location").unwrap(), "/admin/enlist/console/");
    let cookie = r.response().cookies().find(|c| c.name() == COOKIE).unwrap().into_owned();

    let get = |uri: &str| test::TestRequest::get().uri(uri).cookie(cookie.clone()).to_request();
    let page = |r| async move { String::from_utf8(test::read_body(r).await.to_vec()).unwrap() };
    let body = page(test::call_service(&app, get("/admin/enlist/console/")).await).await;
    for target in [
        "href=\"/admin/enlist/console/people\"",
        "action=\"/admin/enlist/console/keys\"",
        "action=\"/admin/enlist/console/logout\"",
    ] {
        assert!(body.contains(target), "{target} in {body}");
    }
    assert!(!body.contains("\"/console/"), "no link assumes the app root: {body}");

    // A prefix of the family name finds them; the next page keeps the search.
    let body = page(test::call_service(&app, get("/admin/enlist/console/people?q=smi")).await).await;
    assert!(body.contains("55 people"), "{body}");
    assert!(body.contains("href=\"/admin/enlist/console/people?page=2&amp;q=smi\""), "{body}");
    let second = page(test::call_service(&app, get("/admin/enlist/console/people?page=2&q=smi")).await).await;
    assert!(second.contains("55 people") && second.contains("p5"), "{second}");
    // The given name or the address too, from any place in it (three
    // characters on); below three, the start of one.
    let body = page(test::call_service(&app, get("/admin/enlist/console/people?q=joan07")).await).await;
    assert!(body.contains(">1 person<") && body.contains("p07@contoso.com"), "{body}");
    let body = page(test::call_service(&app, get("/admin/enlist/console/people?q=p1")).await).await;
    assert!(body.contains("10 people"), "{body}");
    let body = page(test::call_service(&app, get("/admin/enlist/console/people?q=mith")).await).await;
    assert!(body.contains("55 people"), "the middle of a name: {body}");
    let body = page(test::call_service(&app, get("/admin/enlist/console/people?q=an07")).await).await;
    assert!(body.contains(">1 person<") && body.contains("p07@contoso.com"), "{body}");
    let body = page(test::call_service(&app, get("/admin/enlist/console/people?q=xyz")).await).await;
    assert!(body.contains(">0 people<"), "{body}");
}

/// Every console answer carries the security headers (pages, redirects,
/// refusals, sign-out), and the policy allows no inline script or style;
/// the script and stylesheet are the console's own files.
#[actix_web::test]
async fn every_answer_carries_the_security_headers_and_no_inline_script_is_allowed() {
    let (t, enlist, op) = contoso().await;
    let state = console_state(&t, &enlist, None);
    let app = test::init_service(App::new().configure(enlist_console::configure(state))).await;
    let link = enlist.console.link(&op, &Email::parse("boss@contoso.com").unwrap()).await.unwrap();
    let login = test::TestRequest::post().uri("/console/login").set_form([("token", link.as_str())]).to_request();
    let r = test::call_service(&app, login).await;
    let cookie = r.response().cookies().find(|c| c.name() == COOKIE).unwrap().into_owned();
    let check = |r: &actix_web::dev::ServiceResponse, what: &str| {
        let h = |n: &str| r.headers().get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let csp = h("content-security-policy");
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{what}: {csp:?}");
        assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
        assert_eq!(h("x-frame-options"), "DENY", "{what}");
        assert_eq!(h("x-content-type-options"), "nosniff", "{what}");
    };
    check(&r, "the sign-in redirect");
    let home =
        test::call_service(&app, test::TestRequest::get().uri("/console/").cookie(cookie.clone()).to_request()).await;
    check(&home, "a page");
    let body = String::from_utf8(test::read_body(home).await.to_vec()).unwrap();
    assert!(!body.contains("<script>") && !body.contains("onclick") && !body.contains("style="), "{body}");
    let csrf = body.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    for uri in ["/console/assets/console.js", "/console/assets/console.css"] {
        let r = test::call_service(&app, test::TestRequest::get().uri(uri).to_request()).await;
        assert_eq!(r.status(), 200, "{uri}");
        check(&r, uri);
    }
    let refused = test::call_service(&app, test::TestRequest::get().uri("/console/people").to_request()).await;
    check(&refused, "a refusal");
    let out = test::TestRequest::post().uri("/console/logout").cookie(cookie).set_form([("csrf", csrf.as_str())]);
    check(&test::call_service(&app, out.to_request()).await, "sign-out");
}

/// A browser already signed in sees whose session a new link would end,
/// and the organization and person it would switch to.
#[actix_web::test]
async fn a_live_session_is_never_replaced_without_being_named() {
    let (t, enlist, op) = contoso().await;
    let state = console_state(&t, &enlist, None);
    let app = test::init_service(App::new().configure(enlist_console::configure(state))).await;
    let boss = Email::parse("boss@contoso.com").unwrap();
    let first = enlist.console.link(&op, &boss).await.unwrap();
    let r = test::call_service(
        &app,
        test::TestRequest::post().uri("/console/login").set_form([("token", first.as_str())]).to_request(),
    )
    .await;
    let cookie = r.response().cookies().find(|c| c.name() == COOKIE).unwrap().into_owned();
    let second = enlist.console.link(&op, &boss).await.unwrap();
    let r = test::call_service(
        &app,
        test::TestRequest::get().uri(&format!("/console/login?token={second}")).cookie(cookie.clone()).to_request(),
    )
    .await;
    let body = String::from_utf8(test::read_body(r).await.to_vec()).unwrap();
    assert!(body.contains("id=\"replaces\"") && body.contains("signs that session out"), "{body}");
    // Signing in with the second link ends the first session.
    let r = test::call_service(
        &app,
        test::TestRequest::post()
            .uri("/console/login")
            .cookie(cookie.clone())
            .set_form([("token", second.as_str())])
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), 303);
    let old = test::call_service(&app, test::TestRequest::get().uri("/console/").cookie(cookie).to_request()).await;
    assert_eq!(old.status(), 401, "the replaced session no longer works");
}

/// The Provisioning guard page: an Admin sees who is held and why, and
/// approves (a forged form changes nothing); the identity provider's
/// retry then applies.
#[actix_web::test]
async fn an_admin_sees_held_removals_and_approves_them() {
    use enlist_core::change::{PatchKind, PatchOp, PatchPath, UserChange};
    use enlist_core::schema::USER_RESOURCE;
    let (t, enlist, op) = contoso().await;
    let key = Caller {
        organization_id: op.organization_id.clone(),
        actor: Actor::ApiKey { id: enlist_core::ApiKeyId::new("k"), label: "Entra ID provisioning".into() },
    };
    let off = || {
        let path = PatchPath { target: USER_RESOURCE.resolve(None, "active", None).unwrap(), filter: None };
        UserChange::Patch(vec![PatchOp { kind: PatchKind::Replace, path, value: Some(Value::Bool(false)) }])
    };
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.push(enlist.users.create(&key, user(&format!("p{i}@contoso.com"), &["Guest"])).await.unwrap().user.id);
    }
    for id in &ids {
        let _ = enlist.users.change(&key, id, off(), None).await;
    }
    let state = console_state(&t, &enlist, None);
    let app = test::init_service(App::new().configure(enlist_console::configure(state))).await;
    let link = enlist.console.link(&op, &Email::parse("boss@contoso.com").unwrap()).await.unwrap();
    let login = test::TestRequest::post().uri("/console/login").set_form([("token", link.as_str())]).to_request();
    let r = test::call_service(&app, login).await;
    let cookie = r.response().cookies().find(|c| c.name() == COOKIE).unwrap().into_owned();
    let get = |uri: &str| test::TestRequest::get().uri(uri).cookie(cookie.clone()).to_request();
    let r = test::call_service(&app, get("/console/guard")).await;
    assert_eq!(r.status(), 200);
    let body = String::from_utf8(test::read_body(r).await.to_vec()).unwrap();
    assert!(body.contains("Removals are held since") && body.contains("Held requests (2)"), "{body}");
    assert!(
        body.contains("p10@contoso.com") && body.contains("p11@contoso.com") && body.contains("Entra ID provisioning")
    );
    assert!(body.contains("id=\"guard-approve\"") && body.contains("data-confirm"), "{body}");
    let csrf = body.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();

    let forged =
        test::TestRequest::post().uri("/console/guard/approve").cookie(cookie.clone()).set_form([("csrf", "x")]);
    assert_eq!(test::call_service(&app, forged.to_request()).await.status(), 403);
    assert_eq!(enlist.guard.status(&op).await.unwrap().held.len(), 2, "a forged form changes nothing");
    let approve = test::TestRequest::post()
        .uri("/console/guard/approve")
        .cookie(cookie.clone())
        .set_form([("csrf", csrf.as_str())]);
    assert_eq!(test::call_service(&app, approve.to_request()).await.status(), 303);
    let r = test::call_service(&app, get("/console/guard")).await;
    let body = String::from_utf8(test::read_body(r).await.to_vec()).unwrap();
    assert!(body.contains("You approved removals") && !body.contains("Held requests"), "{body}");
    enlist.users.change(&key, &ids[11], off(), None).await.unwrap();
    // Deciding again is refused with a sentence: nothing is held.
    let again =
        test::TestRequest::post().uri("/console/guard/dismiss").cookie(cookie).set_form([("csrf", csrf.as_str())]);
    let r = test::call_service(&app, again.to_request()).await;
    assert_eq!(r.status(), 409);
    let body = String::from_utf8(test::read_body(r).await.to_vec()).unwrap();
    assert!(body.contains("holds nothing"), "{body}");
}

/// Domains, self-service: an Admin asks for the record, publishes it, and
/// the check registers the domain; before that, the check says what DNS
/// holds instead. No operator command is shown.
#[actix_web::test]
async fn an_admin_proves_a_domain_with_a_dns_record() {
    let t = enlist_diesel::testing::TestDatabase::sqlite().unwrap();
    let dns = Arc::new(enlist_core::testing::FakeDns::default());
    let mut deps = enlist_core::testing::deps(Arc::new(t.db.clone()));
    deps.dns = dns.clone();
    let enlist = Services::new(deps);
    let org = enlist
        .organizations
        .create(
            &Actor::Operator,
            NewOrganization::new("Contoso")
                .owner(Email::parse("boss@contoso.com").unwrap())
                .domain(DomainName::parse("contoso.com").unwrap()),
        )
        .await
        .unwrap();
    let op = Caller::operator(&org.id);
    let app =
        test::init_service(App::new().configure(enlist_console::configure(console_state(&t, &enlist, None)))).await;
    let link = enlist.console.link(&op, &Email::parse("boss@contoso.com").unwrap()).await.unwrap();
    let login = test::TestRequest::post().uri("/console/login").set_form([("token", link.as_str())]).to_request();
    let cookie =
        test::call_service(&app, login).await.response().cookies().find(|c| c.name() == COOKIE).unwrap().into_owned();
    let page = |r: actix_web::dev::ServiceResponse| async move {
        let status = r.status().as_u16();
        (status, String::from_utf8(test::read_body(r).await.to_vec()).unwrap())
    };
    // A new organization: every empty table says what will appear and how.
    for (uri, says) in [
        ("/console/", "No API key yet"),
        ("/console/groups", "No group yet"),
        ("/console/activity", "Nothing recorded for this selection"),
    ] {
        let get = test::TestRequest::get().uri(uri).cookie(cookie.clone()).to_request();
        let (_, body) = page(test::call_service(&app, get).await).await;
        assert!(body.contains(says), "{uri}: {body}");
    }
    let (_, body) = page(
        test::call_service(&app, test::TestRequest::get().uri("/console/domains").cookie(cookie.clone()).to_request())
            .await,
    )
    .await;
    assert!(body.contains("contoso.com") && !body.contains("enlist domain add"), "{body}");
    let csrf = body.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let post = |uri: &str, domain: &str| {
        test::TestRequest::post()
            .uri(uri)
            .cookie(cookie.clone())
            .set_form([("csrf", csrf.as_str()), ("domain", domain)])
            .to_request()
    };

    let (status, body) = page(test::call_service(&app, post("/console/domains/proof", "not a domain")).await).await;
    assert!(status == 400 && body.contains("is not a valid domain name"), "{body}");
    let (status, body) = page(test::call_service(&app, post("/console/domains/proof", "Contoso.com")).await).await;
    assert!(status == 400 && body.contains("already registered"), "{body}");
    let (status, body) = page(test::call_service(&app, post("/console/domains/proof", "Fabrikam.COM")).await).await;
    let challenge = enlist.organizations.domain_challenge(&org.id, &DomainName::parse("fabrikam.com").unwrap());
    assert_eq!(status, 200);
    assert!(body.contains("_enlist-challenge.fabrikam.com") && body.contains(&challenge.record_value), "{body}");

    let (status, body) = page(test::call_service(&app, post("/console/domains/verify", "fabrikam.com")).await).await;
    assert!(status == 400 && body.contains("no TXT record there yet"), "{body}");
    dns.publish("_enlist-challenge.fabrikam.com", "google-site-verification=abc");
    let (_, body) = page(test::call_service(&app, post("/console/domains/verify", "fabrikam.com")).await).await;
    assert!(body.contains("found instead: &quot;google-site-verification=abc&quot;"), "{body}");
    assert_eq!(enlist.organizations.find("Contoso").await.unwrap().domains.len(), 1, "nothing registered yet");
    dns.publish("_enlist-challenge.fabrikam.com", &challenge.record_value);
    let r = test::call_service(&app, post("/console/domains/verify", "fabrikam.com")).await;
    assert_eq!(r.status(), 303);
    let (_, body) = page(
        test::call_service(
            &app,
            test::TestRequest::get().uri("/console/domains?added=fabrikam.com").cookie(cookie.clone()).to_request(),
        )
        .await,
    )
    .await;
    assert!(body.contains("<strong>fabrikam.com</strong> is registered"), "{body}");
    let domains: Vec<String> =
        enlist.organizations.find("Contoso").await.unwrap().domains.iter().map(|d| d.as_str().to_owned()).collect();
    assert_eq!(domains, ["contoso.com", "fabrikam.com"]);
}
