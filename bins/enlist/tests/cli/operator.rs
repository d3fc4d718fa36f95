//! The first run and the operator commands: banner and key, organizations,
//! domains, keys, console links, health and metrics, SMTP, configuration,
//! the outbox and logs.

use super::*;

#[actix_web::test]
async fn first_run_prints_a_key_that_works_and_stops_gracefully() {
    for t in databases() {
        let s = Server::start(&t.url, &[]);
        let key = s.key.clone().unwrap_or_else(|| panic!("[{}] no 'API key:' line", t.name));
        // The trial organization has SCIM on without a domain, and says so.
        assert!(
            s.banner
                .iter()
                .any(|l| l.contains("without a registered domain") && l.contains("enlist domain add Default")),
            "[{}] {:?}",
            t.name,
            s.banner
        );
        let c = Client::new(&s.addr, Some(&format!("Bearer {key}")));
        let r = c.get("/scim/v2/Users?filter=userName+eq+%22nobody%22").await;
        assert_eq!((r.status, r.json()["totalResults"].clone()), (200, json!(0)), "[{}]", t.name);
        assert_eq!(c.post("/scim/v2/Users", &json!({"userName": "ana@contoso.com"})).await.status, 201);
        assert_eq!(c.get("/healthz").await.status, 200);
        let metrics = c.get("/metrics").await.text;
        assert!(metrics.contains("enlist_http_requests_total{route=\"/Users\",status=\"201\"} 1"), "{metrics}");
        assert!(metrics.contains("enlist_outbox_depth 1"), "{metrics}");
        assert!(metrics.contains("enlist_outbox_set_aside 0"), "{metrics}");
        assert!(metrics.contains("enlist_activity_dropped{reason=\"org_budget\"} 0"), "{metrics}");
        // A refused request is in `enlist activity`, with the error Entra got.
        let refused =
            c.post("/scim/v2/Users", &json!({"userName": "x@contoso.com", "roles": [{"value": "Owner"}]})).await;
        assert_eq!(refused.status, 400);
        let mut failed = json!([]);
        for _ in 0..100 {
            failed = json_out(&t.url, &["activity", "Default", "--failed", "--json"]);
            if failed.as_array().is_some_and(|a| !a.is_empty()) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(failed[0]["status"], 400, "[{}] {failed}", t.name);
        assert_eq!(failed[0]["detail"], refused.json()["detail"], "[{}]", t.name);
        assert_eq!(failed[0]["key"], "Default key");
        s.stop();
        // A second start finds the organization and prints no new key.
        let s = Server::start(&t.url, &[]);
        assert!(s.key.is_none(), "[{}] a key is printed only once", t.name);
        s.stop();
    }
}

#[test]
fn operator_commands() {
    for t in databases() {
        let db = t.url.as_str();
        let id = ok(db, &["org", "create", "Contoso", "--owner", "boss@contoso.com"]).trim().to_owned();
        assert!(!id.is_empty());
        let orgs = json_out(db, &["org", "list", "--json"]);
        assert_eq!(orgs[0]["name"], "Contoso");
        ok(db, &["domain", "add", "Contoso", "Contoso.COM"]);
        assert_eq!(json_out(db, &["domain", "list", &id, "--json"]), json!(["contoso.com"]));
        ok(db, &["org", "default-role", "Contoso", "guest"]);
        ok(db, &["org", "scim", "Contoso", "off"]);
        assert_eq!(json_out(db, &["org", "list", "--json"])[0]["scim_enabled"], false);
        ok(db, &["org", "scim", "Contoso", "on"]);
        // api-key create: the secret alone on the last line.
        let out = ok(db, &["api-key", "create", "Contoso", "--label", "Entra ID provisioning"]);
        let token = out.lines().last().unwrap();
        assert!(token.starts_with("enlist_"), "{out}");
        let keys = json_out(db, &["api-key", "list", "Contoso", "--json"]);
        assert_eq!(keys[0]["label"], "Entra ID provisioning");
        assert!(!keys.to_string().contains(token.split('.').nth(1).unwrap()), "never secrets");
        // Users and the owner's Admin role.
        let users =
            json_out(db, &["users", "list", "Contoso", "--json", "--filter", "userName eq \"BOSS@contoso.com\""]);
        assert_eq!(users[0]["effectiveRole"], "Admin");
        // group-role needs a group: created through the API.
        let s = Server::start(db, &[]);
        let c = Client::new(&s.addr, Some(&format!("Bearer {token}")));
        let r = futures_lite(c.post("/scim/v2/Groups", &json!({"displayName": "Staff"})));
        assert_eq!(r.status, 201);
        // The console: a link for the Admin signs in once, on the server.
        let link = ok(
            db,
            &["console-link", "Contoso", "--email", "boss@contoso.com", "--base", &format!("http://{}", s.addr)],
        );
        let path = link.trim().split(&s.addr).nth(1).unwrap().to_owned();
        let anon = Client::new(&s.addr, None);
        let r = futures_lite(anon.get(&path));
        assert_eq!(r.status, 200, "[{}] {}", t.name, r.text);
        assert!(r.header("set-cookie").is_none() && r.text.contains("Sign in to"), "[{}] {}", t.name, r.text);
        let link_token = path.split("token=").nth(1).unwrap().to_owned();
        let form = [("Content-Type", "application/x-www-form-urlencoded")];
        let sign_in = || futures_lite(anon.send("POST", "/console/login", &form, Some(&format!("token={link_token}"))));
        let r = sign_in();
        assert_eq!(r.status, 303, "[{}] {}", t.name, r.text);
        let cookie = r.header("set-cookie").unwrap_or_default().to_owned();
        assert!(
            cookie.starts_with("__Host-enlist_console=")
                && cookie.contains("HttpOnly")
                && cookie.contains("Secure")
                && cookie.contains("SameSite=Strict"),
            "{cookie}"
        );
        assert_eq!(sign_in().status, 401, "[{}] a link works once", t.name);
        let (success, _, err) = enlist(db, &["console-link", "Contoso", "--email", "nobody@contoso.com"]);
        assert!(!success && err.contains("not an active Admin"), "[{}] {err}", t.name);
        s.stop();
        ok(db, &["group-role", "set", "Contoso", "staff", "FullMember"]);
        ok(db, &["group-role", "clear", "Contoso", "Staff"]);
        let audit = json_out(db, &["audit", "Contoso", "--json"]);
        let ops: Vec<&str> = audit.as_array().unwrap().iter().map(|r| r["operation"].as_str().unwrap()).collect();
        assert!(ops.contains(&"configure") && ops.contains(&"create"), "{ops:?}");
        ok(db, &["api-key", "revoke", "Contoso", keys[0]["id"].as_str().unwrap()]);
        // Errors: non-zero exit, a sentence on stderr, nothing on stdout.
        for args in [
            vec!["org", "scim", "Nope", "on"],
            vec!["org", "create", "Contoso"],
            vec!["domain", "add", "Contoso", "not a domain"],
            vec!["org", "default-role", "Contoso", "Boss"],
            vec!["users", "list", "Contoso", "--filter", "nope eq 1"],
            vec!["audit", "Contoso", "--since", "yesterday"],
            vec!["api-key", "create", "Contoso", "--label", "a\u{1b}]52;c;ZXZpbA==\u{7}b"],
        ] {
            let (success, out, err) = enlist(db, &args);
            assert!(!success && out.is_empty() && err.starts_with("error: "), "[{}] {args:?}: {out} {err}", t.name);
        }
        // Change events replay as JSON lines, after a sequence number.
        let all = ok(db, &["events", "Contoso", "--json"]);
        let events: Vec<Value> = all.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert!(events.len() >= 3, "[{}] {all}", t.name);
        assert_eq!(events[0]["seq"], 1);
        assert_eq!(events[0]["type"], "user.created");
        assert!(events.iter().any(|e| e["type"] == "api_key.created" && e["data"]["label"] == "Entra ID provisioning"));
        let later = ok(db, &["events", "Contoso", "--json", "--after", "1"]);
        assert_eq!(later.lines().count(), events.len() - 1, "[{}]", t.name);
        assert!(!all.contains(token.split('.').nth(1).unwrap()), "never secrets");
        // SCIM needs a registered domain, and the error names the command.
        let (success, _, err) = enlist(db, &["org", "create", "Bare"]);
        assert!(success && err.contains("no registered email domain"), "[{}] {err}", t.name);
        let orgs = json_out(db, &["org", "list", "--json"]);
        let bare = orgs.as_array().unwrap().iter().find(|o| o["name"] == "Bare").unwrap();
        assert!(bare["scim_enabled"] == false && bare["scim_refusal"].is_string(), "[{}] {bare}", t.name);
        ok(db, &["org", "scim", "Bare", "off"]);
        let (success, _, err) = enlist(db, &["org", "scim", "Bare", "on"]);
        assert!(!success && err.contains("enlist domain add 'Bare'"), "[{}] {err}", t.name);
        let (success, _, err) = enlist("mysql://x/y", &["org", "list"]);
        assert!(!success && err.contains("unsupported database URL"), "{err}");
    }
}

/// `--admin-bind`: health and metrics leave the public port for their own.
#[actix_web::test]
async fn metrics_and_health_move_to_the_admin_bind() {
    let t = TestDatabase::sqlite().unwrap();
    let s = Server::start(&t.url, &["--admin-bind", "127.0.0.1:0"]);
    let admin = s
        .banner
        .iter()
        .find_map(|l| l.strip_prefix("Health and metrics: http://"))
        .and_then(|l| l.split('/').next())
        .unwrap_or_else(|| panic!("{:?}", s.banner))
        .to_owned();
    let public = Client::new(&s.addr, None);
    for path in ["/metrics", "/healthz", "/readyz"] {
        assert_eq!(public.get(path).await.status, 404, "{path} is not on the public port");
    }
    let admin = Client::new(&admin, None);
    assert_eq!(admin.get("/healthz").await.status, 200);
    assert_eq!(admin.get("/readyz").await.text, r#"{"status":"ready"}"#);
    assert!(admin.get("/metrics").await.text.contains("enlist_outbox_depth"));
    assert_eq!(admin.get("/scim/v2/Users").await.status, 404, "SCIM is not on the admin port");
    s.stop();
}

#[actix_web::test]
async fn provisioning_sends_the_notification_over_smtp() {
    let t = TestDatabase::sqlite().unwrap();
    let (port, sink) = enlist_tests::smtp_sink().await;
    let smtp = format!("smtp://127.0.0.1:{port}");
    let s = Server::start(&t.url, &["--smtp-url", &smtp, "--mail-from", "Enlist <no-reply@enlist.test>"]);
    let c = Client::new(&s.addr, Some(&format!("Bearer {}", s.key.clone().unwrap())));
    let r = c.post("/scim/v2/Users", &json!({"userName": "ana@contoso.com", "displayName": "Ana"})).await;
    assert_eq!(r.status, 201);
    let (envelope, data) =
        tokio::time::timeout(std::time::Duration::from_secs(30), sink).await.expect("mail sent within 30 s").unwrap();
    assert_eq!(envelope[1], "RCPT TO:<ana@contoso.com>");
    assert!(data.contains("Subject: You were added to Default on Enlist"), "{data}");
    assert!(data.contains("Default key added you to the organization \"Default\""), "{data}");
    s.stop();
}

#[test]
fn configuration_precedence_and_masked_print() {
    let dir = std::env::temp_dir().join(format!("enlist-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("enlist.toml");
    std::fs::write(&file, "bind = \"127.0.0.1:9999\"\npool_size = 3\nsmtp_url = \"smtp://mailer:hunter2@mail.example.com:587?tls=required\"\n").unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--print-config", "--config", file.to_str().unwrap(), "--pool-size", "5"])
        .env("ENLIST_BIND", "127.0.0.1:7777")
        .env("ENLIST_DATABASE_URL", "postgres://enlist:s3cret@db/enlist")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("bind = \"127.0.0.1:7777\""), "environment beats the file: {text}");
    assert!(text.contains("pool_size = 5"), "the flag beats the file: {text}");
    assert!(!text.contains("hunter2") && !text.contains("s3cret"), "secrets are masked: {text}");
    assert!(text.contains("smtp://mailer:***@mail.example.com"), "{text}");
    std::fs::write(&file, "nonsense = 1\n").unwrap();
    let out = Command::new(BIN).args(["serve", "--print-config", "--config", file.to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not valid"));
    // The DNS server for domain checks: an address with its port, from the
    // flag or the file; anything else refuses to start, saying the form.
    let serve = |file: &std::path::Path, flags: &[&str]| {
        Command::new(BIN)
            .args(["serve", "--print-config", "--config", file.to_str().unwrap()])
            .args(flags)
            .env_remove("ENLIST_DNS_SERVER")
            .output()
            .unwrap()
    };
    std::fs::write(&file, "dns_server = \"127.0.0.1:5353\"\n").unwrap();
    let out = serve(&file, &[]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("dns_server = \"127.0.0.1:5353\""), "{out:?}");
    for (flags, file_value) in [(&["--dns-server", "8.8.8.8"][..], "\"127.0.0.1:53\""), (&[][..], "\"resolver.lan\"")] {
        std::fs::write(&file, format!("dns_server = {file_value}\n")).unwrap();
        let out = serve(&file, flags);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains("is not an address: give IP:PORT, e.g. 127.0.0.1:53"), "{err}");
        assert!(out.stdout.is_empty(), "nothing printed as if it were in effect");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `enlist outbox`: counts, the set-aside notifications with what to do,
/// and `retry ID` putting one back in line.
#[test]
fn outbox_shows_what_was_set_aside_and_retry_requeues_it() {
    use enlist_core::ports::OutboxQueue;
    for t in databases() {
        let db = t.url.as_str();
        ok(db, &["org", "create", "Contoso", "--owner", "boss@contoso.com"]);
        let o = json_out(db, &["outbox", "--json"]);
        assert_eq!((o["pending"].as_u64(), o["set_aside"].as_u64()), (Some(1), Some(0)), "[{}] {o}", t.name);
        let now = chrono::DateTime::from_timestamp(1_900_000_000, 0).unwrap();
        let id = futures_lite(async {
            let q = t.db.due(now, 1).await.unwrap().pop().unwrap();
            t.db.set_aside(&q.notification.id, 1, now, "550 no such user").await.unwrap();
            q.notification.id
        });
        let o = json_out(db, &["outbox", "--json"]);
        assert_eq!((o["pending"].as_u64(), o["set_aside"].as_u64()), (Some(0), Some(1)), "[{}] {o}", t.name);
        assert_eq!(o["set_aside_notifications"][0]["error"], "550 no such user");
        let (success, _, err) = enlist(db, &["outbox"]);
        assert!(success && err.contains("enlist outbox retry ID"), "[{}] {err}", t.name);
        ok(db, &["outbox", "retry", &id]);
        let o = json_out(db, &["outbox", "--json"]);
        assert_eq!((o["pending"].as_u64(), o["set_aside"].as_u64()), (Some(1), Some(0)), "[{}] {o}", t.name);
        let (success, out, err) = enlist(db, &["outbox", "retry", &id]);
        assert!(!success && out.is_empty() && err.contains("`enlist outbox` lists them"), "[{}] {err}", t.name);
    }
}

/// Logs written to a file (not a terminal) carry no colour codes; a
/// provisioning-free start still logs its warning in plain text.
#[test]
fn logs_to_a_file_have_no_colour_codes() {
    let t = TestDatabase::sqlite().unwrap();
    let log = std::env::temp_dir().join(format!("enlist-log-{}.txt", std::process::id()));
    let file = std::fs::File::create(&log).unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0", "--no-trial-org"])
        .env("ENLIST_DATABASE_URL", &t.url)
        .env_remove("ENLIST_SMTP_URL")
        .stdout(Stdio::piped())
        .stderr(file)
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines {
        if line.unwrap() == "Ready." {
            break;
        }
    }
    // The mail warning comes right after Ready; give it a moment (bounded).
    let mut text = String::new();
    for _ in 0..50 {
        text = std::fs::read_to_string(&log).unwrap();
        if text.contains("mail is not configured") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert!(child.wait().unwrap().success());
    let _ = std::fs::remove_file(&log);
    assert!(text.contains("mail is not configured"), "{text}");
    assert!(!text.contains('\u{1b}'), "colour codes in a log file: {text:?}");
}
