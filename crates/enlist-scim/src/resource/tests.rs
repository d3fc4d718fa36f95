//! Resource JSON in and out.

use super::*;
use enlist_core::model::{Group, MemberRef, User};
use enlist_core::schema::{ENLIST_USER, ENTERPRISE_USER, GROUP, USER, USER_RESOURCE};
use enlist_core::service::{GroupView, UserView};
use enlist_core::value::Value;
use enlist_core::{AccountId, GroupId, OrganizationId, Profile, Role, RoleSource, UserId};
use serde_json::json;

fn at() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-11-29T12:00:00Z").unwrap().with_timezone(&chrono::Utc)
}

#[test]
fn post_bodies_are_canonicalised_coerced_and_filtered() {
    let input = user_from_json(&json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "urn:bogus"],
        "UserName": "alice@contoso.com", "ACTIVE": "True", "externalId": "alice",
        "emails": [{"Primary": true, "Type": "work", "Value": "Alice@Contoso.com", "bogus": 1}],
        "name": {"formatted": "Alice Ng", "familyName": "Ng", "givenName": "Alice"},
        "addresses": null, "meta": {"resourceType": "User"}, "id": "client-id", "groups": [{"value": "g"}],
        "roles": [], "password": "1mz050nq", "unknownAttr": 5,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"Department": "Retail", "manager": {"value": "m1", "displayName": "ignored"}},
        "urn:ietf:params:scim:schemas:extension:enlist:2.0:User": {"effectiveRole": "Admin"},
        "urn:ietf:params:scim:schemas:extension:Custom:2.0:User:costCode": "x"
    }))
    .unwrap();
    assert!(input.password);
    let got = value_json(&Value::Complex(input.attrs));
    assert_eq!(
        got,
        json!({
            "userName": "alice@contoso.com", "active": true, "externalId": "alice",
            "emails": [{"primary": true, "type": "work", "value": "Alice@Contoso.com"}],
            "name": {"formatted": "Alice Ng", "familyName": "Ng", "givenName": "Alice"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Retail", "manager": {"value": "m1"}}
        })
    );
}

#[test]
fn wrong_types_name_the_attribute() {
    for (body, words) in [
        (json!({"userName": "a", "active": "yes"}), "active must be true or false"),
        (json!({"userName": "a", "name": "Alice"}), "name must be an object"),
        (json!({"userName": {"x": 1}}), "userName must be a string"),
        (json!({"userName": "a", "emails": [{"value": ["x"]}]}), "emails.value must be a string"),
        // Numbers and booleans are not turned into text (issue 10 #17).
        (json!({"userName": 123}), "userName must be a string"),
        (json!({"userName": "a", "title": true}), "title must be a string"),
        (
            json!({"userName": "a", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": 1042}}),
            "employeeNumber must be a string",
        ),
    ] {
        let e = user_from_json(&body).unwrap_err();
        assert_eq!(e.scim_type, Some("invalidValue"), "{body}");
        assert!(e.detail.contains(words), "{body}: {}", e.detail);
    }
    assert_eq!(user_from_json(&json!("x")).unwrap_err().scim_type, Some("invalidSyntax"));
}

fn view() -> UserView {
    let attrs = user_from_json(&json!({
        "userName": "alice@contoso.com", "displayName": "Alice",
        "emails": [{"primary": true, "type": "work", "value": "alice@contoso.com"}],
        "name": {"givenName": "Alice", "familyName": "Ng"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": "m1", "department": "Retail"}
    }))
    .unwrap()
    .attrs;
    UserView {
        user: User {
            id: UserId::new("u1"),
            organization_id: OrganizationId::new("o"),
            account_id: AccountId::new("a"),
            profile: Profile::parse(attrs).unwrap(),
            effective_role: Role::FreeMember,
            role_source: RoleSource::Default,
            created_at: at(),
            updated_at: at(),
            version: 7,
        },
        groups: Some(vec![enlist_core::GroupRef { id: GroupId::new("g1"), display_name: "Sales".into() }]),
        manager_display: Some("Joy Young".into()),
    }
}

#[test]
fn users_render_with_meta_manager_groups_and_the_enlist_extension() {
    let j = user_json(&view(), "https://h/scim/v2");
    assert_eq!(j["id"], "u1");
    assert_eq!(j["active"], true);
    assert_eq!(
        j["meta"],
        json!({"resourceType": "User", "created": "2026-11-29T12:00:00.000Z", "lastModified": "2026-11-29T12:00:00.000Z", "location": "https://h/scim/v2/Users/u1", "version": "W/\"7\""})
    );
    assert_eq!(
        j[ENTERPRISE_USER]["manager"],
        json!({"value": "m1", "$ref": "https://h/scim/v2/Users/m1", "displayName": "Joy Young"})
    );
    assert_eq!(
        j["groups"],
        json!([{"value": "g1", "$ref": "https://h/scim/v2/Groups/g1", "display": "Sales", "type": "direct"}])
    );
    assert_eq!(j[ENLIST_USER], json!({"effectiveRole": "FreeMember", "roleSource": "default"}));
    assert_eq!(j["schemas"], json!([USER, ENTERPRISE_USER, ENLIST_USER]));
}

#[test]
fn projection_follows_returned_rules() {
    let base = "https://h/scim/v2";
    let mut j = user_json(&view(), base);
    Projection::parse(&USER_RESOURCE, Some("id"), None).apply(&USER_RESOURCE, &mut j);
    assert_eq!(j, json!({"id": "u1", "schemas": [USER]}));

    let mut j = user_json(&view(), base);
    Projection::parse(
        &USER_RESOURCE,
        Some("userName,name.familyName,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"),
        None,
    )
    .apply(&USER_RESOURCE, &mut j);
    assert_eq!(
        j,
        json!({"id": "u1", "userName": "alice@contoso.com", "name": {"familyName": "Ng"}, ENTERPRISE_USER: {"department": "Retail"}, "schemas": [USER, ENTERPRISE_USER]})
    );

    let mut j = user_json(&view(), base);
    Projection::parse(&USER_RESOURCE, None, Some("emails,meta,id,name.givenName,groups")).apply(&USER_RESOURCE, &mut j);
    assert!(j.get("emails").is_none() && j.get("meta").is_none() && j.get("groups").is_none());
    assert_eq!(j["id"], "u1", "id is always returned");
    assert_eq!(j["name"], json!({"familyName": "Ng"}));
    assert!(!Projection::parse(&USER_RESOURCE, None, Some("groups")).wants(&USER_RESOURCE, "groups"));
    assert!(Projection::parse(&USER_RESOURCE, Some("groups.display"), None).wants(&USER_RESOURCE, "groups"));
}

#[test]
fn groups_render_members_only_when_read() {
    let g = Group {
        id: GroupId::new("g1"),
        organization_id: OrganizationId::new("o"),
        display_name: enlist_core::DisplayName::parse("Sales EMEA").unwrap(),
        external_id: Some("8aa1".into()),
        role: None,
        created_at: at(),
        updated_at: at(),
        version: 2,
    };
    let with = group_json(
        &GroupView {
            group: g.clone(),
            members: Some(vec![MemberRef { id: UserId::new("u1"), user_name: "a@x.com".into() }]),
        },
        "b",
    );
    assert_eq!(with["members"], json!([{"value": "u1", "$ref": "b/Users/u1", "display": "a@x.com", "type": "User"}]));
    let without = group_json(&GroupView { group: g, members: None }, "b");
    assert!(without.get("members").is_none());
    let input = group_from_json(&json!({"schemas": [GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"], "DisplayName": "Sales", "externalId": "8aa1", "meta": {}, "members": [{"value": "u1", "display": "ignored"}]})).unwrap();
    assert_eq!(
        input,
        GroupInput {
            display_name: enlist_core::DisplayName::parse("Sales").unwrap(),
            external_id: Some("8aa1".into()),
            members: Some(vec![UserId::new("u1")])
        }
    );
}

#[test]
fn etags_round_trip() {
    assert_eq!(parse_etag(&etag(42)), Some(42));
    assert_eq!(parse_etag("\"42\""), Some(42));
    assert_eq!(parse_etag("W/\"x\""), None);
}

#[test]
fn keys_with_multibyte_characters_are_ignored_not_a_panic() {
    // Found by `cargo fuzz run patch`: byte-slicing a key at 4 panicked.
    let input = user_from_json(&json!({"userName": "a@x.com", "urnƞetf:params:scim:x": 1, "ƞƞ": 2})).unwrap();
    assert_eq!(input.attrs.len(), 1);
}

#[test]
fn responses_mark_a_primary_element_without_changing_what_is_stored() {
    let attrs = user_from_json(&json!({
        "userName": "ana@contoso.com",
        "emails": [{"type": "home", "value": "ana@home.example"}, {"type": "work", "value": "Ana@Contoso.com"}],
        "phoneNumbers": [{"type": "mobile", "value": "1"}, {"type": "work", "value": "2"}],
        "addresses": [{"type": "home", "formatted": "x"}]
    }))
    .unwrap()
    .attrs;
    let mut v = view();
    v.user.profile = Profile::parse(attrs.clone()).unwrap();
    let j = user_json(&v, "b");
    assert_eq!(j["emails"][1]["primary"], true, "the account email (work) is marked");
    assert!(j["emails"][0].get("primary").is_none());
    assert_eq!(j["phoneNumbers"][1]["primary"], true);
    assert_eq!(j["addresses"][0]["primary"], true);
    for k in ["emails", "phoneNumbers", "addresses"] {
        assert_eq!(v.user.profile.attrs().get(k), attrs.get(k), "stored {k} unchanged");
    }
    // Reading the response back as a PUT keeps the same account email.
    let again = user_from_json(&j).unwrap();
    assert_eq!(Profile::parse(again.attrs).unwrap().email().as_str(), "Ana@Contoso.com");
}

#[test]
fn a_password_is_seen_under_every_name_it_can_have() {
    for body in [
        json!({"userName": "a", "password": "x"}),
        json!({"userName": "a", "PASSWORD": "x"}),
        json!({"userName": "a", "urn:ietf:params:scim:schemas:core:2.0:User:password": "x"}),
        json!({"userName": "a", "urn:ietf:params:scim:schemas:core:2.0:User": {"password": "x"}}),
    ] {
        let input = user_from_json(&body).unwrap();
        assert!(input.password, "{body}");
        assert!(!input.attrs.contains_key("password"), "{body}: never kept");
    }
    assert!(!user_from_json(&json!({"userName": "a", "password": null})).unwrap().password);
    assert!(!user_from_json(&json!({"userName": "a", "urn:x:password": "x"})).unwrap().password, "another schema's");
}

#[test]
fn an_explicit_primary_false_is_returned_as_sent() {
    let attrs = user_from_json(&json!({
        "userName": "ana@contoso.com",
        "phoneNumbers": [{"type": "work", "value": "2", "primary": false}],
        "addresses": [{"type": "work", "formatted": "x", "primary": false}],
        "emails": [{"type": "work", "value": "ana@contoso.com", "primary": false}]
    }))
    .unwrap()
    .attrs;
    let mut v = view();
    v.user.profile = Profile::parse(attrs).unwrap();
    let j = user_json(&v, "b");
    for k in ["phoneNumbers", "addresses", "emails"] {
        assert_eq!(j[k][0]["primary"], false, "{k}: {j}");
    }
}
