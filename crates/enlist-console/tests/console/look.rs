//! The console in the host product's name, logo and colour, with the
//! organization and the signed-in Admin in the header of every page.

use super::*;

#[actix_web::test]
async fn every_page_wears_the_host_products_brand_and_names_who_is_signed_in() {
    let (t, enlist, op) = contoso().await;
    let brand =
        enlist_core::Branding::new("Acme Flow", Some("https://cdn.acme.test/logo.svg"), Some("#ffdd00")).unwrap();
    let state = web::Data::new(ConsoleState { branding: brand, ..state(&t, &enlist, None) });
    let app = test::init_service(App::new().configure(enlist_console::configure(state))).await;
    let link = enlist.console.link(&op, &Email::parse("boss@contoso.com").unwrap()).await.unwrap();
    let r =
        test::call_service(&app, test::TestRequest::get().uri(&format!("/console/login?token={link}")).to_request())
            .await;
    let csp = r.headers().get("content-security-policy").unwrap().to_str().unwrap().to_owned();
    assert!(csp.contains("img-src 'self' https://cdn.acme.test;"), "the logo's origin, and only it: {csp}");
    let sign_in = String::from_utf8(test::read_body(r).await.to_vec()).unwrap();
    assert!(sign_in.contains("<title>Sign in · Acme Flow</title>"), "{sign_in}");
    let r = test::call_service(
        &app,
        test::TestRequest::post().uri("/console/login").set_form([("token", link.as_str())]).to_request(),
    )
    .await;
    let cookie = r.response().cookies().find(|c| c.name() == COOKIE).unwrap().into_owned();
    for (uri, title) in [
        ("/console/", "Integrations"),
        ("/console/people", "People"),
        ("/console/groups", "Groups"),
        ("/console/activity", "Activity"),
        ("/console/domains", "Domains"),
        ("/console/webhooks", "Webhooks"),
        ("/console/guard", "Provisioning guard"),
    ] {
        let r = test::call_service(&app, test::TestRequest::get().uri(uri).cookie(cookie.clone()).to_request()).await;
        assert_eq!(r.status(), 200, "{uri}");
        let page = String::from_utf8(test::read_body(r).await.to_vec()).unwrap();
        assert!(page.contains(&format!("<title>{title} · Acme Flow</title>")), "{uri}: {page}");
        assert!(page.contains("<img src=\"https://cdn.acme.test/logo.svg\""), "{uri}: the logo");
        assert!(page.contains("class=\"product\">Acme Flow<"), "{uri}: the product's name");
        assert!(page.contains("class=\"org\">Contoso<") && page.contains("class=\"email\">boss@contoso.com<"), "{uri}");
        assert!(page.contains(">Sign out</button>"), "{uri}: sign-out beside them");
        assert!(page.contains(&format!("aria-current=\"page\">{title}<")), "{uri}: the current page is marked");
        assert!(page.contains("href=\"#content\"") && page.contains("<main id=\"content\">"), "{uri}: a skip link");
    }
    let css = test::call_service(&app, test::TestRequest::get().uri("/console/assets/brand.css").to_request()).await;
    assert_eq!(css.headers().get("content-type").unwrap(), "text/css");
    let css = String::from_utf8(test::read_body(css).await.to_vec()).unwrap();
    assert_eq!(css.trim(), ":root{--accent:#ffdd00;--on-accent:#111111}", "dark text on a light accent");
    // A refusal is in the product's name too.
    let r = test::call_service(&app, test::TestRequest::get().uri("/console/people").to_request()).await;
    let refused = String::from_utf8(test::read_body(r).await.to_vec()).unwrap();
    assert!(refused.contains("· Acme Flow</title>") && refused.contains("Acme Flow"), "{refused}");
}

/// Without branding the console is Enlist's, and its policy allows
/// images from itself only.
#[actix_web::test]
async fn the_default_look_is_enlists_and_fetches_nothing_elsewhere() {
    let (t, enlist, _) = contoso().await;
    let app =
        test::init_service(App::new().configure(enlist_console::configure(console_state(&t, &enlist, None)))).await;
    let r = test::call_service(&app, test::TestRequest::get().uri("/console/assets/console.css").to_request()).await;
    let csp = r.headers().get("content-security-policy").unwrap().to_str().unwrap().to_owned();
    assert!(csp.contains("img-src 'self';"), "{csp}");
    let css = String::from_utf8(test::read_body(r).await.to_vec()).unwrap();
    assert!(!css.contains("url(") && !css.contains("@import"), "the stylesheet fetches nothing");
    let r = test::call_service(&app, test::TestRequest::get().uri("/console/assets/brand.css").to_request()).await;
    let css = String::from_utf8(test::read_body(r).await.to_vec()).unwrap();
    assert_eq!(css.trim(), ":root{--accent:#0b3d91;--on-accent:#ffffff}");
}
