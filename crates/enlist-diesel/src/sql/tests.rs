//! Tests of the filter-to-SQL translation helpers.

use super::*;

#[test]
fn a_prefix_successor_bounds_every_string_with_that_prefix() {
    assert_eq!(prefix_successor("co").as_deref(), Some("cp"));
    assert_eq!(prefix_successor("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
    assert_eq!(prefix_successor("a\u{10FFFF}").as_deref(), Some("b"));
    assert_eq!(prefix_successor("\u{10FFFF}"), None);
    assert_eq!(prefix_successor(""), None);
    for (prefix, s) in
        [("co", "contoso"), ("co", "co"), ("é", "éa\u{10FFFF}"), ("a\u{10FFFF}", "a\u{10FFFF}\u{10FFFF}z")]
    {
        let hi = prefix_successor(prefix).unwrap_or_else(|| unreachable!());
        assert!(s >= prefix && s < hi.as_str(), "{s:?} in [{prefix:?}, {hi:?})");
    }
    assert!("cp" >= prefix_successor("co").unwrap_or_default().as_str());
}

#[test]
fn like_patterns_escape_wildcards() {
    assert_eq!(like_escape("50%_off\\"), "50\\%\\_off\\\\");
}
