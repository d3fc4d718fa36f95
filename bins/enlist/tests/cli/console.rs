//! The console end to end in a real headless Chromium.

use super::*;

/// axe-core's source, installed by `npm ci` in `tests/browser` (`.ci/run`
/// does it); `None` outside CI when it is missing.
fn axe_source() -> Option<String> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser/node_modules/axe-core/axe.min.js");
    match std::fs::read_to_string(&path) {
        Ok(s) => Some(s),
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI needs axe-core: npm ci --prefix tests/browser ({e})"
            );
            eprintln!("SKIPPED the accessibility check: no {} (npm ci --prefix tests/browser)", path.display());
            None
        }
    }
}

/// Where screenshots go: `docs/console/` with ENLIST_SCREENSHOTS_TO_DOCS=1
/// (`just screenshots`), else the test's temporary folder.
fn shots_dir() -> std::path::PathBuf {
    if std::env::var("ENLIST_SCREENSHOTS_TO_DOCS").as_deref() == Ok("1") {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/console")
    } else {
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots")
    }
}

/// The console in a real headless Chromium against `enlist serve` (a test
/// DNS server for domain proofs, private webhooks allowed for a local
/// receiver): sign in with a console link; generate a key and watch its
/// health turn from waiting to healthy when the first SCIM request
/// arrives; find people by part of a name; find a refusal with its fix in
/// Activity; prove a domain with a TXT record; add a webhook endpoint,
/// send a failing then a passing test, and see the deliveries; revoke the
/// key. A reused link, a non-admin and a forged form are refused. axe-core
/// finds nothing serious or critical on any page; every page is
/// photographed with data in its tables (and People on a phone), in the
/// product's name and colour set by `[branding]`.
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
    let axe = axe_source();
    let mut violations: Vec<String> = Vec::new();
    let mut check = |page: &str| {
        if let Some(axe) = &axe {
            violations.extend(browser.accessibility_violations(axe).into_iter().map(|v| format!("{page}: {v}")));
        }
    };
    let shots = shots_dir();
    let t = TestDatabase::sqlite().unwrap();
    let db = t.url.as_str();
    ok(db, &["org", "create", "Contoso", "--owner", "boss@contoso.com", "--domain", "contoso.com"]);
    let dns = enlist_tests::dns::TestDns::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    // It refuses every request (401) until it knows the endpoint's secret.
    let receiver = rt.block_on(enlist_tests::WebhookReceiver::start(0));
    // The host product's look, from the configuration file.
    let config =
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("brand-{}.toml", std::process::id()));
    std::fs::write(&config, "[branding]\nproduct = \"Acme Flow\"\naccent = \"#0f766e\"\n").unwrap();
    let config = config.display().to_string();
    let s =
        Server::start(db, &["--dns-server", &dns.addr.to_string(), "--webhooks-allow-private", "--config", &config]);
    // `localhost`, a secure context: the Secure cookie is kept over HTTP.
    let base = format!("http://localhost:{}", s.addr.rsplit(':').next().unwrap());
    let link = ok(db, &["console-link", "Contoso", "--email", "boss@contoso.com", "--base", &base]).trim().to_owned();

    browser.go(&link);
    assert!(browser.source().contains("Sign in to"), "{}", browser.source());
    browser.screenshot(&shots.join("sign-in.png"));
    check("sign-in");
    browser.click("#sign-in");
    assert!(browser.shows("Generate API key"), "{}", browser.source());
    assert!(browser.text("#signed-in-as").contains("boss@contoso.com"), "{}", browser.source());
    assert_eq!(browser.text("header .product"), "Acme Flow", "the product's name, not Enlist's");
    let accent = browser.execute("return getComputedStyle(document.querySelector('header.top')).backgroundColor");
    assert_eq!(accent.as_str(), Some("rgb(15, 118, 110)"), "the product's colour");
    check("integrations (no key)");

    // A new key waits for the identity provider's first request, and says
    // when it arrives.
    browser.type_into("#label", "Entra ID provisioning");
    browser.click("form[action='/console/keys'] button[type=submit]");
    let key = browser.text("#new-key");
    assert!(key.starts_with("enlist_"), "{key}");
    assert!(browser.text("#first-request").contains("Waiting"), "{}", browser.source());
    browser.screenshot(&shots.join("new-key.png"));
    check("new key");
    let c = Client::new(&s.addr, Some(&format!("Bearer {key}")));
    assert_eq!(futures_lite(c.get("/scim/v2/Users?count=1")).status, 200);
    assert!(browser.shows("reached Acme Flow with this key"), "the wait ends: {}", browser.source());

    // Data for every table: people (one refused), a group, its role.
    let role = |r: &str| json!([{"value": r, "primary": true}]);
    let mut ids = Vec::new();
    for (user, given, family, r) in [
        ("joan.smith@contoso.com", "Joan", "Smith", "Admin"),
        ("peter.goldsmith@contoso.com", "Peter", "Goldsmith", "FullMember"),
        ("ana.lee@contoso.com", "Ana", "Lee", "FreeMember"),
        ("sam.ortiz@contoso.com", "Sam", "Ortiz", "Guest"),
    ] {
        let body = json!({"userName": user, "displayName": format!("{given} {family}"), "active": true,
            "name": {"givenName": given, "familyName": family}, "emails": [{"value": user, "type": "work", "primary": true}],
            "roles": role(r)});
        let created = futures_lite(c.post("/scim/v2/Users", &body));
        assert_eq!(created.status, 201, "{user}");
        ids.push(json!({"value": created.json()["id"]}));
    }
    let r =
        futures_lite(c.post("/scim/v2/Users", &json!({"userName": "x@contoso.com", "roles": [{"value": "Owner"}]})));
    assert_eq!(r.status, 400);
    let g = futures_lite(c.post("/scim/v2/Groups", &json!({"displayName": "Sales EMEA", "members": ids[1..3]})));
    assert_eq!(g.status, 201);

    browser.go(&format!("{base}/console/"));
    assert!(browser.shows("Healthy") || browser.shows("Failing"), "{}", browser.source());
    browser.screenshot(&shots.join("integrations.png"));
    check("integrations");

    // People: any part of a name.
    browser.go(&format!("{base}/console/people?q=mith"));
    let found = browser.source();
    assert!(found.contains("joan.smith@contoso.com") && found.contains("peter.goldsmith@contoso.com"), "{found}");
    assert!(!found.contains("ana.lee@contoso.com"), "{found}");
    browser.go(&format!("{base}/console/people"));
    browser.screenshot(&shots.join("people.png"));
    check("people");
    browser.resize(390, 844);
    browser.screenshot(&shots.join("people-phone.png"));
    check("people on a phone");
    browser.resize(1280, 900);

    // Activity: the refusal and its fix.
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
    check("activity");
    browser.go(&format!("{base}/console/groups"));
    assert!(browser.source().contains("Sales EMEA"));
    browser.screenshot(&shots.join("groups.png"));
    check("groups");

    // Domains: a proof against the test DNS.
    browser.go(&format!("{base}/console/domains"));
    browser.type_into("#domain", "fabrikam.com");
    browser.click("form[action='/console/domains/proof'] button[type=submit]");
    let (name, value) = (browser.text("#txt-name"), browser.text("#txt-value"));
    browser.screenshot(&shots.join("domain-proof.png"));
    check("domain proof");
    browser.click("#verify-domain");
    assert!(browser.shows("no TXT record there yet") || browser.shows("found instead"), "{}", browser.source());
    dns.publish(&name, &value);
    browser.click("#verify-domain");
    assert!(browser.shows("is registered for"), "{}", browser.source());
    assert!(browser.text("#domains").contains("fabrikam.com"), "{}", browser.source());
    browser.screenshot(&shots.join("domains.png"));
    check("domains");

    // Webhooks: add (the secret once); a test the receiver refuses (it
    // does not know the secret yet); one it accepts; the deliveries of
    // everything above, retried until they pass.
    browser.go(&format!("{base}/console/webhooks"));
    check("webhooks (none)");
    browser.type_into("#webhook-url", &receiver.url());
    browser.click("form[action='/console/webhooks'] button[type=submit]");
    let secret = browser.text("#new-secret");
    assert!(secret.starts_with("whsec_"), "{}", browser.source());
    browser.click("form[action$='/test'] button");
    assert!(browser.shows("answered HTTP 401"), "the receiver's refusal: {}", browser.source());
    *receiver.secret.lock().unwrap() = Some(secret);
    browser.click("form[action$='/test'] button");
    assert!(browser.shows("answered HTTP 204"), "{}", browser.source());
    let types = || -> Vec<String> {
        receiver.got.lock().unwrap().events.iter().map(|e| e["type"].as_str().unwrap_or("").to_owned()).collect()
    };
    for _ in 0..150 {
        if types().iter().any(|t| t.starts_with("user.")) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let got = types();
    assert!(got.iter().any(|t| t == "webhook.test") && got.iter().any(|t| t.starts_with("user.")), "{got:?}");
    let mut up_to_date = false;
    for _ in 0..150 {
        browser.go(&format!("{base}/console/webhooks"));
        if browser.source().contains("Up to date") {
            up_to_date = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(up_to_date, "{}", browser.source());
    browser.screenshot(&shots.join("webhooks.png"));
    check("webhooks");
    browser.go(&format!("{base}/console/guard"));
    browser.screenshot(&shots.join("guard.png"));
    check("provisioning guard");

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
    check("refused");
    let (success, _, err) = enlist(db, &["console-link", "Contoso", "--email", "someone@contoso.com"]);
    assert!(!success && err.contains("not an active Admin"), "{err}");
    eprintln!("console screenshots: {}", shots.display());
    assert!(violations.is_empty(), "axe-core found serious or critical problems:\n{}", violations.join("\n"));
    s.stop();
}
