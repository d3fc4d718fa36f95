//! Every PATCH body shape of `entra.md` §2.4–2.8 and `okta.md` §2.6–2.8,
//! parsed and applied to a profile, plus the refused ones.

use super::*;
use crate::resource::{user_from_json, value_json};
use enlist_core::change::apply_patch;
use enlist_core::schema::ENTERPRISE_USER;
use enlist_core::value::Complex;
use enlist_core::{Profile, UserId};
use serde_json::json;

fn alice() -> Complex {
    user_from_json(&json!({
        "userName": "alice@contoso.com", "active": true, "displayName": "Alice Ng",
        "emails": [{"primary": true, "type": "work", "value": "alice@contoso.com"}],
        "name": {"givenName": "Alice", "familyName": "Ng"},
        "phoneNumbers": [{"type": "work", "value": "+1 555 0100"}],
        "roles": [{"primary": true, "value": "FullMember"}]
    }))
    .unwrap()
    .attrs
}

/// Parses `ops` as a PATCH body, applies it to Alice, renders the result.
fn run(ops: serde_json::Value) -> Result<serde_json::Value, String> {
    let body = json!({"schemas": [PATCH_URN], "Operations": ops});
    let parsed = user_patch(&body, "u1").map_err(|e| format!("{} {}", e.scim_type.unwrap_or("-"), e.detail))?;
    let out = apply_patch(&alice(), &parsed).map_err(|e| format!("core {e}"))?;
    Profile::parse(out.clone()).map_err(|e| format!("profile {e}"))?;
    Ok(value_json(&enlist_core::value::Value::Complex(out)))
}

#[test]
fn entra_a_filtered_paths_and_dotted_sub_attributes() {
    let r = run(json!([
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "alice.ng@contoso.com"},
        {"op": "Replace", "path": "name.familyName", "value": "Ng-Smith"},
        {"op": "Replace", "path": "addresses[type eq \"work\"].formatted", "value": "18/2111"},
        {"op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "55555555555"}
    ]))
    .unwrap();
    assert_eq!(r["emails"], json!([{"primary": true, "type": "work", "value": "alice.ng@contoso.com"}]));
    assert_eq!(r["name"]["familyName"], "Ng-Smith");
    assert_eq!(r["addresses"], json!([{"type": "work", "formatted": "18/2111"}]));
    assert_eq!(
        r["phoneNumbers"],
        json!([{"type": "work", "value": "+1 555 0100"}, {"type": "mobile", "value": "55555555555"}])
    );
}

#[test]
fn entra_b_single_valued_attributes_any_op_case() {
    let r = run(json!([{"op": "Replace", "path": "userName", "value": "alice.ng@contoso.com"}, {"op": "add", "path": "nickName", "value": "Al"}])).unwrap();
    assert_eq!((r["userName"].clone(), r["nickName"].clone()), (json!("alice.ng@contoso.com"), json!("Al")));
    assert!(run(json!([{"op": "REPLACE", "path": "title", "value": "x"}])).is_ok());
}

#[test]
fn entra_c_urn_qualified_paths() {
    let r = run(json!([
        {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "E1042"},
        {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Retail"},
        {"op": "Replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:displayName", "value": "Alice N."}
    ]))
    .unwrap();
    assert_eq!(r[ENTERPRISE_USER], json!({"employeeNumber": "E1042", "department": "Retail"}));
    assert_eq!(r["displayName"], "Alice N.");
}

#[test]
fn entra_d_no_path_objects_with_dotted_and_urn_keys() {
    let r = run(json!([
        {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "alice@contoso.com"},
        {"op": "replace", "value": {"displayName": "Alice Ng", "name.givenName": "Alicia", "name.familyName": "Ng",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "E1042"}},
        {"op": "add", "value": {"name.formatted": "Alicia Ng", "title": "Buyer"}},
        {"op": "add", "value": {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"costCenter": "42"}}}
    ]))
    .unwrap();
    assert_eq!(r["name"], json!({"givenName": "Alicia", "familyName": "Ng", "formatted": "Alicia Ng"}));
    assert_eq!(r["title"], "Buyer");
    assert_eq!(r[ENTERPRISE_USER], json!({"employeeNumber": "E1042", "costCenter": "42"}));
    assert!(r.get("name.givenName").is_none(), "dotted keys are paths, never literal names");
}

#[test]
fn entra_e_filtered_path_that_matches_nothing_creates() {
    let r = run(json!([{"op": "Add", "path": "phoneNumbers[type eq \"fax\"].value", "value": "5551234"}])).unwrap();
    assert_eq!(r["phoneNumbers"][1], json!({"type": "fax", "value": "5551234"}));
    let e = run(json!([{"op": "Add", "path": "phoneNumbers[type co \"fa\"].value", "value": "1"}])).unwrap_err();
    assert!(e.starts_with("core "), "{e}");
}

#[test]
fn entra_f_booleans_as_strings_or_booleans() {
    for v in [json!("False"), json!("false"), json!(false), json!("FALSE")] {
        let r = run(json!([{"op": "Replace", "path": "active", "value": v}])).unwrap();
        assert_eq!(r["active"], false);
    }
    let r = run(json!([{"op": "replace", "value": {"active": "True"}}])).unwrap();
    assert_eq!(r["active"], true);
    let e = run(json!([{"op": "Replace", "path": "active", "value": "nope"}])).unwrap_err();
    assert!(e.starts_with("invalidValue") && e.contains("active must be true or false"), "{e}");
}

#[test]
fn entra_g_manager_string_array_and_object_forms() {
    let id = "2c2f6fb8-254f-492e-b7fe-c09c5a61c8a2";
    for op in [
        json!({"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": id}),
        json!({"op": "Add", "path": "manager", "value": [{"$ref": format!("https://host/scim/v2/Users/{id}"), "value": id}]}),
        json!({"op": "replace", "path": "manager", "value": {"value": id}}),
        json!({"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.manager", "value": {"Value": id}}),
    ] {
        let r = run(json!([op])).unwrap();
        assert_eq!(r[ENTERPRISE_USER]["manager"]["value"], id, "{op}");
    }
}

#[test]
fn entra_h_clearing_with_empty_null_and_remove() {
    let set = json!([
        {"op": "add", "path": "title", "value": "Buyer"},
        {"op": "add", "path": "manager", "value": "m1"}
    ]);
    assert!(run(set.clone()).is_ok());
    let r = run(json!([
        {"op": "add", "path": "title", "value": "Buyer"},
        {"op": "add", "path": "manager", "value": "m1"},
        {"op": "Replace", "path": "title", "value": ""},
        {"op": "Replace", "path": "phoneNumbers[type eq \"work\"].value", "value": null},
        {"op": "Remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}
    ]))
    .unwrap();
    assert!(r.get("title").is_none() && r.get("phoneNumbers").is_none() && r.get(ENTERPRISE_USER).is_none(), "{r}");
    for clear in [json!(""), json!(null), json!({"value": ""})] {
        let r = run(json!([{"op": "add", "path": "manager", "value": "m1"}, {"op": "Replace", "path": "manager", "value": clear}])).unwrap();
        assert!(r.get(ENTERPRISE_USER).is_none(), "{clear}: {r}");
    }
    let e = run(json!([{"op": "Replace", "path": "userName", "value": ""}])).unwrap_err();
    assert!(e.contains("userName is required"), "{e}");
}

#[test]
fn entra_roles_every_shape() {
    // SingleAppRoleAssignment, legacy: stringified JSON in value.
    let r = run(json!([{"op": "Add", "path": "roles", "value": [
        {"value": "{\"id\":\"06b07648\",\"value\":\"Admin\",\"displayName\":\"Admin role\"}"}
    ]}]))
    .unwrap();
    assert_eq!(
        r["roles"],
        json!([{"primary": true, "value": "FullMember"}, {"value": "Admin", "display": "Admin role"}])
    );
    // The flag form replaces the primary role's value.
    let r = run(json!([{"op": "replace", "path": "roles[primary eq \"True\"].value", "value": "Guest"}])).unwrap();
    assert_eq!(r["roles"], json!([{"primary": true, "value": "Guest"}]));
    // Assertive: replace the whole set, display and Entra's displayName kept.
    let r = run(json!([{"op": "replace", "path": "roles", "value": [
        {"primary": false, "type": "WindowsAzureActiveDirectoryRole", "display": "Full member", "value": "FullMember"},
        {"primary": false, "type": "WindowsAzureActiveDirectoryRole", "displayName": "Guest", "value": "Guest"}
    ]}]))
    .unwrap();
    assert_eq!(
        r["roles"][1],
        json!({"primary": false, "type": "WindowsAzureActiveDirectoryRole", "displayName": "Guest", "value": "Guest"})
    );
    let e = run(json!([{"op": "Add", "path": "roles", "value": [{"value": "User"}]}])).unwrap_err();
    assert!(e.contains("Unknown role 'User'"), "{e}");
}

#[test]
fn okta_deactivation_and_password_forms() {
    let r = run(json!([{"op": "replace", "value": {"active": false}}])).unwrap();
    assert_eq!(r["active"], false);
    for ops in [
        json!([{"op": "replace", "value": {"password": "Xk4!vQ9e2rLm"}}]),
        json!([{"op": "replace", "path": "password", "value": "Xk4!vQ9e2rLm"}]),
    ] {
        let e = run(ops).unwrap_err();
        assert!(e.starts_with("core ") && e.contains("does not accept passwords"), "{e}");
    }
}

#[test]
fn unknown_attributes_and_stray_keys_are_ignored() {
    let r = run(json!([
        {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:CustomExt:2.0:User:costCode", "value": "x", "extra": 1},
        {"op": "replace", "value": {"nope": 1, "meta": {}, "id": "u1", "schemas": []}}
    ]))
    .unwrap();
    assert_eq!(value_json(&enlist_core::value::Value::Complex(alice())), r);
}

#[test]
fn refused_bodies() {
    let cases = [
        (json!({}), "invalidSyntax", "Operations"),
        (
            json!({"Operations": [{"op": "move", "path": "title"}]}),
            "invalidSyntax",
            "op must be add, replace or remove",
        ),
        (json!({"Operations": [{"op": "remove"}]}), "noTarget", "remove needs a path"),
        (json!({"Operations": [{"op": "add", "value": "x"}]}), "invalidSyntax", "without a path"),
        (json!({"Operations": [{"op": "add", "path": "emails[type eq", "value": "x"}]}), "invalidPath", "operation 1"),
        (
            json!({"Operations": [{"op": "add", "path": "title", "value": "a"}, {"op": "add", "path": "name", "value": 3}]}),
            "invalidValue",
            "operation 2: name must be an object",
        ),
        (
            json!({"Operations": [{"op": "replace", "value": {"id": "other"}}]}),
            "mutability",
            "id is assigned by Enlist",
        ),
        (json!([]), "invalidSyntax", "JSON object"),
    ];
    for (body, kind, words) in cases {
        let e = user_patch(&body, "u1").expect_err(&body.to_string());
        assert_eq!(e.scim_type, Some(kind), "{body}: {e}");
        assert!(e.detail.contains(words), "{body}: {e}");
    }
}

fn ids(v: &[&str]) -> Vec<UserId> {
    v.iter().map(|s| UserId::new(*s)).collect()
}

#[test]
fn group_patches_from_entra_and_okta() {
    let g = |ops: serde_json::Value| group_patch(&json!({"schemas": [PATCH_URN], "Operations": ops}), "g1");
    assert_eq!(
        g(json!([{"op": "Replace", "path": "displayName", "value": "Sales Europe"}])).unwrap(),
        vec![GroupChange::DisplayName(enlist_core::DisplayName::parse("Sales Europe").unwrap())]
    );
    assert_eq!(
        g(json!([{"op": "replace", "value": {"displayName": "Sales Europe"}}])).unwrap(),
        vec![GroupChange::DisplayName(enlist_core::DisplayName::parse("Sales Europe").unwrap())]
    );
    assert_eq!(
        g(json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": "a"}, {"$ref": null, "value": "b"}]}])).unwrap(),
        vec![GroupChange::AddMembers(ids(&["a", "b"]))]
    );
    assert_eq!(
        g(json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": "a"}]}])).unwrap(),
        vec![GroupChange::RemoveMembers(ids(&["a"]))]
    );
    assert_eq!(
        g(json!([{"op": "remove", "path": "members[value eq \"a\"]"}])).unwrap(),
        vec![GroupChange::RemoveMembers(ids(&["a"]))]
    );
    assert_eq!(g(json!([{"op": "remove", "path": "members"}])).unwrap(), vec![GroupChange::ClearMembers]);
    // Okta: filtered remove then add, in order; members carry display.
    assert_eq!(
        g(json!([
            {"op": "remove", "path": "members[value eq \"89bb\"]"},
            {"op": "add", "path": "members", "value": [{"value": "23a3", "display": "test.user@okta.local"}]}
        ]))
        .unwrap(),
        vec![GroupChange::RemoveMembers(ids(&["89bb"])), GroupChange::AddMembers(ids(&["23a3"]))]
    );
    // Okta's name replace with id: same id is nothing; the name is a rename step.
    assert_eq!(
        g(json!([{"op": "replace", "value": {"id": "g1", "displayName": "Test SCIMv2"}}])).unwrap(),
        vec![GroupChange::DisplayName(enlist_core::DisplayName::parse("Test SCIMv2").unwrap())]
    );
    assert_eq!(g(json!([{"op": "replace", "value": {"id": "g2"}}])).unwrap_err().scim_type, Some("mutability"));
    // Full push and empty push.
    assert_eq!(
        g(json!([{"op": "replace", "path": "members", "value": [{"value": "a"}]}])).unwrap(),
        vec![GroupChange::ReplaceMembers(ids(&["a"]))]
    );
    assert_eq!(
        g(json!([{"op": "replace", "path": "members", "value": []}])).unwrap(),
        vec![GroupChange::ReplaceMembers(vec![])]
    );
    // Refusals.
    assert_eq!(
        g(json!([{"op": "replace", "path": "displayName", "value": ""}])).unwrap_err().scim_type,
        Some("invalidValue")
    );
    assert_eq!(
        g(json!([{"op": "add", "path": "members", "value": [{"display": "x"}]}])).unwrap_err().scim_type,
        Some("invalidValue")
    );
    assert_eq!(
        g(json!([{"op": "add", "path": "members", "value": [{"value": "x", "type": "Group"}]}])).unwrap_err().scim_type,
        Some("invalidValue")
    );
    assert_eq!(
        g(json!([{"op": "remove", "path": "members[display eq \"x\"]"}])).unwrap_err().scim_type,
        Some("invalidPath")
    );
    // Unknown attributes are ignored.
    assert_eq!(g(json!([{"op": "add", "path": "urn:x:custom", "value": 1}])).unwrap(), vec![]);
}

#[test]
fn one_bad_operation_refuses_the_whole_patch() {
    let body = json!({"Operations": [
        {"op": "replace", "path": "title", "value": "ok"},
        {"op": "replace", "path": "active", "value": "maybe"}
    ]});
    assert!(user_patch(&body, "u1").is_err());
    let core_refusal = run(
        json!([{"op": "replace", "path": "title", "value": "ok"}, {"op": "replace", "path": "password", "value": "x"}]),
    );
    assert!(core_refusal.is_err());
}

/// Issue 10 #16: a path naming the whole Enterprise extension, with an
/// object value: add and replace set its attributes, remove clears it.
#[test]
fn a_path_naming_the_enterprise_extension_adds_replaces_and_removes_it() {
    let urn = ENTERPRISE_USER;
    for op in ["add", "replace", "Replace"] {
        let j =
            run(json!([{"op": op, "path": urn, "value": {"department": "Retail", "employeeNumber": "7"}}])).unwrap();
        assert_eq!(j[urn]["department"], "Retail", "{op}: {j}");
        assert_eq!(j[urn]["employeeNumber"], "7", "{op}: {j}");
    }
    let j = run(json!([
        {"op": "add", "path": urn, "value": {"department": "Retail"}},
        {"op": "remove", "path": urn}
    ]))
    .unwrap();
    assert!(j.get(urn).is_none_or(|e| e.as_object().is_some_and(|o| o.is_empty())), "removed: {j}");
    let e = run(json!([{"op": "add", "path": urn, "value": "Retail"}])).unwrap_err();
    assert!(e.starts_with("invalidValue"), "{e}");
}
