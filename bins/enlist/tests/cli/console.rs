//! The console end to end in a real headless Chromium.

use super::*;

/// The console in a real headless Chromium against `enlist serve`: sign in
/// with a console link, generate a key, see a SCIM request with it refused
/// and find the refusal with its fix in Activity, revoke the key and see
/// the next SCIM request refused; a reused link, a non-admin and a forged
/// form are refused. A screenshot of each page is saved.
#[test]
fn console_end_to_end_in_chromium() {
    let Some(browser) = enlist_tests::webdriver::Browser::start() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI needs chromium and chromium-driver (.ci/run installs them)"
        );
        eprintln!(
            "SKIPPED console_end_to_end_in_chromium: no chromedriver here (apt-get install chromium chromium-driver)"
        );
        return;
    };
    let shots = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    let t = TestDatabase::sqlite().unwrap();
    let db = t.url.as_str();
    ok(db, &["org", "create", "Contoso", "--owner", "boss@contoso.com", "--domain", "contoso.com"]);
    let s = Server::start(db, &[]);
    // `localhost`, a secure context: the Secure cookie is kept over HTTP.
    let base = format!("http://localhost:{}", s.addr.rsplit(':').next().unwrap());
    let link = ok(db, &["console-link", "Contoso", "--email", "boss@contoso.com", "--base", &base]).trim().to_owned();

    browser.go(&link);
    assert!(browser.source().contains("Sign in to"), "{}", browser.source());
    browser.screenshot(&shots.join("sign-in.png"));
    browser.click("#sign-in");
    assert!(browser.shows("Generate API key"), "{}", browser.source());
    assert!(browser.text("#signed-in-as").contains("boss@contoso.com"), "{}", browser.source());
    browser.screenshot(&shots.join("integrations.png"));
    browser.type_into("#label", "Entra ID provisioning");
    browser.click("form[action='/console/keys'] button[type=submit]");
    let key = browser.text("#new-key");
    assert!(key.starts_with("enlist_"), "{key}");
    browser.screenshot(&shots.join("new-key.png"));

    // The identity provider's request with the new key is refused…
    let c = Client::new(&s.addr, Some(&format!("Bearer {key}")));
    let r =
        futures_lite(c.post("/scim/v2/Users", &json!({"userName": "x@contoso.com", "roles": [{"value": "Owner"}]})));
    assert_eq!(r.status, 400);
    // …and the admin finds it, with the fix, in Activity.
    let mut found = false;
    for _ in 0..50 {
        browser.go(&format!("{base}/console/activity?failed=1"));
        if browser.source().contains("Add the app role") {
            found = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(found, "{}", browser.source());
    browser.screenshot(&shots.join("activity.png"));
    for (page, file) in [("people", "people.png"), ("groups", "groups.png"), ("domains", "domains.png")] {
        browser.go(&format!("{base}/console/{page}"));
        assert!(!browser.source().contains("Not signed in"), "{page}");
        browser.screenshot(&shots.join(file));
    }

    // A forged form (right session, wrong CSRF token) changes nothing.
    let session = browser.cookie("__Host-enlist_console").expect("the session cookie");
    let forged = futures_lite(Client::new(&s.addr, None).send(
        "POST",
        "/console/keys",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", &format!("__Host-enlist_console={session}")),
        ],
        Some("csrf=forged&label=Evil"),
    ));
    assert_eq!(forged.status, 403);

    // Revoke (with the confirmation), and the next SCIM request is refused.
    browser.go(&format!("{base}/console/"));
    browser.click("form[action$='/revoke'] button");
    browser.accept_dialog();
    assert!(browser.shows("revoked"), "{}", browser.source());
    assert_eq!(futures_lite(c.get("/scim/v2/Users")).status, 401);

    // A reused link, and a person who is not an Admin, are refused.
    browser.go(&link);
    assert!(browser.source().contains("not valid"), "{}", browser.source());
    browser.screenshot(&shots.join("refused.png"));
    let (success, _, err) = enlist(db, &["console-link", "Contoso", "--email", "someone@contoso.com"]);
    assert!(!success && err.contains("not an active Admin"), "{err}");
    eprintln!("console screenshots: {}", shots.display());
    s.stop();
}
