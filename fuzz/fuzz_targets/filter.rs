//! Any text as a SCIM filter and as a PATCH path: no panic, bounded work,
//! and every accepted filter renders to text that parses to the same tree.
#![no_main]
use enlist_core::schema::{GROUP_RESOURCE, USER_RESOURCE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for rt in [&USER_RESOURCE, &GROUP_RESOURCE] {
        if let Ok(f) = enlist_scim::parse_filter(rt, text) {
            let rendered = enlist_scim::render_filter(&f);
            // Escaping control characters can push a rendering past the
            // length bound the parser enforces; only shorter ones re-parse.
            if rendered.len() > enlist_scim::filter::MAX_LEN {
                continue;
            }
            let again = enlist_scim::parse_filter(rt, &rendered);
            assert!(again.as_ref().is_ok_and(|g| *g == f), "{text:?} -> {rendered:?} -> {again:?}");
        }
        let _ = enlist_scim::parse_path(rt, text);
    }
});
