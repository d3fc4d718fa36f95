//! Any bytes as a PATCH body for a user and a group: no panic, and what
//! parses applies to a profile without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    if let Ok(ops) = enlist_scim::user_patch(&body, "u1") {
        let profile = enlist_scim::user_from_json(&serde_json::json!({
            "userName": "a@contoso.com",
            "emails": [{"type": "work", "value": "a@contoso.com", "primary": true}],
            "roles": [{"value": "Guest"}]
        }));
        if let Ok(p) = profile {
            let _ = enlist_core::change::apply_patch(&p.attrs, &ops);
        }
    }
    let _ = enlist_scim::group_patch(&body, "g1");
    let _ = enlist_scim::user_from_json(&body);
    let _ = enlist_scim::group_from_json(&body);
});
