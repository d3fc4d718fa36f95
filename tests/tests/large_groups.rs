//! A group larger than one read of members (1,000) comes back whole, as
//! valid JSON, streamed (chunked) rather than built in memory: by id, in a
//! list (Okta's import) and through projection, on both backends.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use enlist_core::change::GroupChange;
use enlist_core::service::{NewGroup, NewUser};
use enlist_core::value::{Complex, Value};
use enlist_core::{Actor, Caller, DisplayName, UserId};
use enlist_tests::{on_both, TestServer};

const G: &str = "/scim/v2/Groups";
const MEMBERS: usize = 2_345;

async fn a_group_of_thousands_is_streamed_whole(s: &TestServer) {
    let op = Caller { organization_id: s.org_a.clone(), actor: Actor::Operator };
    let mut ids: Vec<UserId> = Vec::new();
    for i in 0..MEMBERS {
        let attrs = Complex::from([("userName".to_owned(), Value::String(format!("p{i}@contoso.com")))]);
        ids.push(s.enlist.users.create(&op, NewUser { attrs, password: false }).await.unwrap().user.id);
    }
    let new = NewGroup { display_name: DisplayName::parse("Everyone").unwrap(), external_id: None, members: vec![] };
    let g = s.enlist.groups.create(&op, new).await.unwrap().group;
    for chunk in ids.chunks(500) {
        s.enlist.groups.change(&op, &g.id, vec![GroupChange::AddMembers(chunk.to_vec())], None).await.unwrap();
    }
    let mut want: Vec<String> = ids.iter().map(|i| i.as_str().to_owned()).collect();
    want.sort();
    let values = |j: &serde_json::Value| -> Vec<String> {
        let mut v: Vec<String> =
            j["members"].as_array().unwrap().iter().map(|m| m["value"].as_str().unwrap().to_owned()).collect();
        v.sort();
        v
    };

    let r = s.a().get(&format!("{G}/{}", g.id)).await;
    assert_eq!(r.status, 200, "{}", &r.text[..r.text.len().min(300)]);
    assert_eq!(r.header("transfer-encoding"), Some("chunked"), "[{:?}] streamed", s.backend);
    assert!(r.header("etag").is_some());
    let j = r.json();
    assert_eq!(values(&j), want, "[{:?}] every member, once", s.backend);
    assert_eq!(j["displayName"], "Everyone");
    assert_eq!(j["members"][0]["type"], "User");
    assert!(j["members"][0]["$ref"].as_str().unwrap().contains("/Users/"));

    // A list, as Okta's import reads it, with a second (empty) group.
    let new = NewGroup { display_name: DisplayName::parse("Nobody").unwrap(), external_id: None, members: vec![] };
    s.enlist.groups.create(&op, new).await.unwrap();
    let l = s.a().get(G).await.json();
    assert_eq!(l["totalResults"], 2);
    assert_eq!(l["itemsPerPage"], 2);
    let everyone = l["Resources"].as_array().unwrap().iter().find(|g| g["displayName"] == "Everyone").unwrap();
    assert_eq!(values(everyone), want);
    let nobody = l["Resources"].as_array().unwrap().iter().find(|g| g["displayName"] == "Nobody").unwrap();
    assert!(nobody["members"].as_array().is_none_or(Vec::is_empty), "{nobody}");

    // Projection applies to the streamed members too.
    let p = s.a().get(&format!("{G}/{}?attributes=members.value", g.id)).await.json();
    assert_eq!(values(&p), want);
    assert!(p["members"][0].get("display").is_none() && p["members"][0].get("$ref").is_none(), "{}", p["members"][0]);
    let x = s.a().get(&format!("{G}/{}?excludedAttributes=members", g.id)).await;
    assert!(x.header("transfer-encoding").is_none() && x.json().get("members").is_none());
}
on_both!(a_group_of_thousands_is_streamed_whole);
