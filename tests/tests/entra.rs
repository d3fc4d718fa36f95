//! Entra ID's flows (`entra.md` §2), over HTTP, on both backends.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use enlist_tests::{on_both, TestServer};
use serde_json::{json, Value};

const U: &str = "/scim/v2/Users";
const G: &str = "/scim/v2/Groups";
const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const ENLIST: &str = "urn:ietf:params:scim:schemas:extension:enlist:2.0:User";

fn alice(user_name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
           "externalId": "alice", "userName": user_name, "active": true, "displayName": "Alice Ng",
           "emails": [{"primary": true, "type": "work", "value": user_name}],
           "name": {"formatted": "Alice Ng", "familyName": "Ng", "givenName": "Alice"},
           "meta": {"resourceType": "User"}, "roles": []})
}

async fn create(s: &TestServer, body: Value) -> Value {
    let r = s.a().post(U, &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()
}

async fn test_connection(s: &TestServer) {
    let r = s.a().get("/scim/v2/Users?filter=userName+eq+%22a3f0c2de-6b8e-4f0e-9d55-1c2b3a4d5e6f%22").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    assert_eq!(
        r.json(),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []})
    );
    let r = s.a().get("/scim/v2/Groups?excludedAttributes=members&filter=displayName+eq+%22x%22").await;
    assert_eq!((r.status, r.json()["totalResults"].clone()), (200, json!(0)));
    // Route and parameter names in any case, unknown parameters ignored.
    let r = s.a().get("/scim/v2/users/?FILTER=userName%20eq%20%22nobody%22&aadOptscim062020").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = s.a().get("/scim/v2/Schemas").await;
    let ids: Vec<String> =
        r.json()["Resources"].as_array().unwrap().iter().map(|x| x["id"].as_str().unwrap().to_owned()).collect();
    assert!(ids.contains(&ENLIST.to_owned()) && ids.contains(&ENT.to_owned()), "{ids:?}");
    assert_eq!(s.a().get("/scim/v2/ServiceProviderConfig").await.json()["changePassword"]["supported"], false);
    assert_eq!(s.a().get("/scim/v2/ResourceTypes/User").await.json()["endpoint"], "/Users");
    assert_eq!(s.a().get("/healthz").await.status, 200);
}
on_both!(test_connection);

async fn user_lifecycle(s: &TestServer) {
    let created = create(s, alice("alice@contoso.com")).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["meta"]["resourceType"], "User");
    assert_eq!(created[ENLIST], json!({"effectiveRole": "FreeMember", "roleSource": "default"}));
    assert!(created.get("password").is_none());
    // Matching queries: userName (case-insensitive), externalId, work email.
    for f in [
        "userName+eq+%22ALICE%40contoso.com%22",
        "externalId+eq+%22alice%22",
        "emails%5Btype+eq+%22work%22%5D.value+eq+%22alice%40contoso.com%22",
    ] {
        let r = s.a().get(&format!("{U}?filter={f}")).await;
        assert_eq!(r.json()["totalResults"], 1, "{f}: {}", r.text);
    }
    // GET by id, with ETag; If-None-Match gives 304.
    let r = s.a().get(&format!("{U}/{id}")).await;
    assert_eq!(r.status, 200);
    let etag = r.header("etag").unwrap().to_owned();
    assert_eq!(etag, created["meta"]["version"].as_str().unwrap());
    let r = s.a().send("GET", &format!("{U}/{id}"), &[("If-None-Match", &etag)], None).await;
    assert_eq!(r.status, 304);
    // PATCH (legacy shapes) answers 200 with the resource.
    let r = s.a().patch(&format!("{U}/{id}"), &json!([
        {"op": "Replace", "path": "name.familyName", "value": "Ng-Smith"},
        {"op": "Replace", "path": "addresses[type eq \"work\"].formatted", "value": "18/2111"},
        {"op": "Add", "path": "phoneNumbers[type eq \"fax\"].value", "value": "5551234"},
        {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "E1042"},
        {"op": "replace", "value": {"displayName": "Alice N.", "name.givenName": "Ali", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Retail"}}
    ])).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let u = r.json();
    assert_eq!(u["name"]["familyName"], "Ng-Smith");
    assert_eq!(u["name"]["givenName"], "Ali");
    // Values exactly as sent; the response marks a primary element where
    // none was sent (Okta reads it on import).
    assert_eq!(u["addresses"], json!([{"type": "work", "formatted": "18/2111", "primary": true}]));
    assert_eq!(u["phoneNumbers"], json!([{"type": "fax", "value": "5551234", "primary": true}]));
    assert_eq!(u[ENT], json!({"employeeNumber": "E1042", "department": "Retail"}));
    assert_ne!(u["meta"]["version"], created["meta"]["version"]);
    // If-Match with the old version: 412, nothing changed.
    let r = s
        .a()
        .send(
            "PATCH",
            &format!("{U}/{id}"),
            &[("If-Match", &etag)],
            Some(&json!({"Operations": [{"op": "replace", "path": "title", "value": "x"}]}).to_string()),
        )
        .await;
    r.scim_error(412, None);
    assert!(s.a().get(&format!("{U}/{id}")).await.json().get("title").is_none());
    // Manager: string in, object out.
    let boss = create(s, json!({"userName": "joy@contoso.com", "displayName": "Joy Young"})).await;
    let boss_id = boss["id"].as_str().unwrap();
    let r = s
        .a()
        .patch(&format!("{U}/{id}"), &json!([{"op": "Add", "path": format!("{ENT}:manager"), "value": boss_id}]))
        .await;
    assert_eq!(r.json()[ENT]["manager"]["displayName"], "Joy Young", "{}", r.text);
    assert!(r.json()[ENT]["manager"]["$ref"].as_str().unwrap().ends_with(&format!("/Users/{boss_id}")));
    let q =
        s.a().get(&format!("{U}?filter=id+eq+%22{id}%22+and+manager+eq+%22{boss_id}%22&attributes=id")).await.json();
    assert_eq!(q["Resources"], json!([{"id": id, "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}]));
    // Unknown manager id: 400 invalidValue.
    let r = s.a().patch(&format!("{U}/{id}"), &json!([{"op": "Add", "path": "manager", "value": "nope"}])).await;
    assert!(r.scim_error(400, Some("invalidValue")).contains("manager 'nope'"));
    // Disable with a string boolean; still returned by GET and filters.
    let r = s.a().patch(&format!("{U}/{id}"), &json!([{"op": "Replace", "path": "active", "value": "False"}])).await;
    assert_eq!(r.json()["active"], false);
    assert_eq!(s.a().get(&format!("{U}?filter=active+eq+false")).await.json()["totalResults"], 1);
    let r = s.a().patch(&format!("{U}/{id}"), &json!([{"op": "Replace", "path": "active", "value": "True"}])).await;
    assert_eq!(r.json()["active"], true);
    // Delete: 204, then 404 everywhere; the manager reference goes with it.
    assert_eq!(s.a().delete(&format!("{U}/{boss_id}")).await.status, 204);
    assert!(s.a().get(&format!("{U}/{id}")).await.json().get(ENT).unwrap().get("manager").is_none());
    assert_eq!(s.a().delete(&format!("{U}/{id}")).await.status, 204);
    s.a().get(&format!("{U}/{id}")).await.scim_error(404, None);
    s.a().delete(&format!("{U}/{id}")).await.scim_error(404, None);
    assert_eq!(s.a().get(&format!("{U}?filter=userName+eq+%22alice%40contoso.com%22")).await.json()["totalResults"], 0);
}
on_both!(user_lifecycle);

async fn roles_in_every_shape(s: &TestServer) {
    let u = create(s, json!({"userName": "r@contoso.com", "roles": [{"primary": true, "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}]})).await;
    assert_eq!(u[ENLIST]["effectiveRole"], "Admin");
    let id = u["id"].as_str().unwrap();
    let path = format!("{U}/{id}");
    // Flag form: replace the primary role.
    let r = s
        .a()
        .patch(&path, &json!([{"op": "replace", "path": "roles[primary eq \"True\"].value", "value": "FullMember"}]))
        .await;
    assert_eq!(r.json()[ENLIST], json!({"effectiveRole": "FullMember", "roleSource": "assigned"}), "{}", r.text);
    // Legacy: stringified JSON values, added.
    let r = s.a().patch(&path, &json!([{"op": "Add", "path": "roles", "value": [{"value": "{\"id\":\"06b0\",\"value\":\"Guest\",\"displayName\":\"Guest\"}"}]}])).await;
    assert_eq!(r.json()["roles"][1], json!({"value": "Guest", "display": "Guest"}));
    // Assertive: the whole set.
    let r = s.a().patch(&path, &json!([{"op": "replace", "path": "roles", "value": [{"primary": false, "type": "WindowsAzureActiveDirectoryRole", "display": "Guest", "value": "Guest"}]}])).await;
    assert_eq!(r.json()[ENLIST]["effectiveRole"], "Guest");
    // Unknown value: 400 naming the allowed ones, nothing applied.
    let r = s.a().patch(&path, &json!([{"op": "replace", "path": "title", "value": "T"}, {"op": "Add", "path": "roles", "value": [{"value": "User"}]}])).await;
    assert!(r.scim_error(400, Some("invalidValue")).contains("Allowed values: Admin, FullMember, FreeMember, Guest"));
    assert!(s.a().get(&path).await.json().get("title").is_none());
    // Read-only extension: ignored on POST/PUT, refused in PATCH.
    let r = s
        .a()
        .patch(&path, &json!([{"op": "replace", "path": format!("{ENLIST}:effectiveRole"), "value": "Admin"}]))
        .await;
    r.scim_error(400, Some("mutability"));
}
on_both!(roles_in_every_shape);

async fn email_changes_and_passwords(s: &TestServer) {
    let u = create(s, alice("alice@contoso.com")).await;
    let path = format!("{U}/{}", u["id"].as_str().unwrap());
    let change = |to: &str| json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": to}]);
    let r = s.a().patch(&path, &change("alice.ng@contoso.com")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = s.a().patch(&path, &change("alice@northwind.com")).await;
    let d = r.scim_error(400, Some("invalidValue"));
    assert!(
        d.starts_with("Email change refused for alice.ng@contoso.com -> alice@northwind.com")
            && d.contains("(contoso.com)"),
        "{d}"
    );
    // B2B guest: created with a foreign address; its change is refused.
    let g = create(s, json!({"userName": "jo@fabrikam.com", "emails": [{"type": "work", "value": "jo@fabrikam.com"}]}))
        .await;
    let r = s.a().patch(&format!("{U}/{}", g["id"].as_str().unwrap()), &change("jo@contoso.com")).await;
    assert!(r.scim_error(400, Some("invalidValue")).contains("guest (B2B)"));
    // Password: refused in PATCH and PUT, ignored in POST.
    let r = s.a().patch(&path, &json!([{"op": "replace", "value": {"password": "Xk4!vQ9e2rLm"}}])).await;
    assert!(r.scim_error(400, Some("mutability")).contains("Sync Password"));
    let mut put = alice("alice.ng@contoso.com");
    put["password"] = json!("x");
    s.a().put(&path, &put).await.scim_error(400, Some("mutability"));
    let mut post = alice("pw@contoso.com");
    post["password"] = json!("1mz050nq");
    let created = create(s, post).await;
    assert!(created.get("password").is_none());
}
on_both!(email_changes_and_passwords);

async fn duplicates_and_last_admin(s: &TestServer) {
    create(s, alice("alice@contoso.com")).await;
    let d = s.a().post(U, &alice("ALICE@contoso.com")).await.scim_error(409, Some("uniqueness"));
    assert!(d.contains("userName"), "{d}");
    // The organization's owner is its only Admin.
    let owner =
        s.a().get(&format!("{U}?filter=userName+eq+%22admin%40contoso.com%22")).await.json()["Resources"][0].clone();
    let path = format!("{U}/{}", owner["id"].as_str().unwrap());
    let d =
        s.a().patch(&path, &json!([{"op": "Replace", "path": "active", "value": "False"}])).await.scim_error(409, None);
    assert!(d.contains("last active Admin"), "{d}");
    s.a().delete(&path).await.scim_error(409, None);
    s.a()
        .patch(&path, &json!([{"op": "replace", "path": "roles", "value": [{"value": "Guest"}]}]))
        .await
        .scim_error(409, None);
}
on_both!(duplicates_and_last_admin);

async fn group_flows(s: &TestServer) {
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(create(s, json!({"userName": format!("m{i}@contoso.com")})).await["id"].as_str().unwrap().to_owned());
    }
    let r = s.a().post(G, &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId": "8aa1", "displayName": "Sales EMEA", "meta": {"resourceType": "Group"}})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let g = r.json();
    assert_eq!(g["members"], json!([]));
    let gp = format!("{G}/{}", g["id"].as_str().unwrap());
    s.a().post(G, &json!({"displayName": "sales emea"})).await.scim_error(409, Some("uniqueness"));
    // Add a batch (and a present member): 204, no duplicate.
    let add = |v: &[&String]| json!([{"op": "Add", "path": "members", "value": v.iter().map(|i| json!({"$ref": null, "value": i})).collect::<Vec<_>>()}]);
    assert_eq!(s.a().patch(&gp, &add(&[&ids[0], &ids[1]])).await.status, 204);
    let r = s.a().patch(&gp, &add(&[&ids[1], &ids[2]])).await;
    assert_eq!((r.status, r.text.as_str()), (204, ""));
    let members = s.a().get(&gp).await.json()["members"].as_array().unwrap().len();
    assert_eq!(members, 3);
    // Query without members never returns them.
    let q = s.a().get(&format!("{G}?excludedAttributes=members&filter=displayName+eq+%22Sales+EMEA%22")).await.json();
    assert!(q["Resources"][0].get("members").is_none() && q["totalResults"] == 1, "{q}");
    let q = s
        .a()
        .get(&format!(
            "{G}?excludedAttributes=members&filter=id+eq+%22{}%22+and+members+eq+%22{}%22",
            g["id"].as_str().unwrap(),
            ids[0]
        ))
        .await
        .json();
    assert_eq!(q["totalResults"], 1);
    // Remove: value list form, then filter form.
    assert_eq!(
        s.a()
            .patch(&gp, &json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": ids[0]}]}]))
            .await
            .status,
        204
    );
    assert_eq!(
        s.a().patch(&gp, &json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", ids[1])}])).await.status,
        204
    );
    let m = s.a().get(&gp).await.json()["members"].clone();
    assert_eq!(m.as_array().unwrap().len(), 1);
    assert_eq!(m[0]["value"], json!(ids[2]));
    assert_eq!(m[0]["display"], "m2@contoso.com");
    // Unknown member: 400 naming it, nothing applied.
    let d = s.a().patch(&gp, &add(&[&ids[0], &"ghost-id".to_owned()])).await.scim_error(400, Some("invalidValue"));
    assert!(d.contains("ghost-id"), "{d}");
    assert_eq!(s.a().get(&gp).await.json()["members"].as_array().unwrap().len(), 1);
    // Rename (path and no-path forms).
    assert_eq!(
        s.a().patch(&gp, &json!([{"op": "Replace", "path": "displayName", "value": "Sales Europe"}])).await.status,
        204
    );
    assert_eq!(s.a().patch(&gp, &json!([{"op": "replace", "value": {"displayName": "Sales EU"}}])).await.status, 204);
    assert_eq!(s.a().get(&gp).await.json()["displayName"], "Sales EU");
    // Groups on the user.
    assert_eq!(s.a().get(&format!("{U}/{}", ids[2])).await.json()["groups"][0]["display"], "Sales EU");
    // Delete.
    assert_eq!(s.a().delete(&gp).await.status, 204);
    s.a().get(&gp).await.scim_error(404, None);
}
on_both!(group_flows);

async fn organizations_are_isolated_on_every_route(s: &TestServer) {
    let u = create(s, alice("alice@contoso.com")).await;
    let uid = u["id"].as_str().unwrap();
    let g = s.a().post(G, &json!({"displayName": "A group", "members": [{"value": uid}]})).await.json();
    let gid = g["id"].as_str().unwrap();
    let b = s.b();
    b.get(&format!("{U}/{uid}")).await.scim_error(404, None);
    b.get(&format!("{G}/{gid}")).await.scim_error(404, None);
    assert_eq!(b.get(&format!("{U}?filter=userName+eq+%22alice%40contoso.com%22")).await.json()["totalResults"], 0);
    let all = b.get(U).await.json();
    assert!(all["Resources"].as_array().unwrap().iter().all(|r| r["userName"] != "alice@contoso.com"), "{all}");
    assert_eq!(b.get(G).await.json()["totalResults"], 0);
    b.patch(&format!("{U}/{uid}"), &json!([{"op": "replace", "path": "title", "value": "x"}]))
        .await
        .scim_error(404, None);
    b.put(&format!("{U}/{uid}"), &alice("alice@contoso.com")).await.scim_error(404, None);
    b.delete(&format!("{U}/{uid}")).await.scim_error(404, None);
    b.patch(&format!("{G}/{gid}"), &json!([{"op": "remove", "path": "members"}])).await.scim_error(404, None);
    b.put(&format!("{G}/{gid}"), &json!({"displayName": "x"})).await.scim_error(404, None);
    b.delete(&format!("{G}/{gid}")).await.scim_error(404, None);
    // B cannot pull A's user into its own group.
    let bg = b.post(G, &json!({"displayName": "B group"})).await.json();
    b.patch(
        &format!("{G}/{}", bg["id"].as_str().unwrap()),
        &json!([{"op": "add", "path": "members", "value": [{"value": uid}]}]),
    )
    .await
    .scim_error(400, Some("invalidValue"));
    // Nor at creation, nor as a manager.
    b.post(G, &json!({"displayName": "B two", "members": [{"value": uid}]}))
        .await
        .scim_error(400, Some("invalidValue"));
    let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    b.post(U, &json!({"userName": "bob@fabrikam.com", ent: {"manager": {"value": uid}}}))
        .await
        .scim_error(400, Some("invalidValue"));
    // No filter or search, by any attribute or route, finds or counts A's.
    for filter in [
        format!("id eq \"{uid}\""),
        "userName eq \"alice@contoso.com\"".to_owned(),
        format!("groups.value eq \"{gid}\""),
        "emails.value sw \"alice\"".to_owned(),
        // An `or` of indexed terms is a union of lookups in SQL.
        "userName sw \"alice\" or displayName sw \"alice\" or emails.value eq \"alice@contoso.com\"".to_owned(),
    ] {
        let q = filter.replace(' ', "%20").replace('"', "%22");
        assert_eq!(b.get(&format!("{U}?filter={q}")).await.json()["totalResults"], 0, "{filter}");
        assert_eq!(
            b.post(&format!("{U}/.search"), &json!({"filter": filter})).await.json()["totalResults"],
            0,
            "{filter}"
        );
        assert_eq!(b.post("/scim/v2/.search", &json!({"filter": filter})).await.json()["totalResults"], 0, "{filter}");
    }
    for filter in
        [format!("id eq \"{gid}\""), "displayName eq \"A group\"".to_owned(), format!("members.value eq \"{uid}\"")]
    {
        assert_eq!(
            b.post(&format!("{G}/.search"), &json!({"filter": filter})).await.json()["totalResults"],
            0,
            "{filter}"
        );
    }
    // A still has everything.
    let a = s.a();
    assert_eq!(a.get(&format!("{U}/{uid}")).await.json()["title"], Value::Null);
    assert_eq!(a.get(&format!("{G}/{gid}")).await.json()["members"].as_array().unwrap().len(), 1);
}
on_both!(organizations_are_isolated_on_every_route);

/// RFC 7644 §3.4.3: `POST /.search` at the root searches Users and Groups
/// with one filter, one window and one total; B's resources never appear.
async fn root_search_spans_users_and_groups(s: &TestServer) {
    for n in ["ann", "bob"] {
        assert_eq!(s.a().post("/scim/v2/Users", &json!({"userName": format!("{n}@contoso.com")})).await.status, 201);
    }
    assert_eq!(s.a().post("/scim/v2/Groups", &json!({"displayName": "Sales"})).await.status, 201);
    assert_eq!(s.b().post("/scim/v2/Groups", &json!({"displayName": "Other"})).await.status, 201);
    let all = s
        .a()
        .post("/scim/v2/.search", &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}))
        .await;
    assert_eq!(all.status, 200, "{}", all.text);
    let j = all.json();
    // A's owner Admin, ann, bob, then the group.
    assert_eq!(j["totalResults"], 4, "{j}");
    let last = &j["Resources"][3];
    assert_eq!(last["displayName"], "Sales", "{j}");
    // A window across the boundary.
    let page = s.a().post("/scim/v2/.search", &json!({"startIndex": 3, "count": 2})).await.json();
    assert_eq!(page["startIndex"], 3);
    let names: Vec<String> = page["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().or(r["displayName"].as_str()).unwrap().to_owned())
        .collect();
    assert_eq!(names, ["bob@contoso.com", "Sales"], "{page}");
    // A filter only one type can take: the other contributes nothing.
    let f = s.a().post("/scim/v2/.search", &json!({"filter": "userName sw \"ann\""})).await.json();
    assert_eq!(f["totalResults"], 1, "{f}");
    let f = s.a().post("/scim/v2/.search", &json!({"filter": "displayName eq \"Sales\""})).await.json();
    assert_eq!(f["totalResults"], 1, "{f}");
    s.a()
        .post("/scim/v2/.search", &json!({"filter": "userName eq 'ann'"}))
        .await
        .scim_error(400, Some("invalidFilter"));
    assert_eq!(s.a().get("/scim/v2/.search").await.status, 405);
    let d = s.a().post("/scim/v2/.search", &json!({"cursor": ""})).await.scim_error(400, Some("invalidValue"));
    assert!(d.contains("/Users/.search"), "{d}");
}
on_both!(root_search_spans_users_and_groups);

/// Readiness: ready on a current schema; on one a migration behind it says
/// which and how to fix it, while liveness stays up (a database problem
/// must not get every replica restarted).
#[actix_web::test]
async fn readiness_names_a_schema_that_is_behind() {
    use enlist_actix::Health;
    use enlist_diesel::testing::TestDatabase;
    let health = |db: &TestDatabase| enlist::DatabaseHealth {
        db: db.db.clone(),
        consumers: Default::default(),
        services: None,
        activity: None,
    };
    let current = TestDatabase::sqlite().unwrap();
    assert_eq!(health(&current).check().await, Ok(()));
    let behind = TestDatabase::with_migrations(3, || TestDatabase::sqlite().unwrap());
    let why = health(&behind).check().await.unwrap_err();
    assert!(why.contains("not applied yet") && why.contains("enlist migrate"), "{why}");
    behind.db.migrate(|_| {}).unwrap();
    assert_eq!(health(&behind).check().await, Ok(()));
}
