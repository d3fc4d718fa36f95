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

#[test]
fn an_activity_record_stores_at_most_its_caps_whatever_was_sent() {
    let huge = "é".repeat(100_000);
    let r = ActivityRecord {
        id: "a1".into(),
        organization_id: crate::OrganizationId::new("o"),
        at: DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default(),
        key_label: "Entra".into(),
        method: "POST".into(),
        route: "/Users".into(),
        resource_id: Some(huge.clone()),
        subject: Some(huge.clone()),
        status: 400,
        scim_type: Some("invalidValue".into()),
        detail: Some(huge.clone()),
        latency_ms: 1,
        request_id: huge.clone(),
        summary: huge,
    }
    .bounded();
    assert!(r.subject.as_ref().unwrap().len() <= ActivityRecord::MAX_SUBJECT_BYTES);
    assert!(r.detail.as_ref().unwrap().len() <= ActivityRecord::MAX_DETAIL_BYTES);
    assert!(r.summary.len() <= ActivityRecord::MAX_SUMMARY_BYTES && r.summary.ends_with('…'));
    assert!(r.resource_id.as_ref().unwrap().len() <= ActivityRecord::MAX_SHORT_BYTES);
    assert!(r.request_id.len() <= ActivityRecord::MAX_SHORT_BYTES);
    assert!(r.stored_bytes() < 6 * 1024, "{}", r.stored_bytes());
    // Short texts are kept exactly.
    assert_eq!(r.scim_type.as_deref(), Some("invalidValue"));
    assert_eq!(r.key_label, "Entra");
}
