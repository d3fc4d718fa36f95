//! `enlist org guard`: the operator tightens the deprovisioning guard, sees
//! what it holds (text and JSON), approves, and every decision is audited.

use crate::{databases, enlist, futures_lite, json_out, ok, Server};
use enlist_tests::Client;
use serde_json::json;

#[test]
fn the_operator_sets_reads_and_decides_on_the_guard() {
    for t in databases() {
        let db = t.url.as_str();
        ok(db, &["org", "create", "Contoso", "--owner", "boss@contoso.com", "--domain", "contoso.com"]);
        let out = ok(db, &["api-key", "create", "Contoso", "--label", "Entra ID provisioning"]);
        let token = out.lines().last().unwrap().to_owned();
        let set =
            json_out(db, &["org", "guard", "Contoso", "--max", "2", "--percent", "0", "--window", "30m", "--json"]);
        assert_eq!(set["settings"], json!({"enabled": true, "max": 2, "percent": 0, "windowSeconds": 1800}));
        assert_eq!((set["phase"].as_str(), set["limit"].as_u64()), (Some("counting"), Some(2)), "[{}]", t.name);

        let s = Server::start(db, &[]);
        let c = Client::new(&s.addr, Some(&format!("Bearer {token}")));
        let off = json!([{"op": "replace", "path": "active", "value": false}]);
        let mut statuses = Vec::new();
        let mut ids = Vec::new();
        for i in 0..3 {
            let r = futures_lite(c.post("/scim/v2/Users", &json!({"userName": format!("p{i}@contoso.com")})));
            let id = r.json()["id"].as_str().unwrap().to_owned();
            statuses.push(futures_lite(c.patch(&format!("/scim/v2/Users/{id}"), &off)).status);
            ids.push(id);
        }
        assert_eq!(statuses, [200, 200, 429], "[{}]", t.name);

        let shown = json_out(db, &["org", "guard", "Contoso", "--json"]);
        assert_eq!((shown["phase"].as_str(), shown["removed"].as_u64()), (Some("held"), Some(2)), "[{}]", t.name);
        assert_eq!(shown["held"][0]["email"], "p2@contoso.com");
        let (success, text, next) = enlist(db, &["org", "guard", "Contoso"]);
        assert!(success && text.contains("HOLDING removals") && text.contains("p2@contoso.com"), "[{}] {text}", t.name);
        assert!(next.contains("enlist org guard 'Contoso' approve"), "[{}] {next}", t.name);
        // A decision and new settings are separate steps.
        let (success, _, err) = enlist(db, &["org", "guard", "Contoso", "approve", "--max", "5"]);
        assert!(!success && err.contains("separately"), "[{}] {err}", t.name);
        assert!(ok(db, &["org", "guard", "Contoso", "approve"]).contains("approved 1 held removal"));
        let retry = futures_lite(c.patch(&format!("/scim/v2/Users/{}", ids[2]), &off));
        assert_eq!(retry.status, 200, "[{}] the retry applies: {}", t.name, retry.text);
        s.stop();

        let (success, _, err) = enlist(db, &["org", "guard", "Contoso", "dismiss"]);
        assert!(!success && err.contains("holds nothing"), "[{}] {err}", t.name);
        assert_eq!(json_out(db, &["org", "guard", "Contoso", "off", "--json"])["phase"], "off");
        for (args, says) in [
            (vec!["org", "guard", "Contoso", "--window", "1w"], "s, m, h or d"),
            (vec!["org", "guard", "Contoso", "--window", "10s"], "1 minute to 7 days"),
            (vec!["org", "guard", "Contoso", "--percent", "200"], "0 to 100"),
        ] {
            let (success, out, err) = enlist(db, &args);
            assert!(!success && out.is_empty() && err.contains(says), "[{}] {args:?}: {err}", t.name);
        }
        let audit = json_out(db, &["audit", "Contoso", "--json"]);
        let ops: Vec<&str> = audit.as_array().unwrap().iter().map(|r| r["operation"].as_str().unwrap()).collect();
        for op in ["configure", "hold", "approve"] {
            assert!(ops.contains(&op), "[{}] {op} in {ops:?}", t.name);
        }
    }
}
