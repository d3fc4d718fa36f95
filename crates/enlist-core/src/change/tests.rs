//! Tests of PATCH application: every path shape, bounds, untouched input on failure.

use super::*;
use crate::query::{CompareOp, Filter};
use crate::schema::{ENTERPRISE_USER, USER_RESOURCE};

fn s(v: &str) -> Value {
    Value::String(v.into())
}
fn obj(pairs: &[(&str, Value)]) -> Value {
    Value::Complex(pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect())
}
fn p(urn: Option<&str>, attr: &str, sub: Option<&str>) -> AttrPath {
    USER_RESOURCE.resolve(urn, attr, sub).unwrap()
}
fn eq(attr: &str, sub: &str, lit: Literal) -> Filter {
    Filter::Compare { path: p(None, attr, Some(sub)), op: CompareOp::Eq, value: lit }
}
fn op(kind: PatchKind, target: AttrPath, filter: Option<Filter>, value: Option<Value>) -> PatchOp {
    PatchOp { kind, path: PatchPath { target, filter }, value }
}
fn base() -> Complex {
    let mut a = Complex::new();
    a.insert("userName".into(), s("alice@contoso.com"));
    a.insert(
        "emails".into(),
        Value::Multi(vec![
            obj(&[("type", s("work")), ("value", s("alice@contoso.com")), ("primary", Value::Bool(true))]),
            obj(&[("type", s("other")), ("value", s("al@contoso.com"))]),
        ]),
    );
    a.insert("name".into(), obj(&[("givenName", s("Alice")), ("familyName", s("Ng"))]));
    a
}
fn work(lit: &str) -> Filter {
    eq("emails", "type", Literal::String(lit.into()))
}

#[test]
fn filtered_sub_attribute_replace_changes_only_the_matching_element() {
    let out = apply_patch(
        &base(),
        &[op(PatchKind::Replace, p(None, "emails", Some("value")), Some(work("WORK")), Some(s("a.ng@contoso.com")))],
    )
    .unwrap();
    let emails = out["emails"].elements();
    assert_eq!(emails[0].as_complex().unwrap()["value"], s("a.ng@contoso.com"));
    assert_eq!(emails[1].as_complex().unwrap()["value"], s("al@contoso.com"));
}

#[test]
fn add_on_a_filter_that_matches_nothing_creates_the_element_from_eq_terms() {
    let fax = eq("phoneNumbers", "type", Literal::String("fax".into()));
    let out = apply_patch(
        &base(),
        &[op(PatchKind::Add, p(None, "phoneNumbers", Some("value")), Some(fax), Some(s("5551234")))],
    )
    .unwrap();
    assert_eq!(out["phoneNumbers"], Value::Multi(vec![obj(&[("type", s("fax")), ("value", s("5551234"))])]));
    // The flag form of a role: roles[primary eq true].value.
    let primary = eq("roles", "primary", Literal::Bool(true));
    let out = apply_patch(
        &base(),
        &[op(PatchKind::Replace, p(None, "roles", Some("value")), Some(primary), Some(s("FullMember")))],
    )
    .unwrap();
    assert_eq!(out["roles"], Value::Multi(vec![obj(&[("primary", Value::Bool(true)), ("value", s("FullMember"))])]));
}

#[test]
fn a_filter_that_is_not_eq_terms_cannot_create() {
    let f = Filter::Compare {
        path: p(None, "phoneNumbers", Some("type")),
        op: CompareOp::Co,
        value: Literal::String("x".into()),
    };
    let err =
        apply_patch(&base(), &[op(PatchKind::Replace, p(None, "phoneNumbers", Some("value")), Some(f), Some(s("1")))])
            .unwrap_err();
    assert!(matches!(err, Error::NoTarget { .. }), "{err:?}");
}

#[test]
fn clearing_value_in_a_filtered_element_removes_the_element() {
    for value in [None, Some(s(""))] {
        let kind = if value.is_none() { PatchKind::Remove } else { PatchKind::Replace };
        let out =
            apply_patch(&base(), &[op(kind, p(None, "emails", Some("value")), Some(work("other")), value)]).unwrap();
        assert_eq!(out["emails"].elements().len(), 1);
    }
    // Clearing what is absent is a no-op.
    let out =
        apply_patch(&base(), &[op(PatchKind::Remove, p(None, "phoneNumbers", None), Some(work("fax")), None)]).unwrap();
    assert_eq!(out, base());
}

#[test]
fn dotted_sub_attributes_set_and_clear() {
    let out =
        apply_patch(&base(), &[op(PatchKind::Replace, p(None, "name", Some("familyName")), None, Some(s("Ng-Smith")))])
            .unwrap();
    assert_eq!(out["name"], obj(&[("givenName", s("Alice")), ("familyName", s("Ng-Smith"))]));
    let out = apply_patch(
        &base(),
        &[
            op(PatchKind::Remove, p(None, "name", Some("familyName")), None, None),
            op(PatchKind::Replace, p(None, "name", Some("givenName")), None, Some(s(""))),
        ],
    )
    .unwrap();
    assert!(!out.contains_key("name"), "an emptied complex attribute is absent");
}

#[test]
fn extension_attributes_nest_under_their_urn_and_manager_clears() {
    let out = apply_patch(
        &base(),
        &[
            op(PatchKind::Add, p(Some(ENTERPRISE_USER), "department", None), None, Some(s("Retail"))),
            op(PatchKind::Add, p(Some(ENTERPRISE_USER), "manager", None), None, Some(obj(&[("value", s("m1"))]))),
        ],
    )
    .unwrap();
    assert_eq!(out[ENTERPRISE_USER], obj(&[("department", s("Retail")), ("manager", obj(&[("value", s("m1"))]))]));
    for clear in [None, Some(s("")), Some(obj(&[("value", s(""))]))] {
        let kind = if clear.is_none() { PatchKind::Remove } else { PatchKind::Replace };
        let cleared = apply_patch(&out, &[op(kind, p(Some(ENTERPRISE_USER), "manager", None), None, clear)]).unwrap();
        assert_eq!(cleared[ENTERPRISE_USER], obj(&[("department", s("Retail"))]));
    }
}

#[test]
fn multi_valued_add_appends_and_skips_present_values() {
    let roles = |names: &[&str]| Value::Multi(names.iter().map(|n| obj(&[("value", s(n))])).collect());
    let once =
        apply_patch(&base(), &[op(PatchKind::Add, p(None, "roles", None), None, Some(roles(&["Admin", "Guest"])))])
            .unwrap();
    let twice =
        apply_patch(&once, &[op(PatchKind::Add, p(None, "roles", None), None, Some(roles(&["admin"])))]).unwrap();
    assert_eq!(twice["roles"].elements().len(), 2);
    let replaced =
        apply_patch(&twice, &[op(PatchKind::Replace, p(None, "roles", None), None, Some(roles(&["FullMember"])))])
            .unwrap();
    assert_eq!(replaced["roles"], roles(&["FullMember"]));
    let removed =
        apply_patch(&twice, &[op(PatchKind::Remove, p(None, "roles", None), None, Some(roles(&["Guest"])))]).unwrap();
    assert_eq!(removed["roles"], roles(&["Admin"]));
}

#[test]
fn a_new_primary_demotes_the_old_one() {
    let v = obj(&[("type", s("home")), ("value", s("a@home.example")), ("primary", Value::Bool(true))]);
    let out = apply_patch(&base(), &[op(PatchKind::Add, p(None, "emails", None), None, Some(v))]).unwrap();
    let primaries: Vec<bool> = out["emails"]
        .elements()
        .iter()
        .map(|e| e.as_complex().unwrap().get("primary") == Some(&Value::Bool(true)))
        .collect();
    assert_eq!(primaries, vec![false, false, true]);
}

#[test]
fn read_only_and_password_targets_are_refused() {
    let err =
        apply_patch(&base(), &[op(PatchKind::Replace, p(None, "password", None), None, Some(s("x")))]).unwrap_err();
    assert!(matches!(err, Error::Mutability { .. }));
    let err = apply_patch(&base(), &[op(PatchKind::Replace, p(None, "id", None), None, Some(s("x")))]).unwrap_err();
    assert!(matches!(err, Error::Mutability { .. }));
    let eff = USER_RESOURCE.resolve(Some(crate::schema::ENLIST_USER), "effectiveRole", None).unwrap();
    let err = apply_patch(&base(), &[op(PatchKind::Replace, eff, None, Some(s("Admin")))]).unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
}

#[test]
fn multi_valued_attributes_are_bounded_in_every_shape_of_patch() {
    let emails = |from: usize, n: usize| {
        Value::Multi((from..from + n).map(|i| obj(&[("value", s(&format!("e{i}@x.com")))])).collect())
    };
    let path = || p(None, "emails", None);
    let too_many =
        |r: Result<Complex>| matches!(r, Err(Error::InvalidValue { detail }) if detail.contains("at most 100"));
    // One operation sending too many, whatever is stored.
    assert!(too_many(apply_patch(&base(), &[op(PatchKind::Add, path(), None, Some(emails(0, 101)))])));
    assert!(too_many(apply_patch(&base(), &[op(PatchKind::Replace, path(), None, Some(emails(0, 60_000)))])));
    assert!(too_many(apply_patch(&base(), &[op(PatchKind::Remove, path(), None, Some(emails(0, 101)))])));
    // Operations that together pass the bound.
    let two =
        [op(PatchKind::Add, path(), None, Some(emails(0, 60))), op(PatchKind::Add, path(), None, Some(emails(60, 60)))];
    assert!(too_many(apply_patch(&base(), &two)));
    // Up to the bound is fine, and re-adding present values adds nothing.
    let out =
        apply_patch(&Complex::new(), &[op(PatchKind::Add, path(), None, Some(emails(0, 100)))]).unwrap_or_default();
    assert_eq!(out["emails"].elements().len(), 100);
    let again = apply_patch(&out, &[op(PatchKind::Add, path(), None, Some(emails(0, 100)))]).unwrap_or_default();
    assert_eq!(again["emails"].elements().len(), 100);
}

#[test]
fn a_failing_operation_leaves_the_input_untouched() {
    let input = base();
    let ops = [
        op(PatchKind::Replace, p(None, "title", None), None, Some(s("Boss"))),
        op(PatchKind::Replace, p(None, "password", None), None, Some(s("x"))),
    ];
    assert!(apply_patch(&input, &ops).is_err());
    assert_eq!(input, base());
}
