//! Tests of profiles and the model rules.

use super::*;

fn s(v: &str) -> Value {
    Value::String(v.into())
}

#[test]
fn a_stored_profile_reads_back_even_when_todays_rules_would_refuse_it() {
    // A role name since retired, a displayName over today's limit, two
    // primaries: each refused by parse, none may make the row unreadable.
    let mut attrs = Complex::new();
    attrs.insert("userName".into(), s("ana@contoso.com"));
    attrs.insert("displayName".into(), s(&"x".repeat(MAX_INDEXED_BYTES + 1)));
    attrs.insert(
        "roles".into(),
        Value::Multi(vec![
            Value::Complex([("value".to_owned(), s("Owner"))].into_iter().collect()),
            Value::Complex([("value".to_owned(), s("Admin"))].into_iter().collect()),
        ]),
    );
    assert!(Profile::parse(attrs.clone()).is_err());
    let p = Profile::from_stored(attrs);
    assert_eq!(p.user_name().as_str(), "ana@contoso.com");
    assert_eq!(p.email().as_str(), "ana@contoso.com");
    assert_eq!(p.roles(), &[Role::Admin]);
    assert!(p.active());
}
