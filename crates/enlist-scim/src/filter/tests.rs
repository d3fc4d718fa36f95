//! Every grammar rule, as a table: input → canonical rendering, and the
//! refused inputs with the words their detail must contain.

use super::*;
use enlist_core::schema::{ENTERPRISE_USER, GROUP_RESOURCE, USER_RESOURCE};

fn check(input: &str, want: &str) {
    let f = parse_filter(&USER_RESOURCE, input).unwrap_or_else(|e| panic!("{input}: {e}"));
    assert_eq!(render_filter(&f), want, "{input}");
    // The rendering parses back to the same tree.
    let again = parse_filter(&USER_RESOURCE, &render_filter(&f)).unwrap_or_else(|e| panic!("re-parse of {want}: {e}"));
    assert_eq!(again, f, "{input}");
}

fn refuse(input: &str, words: &str) {
    let e = parse_filter(&USER_RESOURCE, input).expect_err(input);
    assert_eq!((e.status, e.scim_type), (400, Some("invalidFilter")), "{input}");
    assert!(e.detail.contains(words), "{input}: detail {:?} lacks {words:?}", e.detail);
}

#[test]
fn comparison_operators_and_literals() {
    for (input, want) in [
        (r#"userName eq "bjensen""#, r#"userName eq "bjensen""#),
        (r#"USERNAME EQ "x@y.com""#, r#"userName eq "x@y.com""#),
        (r#"name.familyName co "O'Malley""#, r#"name.familyName co "O'Malley""#),
        (r#"userName sw "J""#, r#"userName sw "J""#),
        (r#"userName ew "son""#, r#"userName ew "son""#),
        (r#"title ne "boss""#, r#"title ne "boss""#),
        (r#"title gt "a" "#, r#"title gt "a""#),
        (r#"title ge "a""#, r#"title ge "a""#),
        (r#"title lt "a""#, r#"title lt "a""#),
        (r#"title le "a""#, r#"title le "a""#),
        ("title pr", "title pr"),
        ("active eq true", "active eq true"),
        (r#"active eq "False""#, "active eq false"),
        ("title eq null", "title eq null"),
        (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, r#"meta.lastModified gt "2011-05-13T04:42:34Z""#),
        (r#"displayName eq "a \"quoted\" \\ name\u00e9""#, r#"displayName eq "a \"quoted\" \\ nameé""#),
        // Unquoted values, as older Entra docs show them.
        ("externalId eq alice", r#"externalId eq "alice""#),
    ] {
        check(input, want);
    }
}

#[test]
fn logical_operators_precedence_and_grouping() {
    for (input, want) in [
        (r#"title pr and userType eq "Employee""#, r#"(title pr and userType eq "Employee")"#),
        (r#"title pr or userType eq "Intern""#, r#"(title pr or userType eq "Intern")"#),
        // and binds tighter than or
        ("title pr or nickName pr and locale pr", "(title pr or (nickName pr and locale pr))"),
        ("(title pr or nickName pr) and locale pr", "((title pr or nickName pr) and locale pr)"),
        (r#"not (userName eq "a") and title pr"#, r#"(not (userName eq "a") and title pr)"#),
        ("title pr AND nickName pr OR locale pr", "((title pr and nickName pr) or locale pr)"),
        (
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            r#"(userType eq "Employee" and (emails.value co "example.com" or emails.value co "example.org"))"#,
        ),
    ] {
        check(input, want);
    }
}

#[test]
fn value_paths_sub_attributes_and_urns() {
    let ent = ENTERPRISE_USER;
    for (input, want) in [
        (
            r#"emails[type eq "work" and value co "@example.com"]"#.to_owned(),
            r#"emails[(type eq "work" and value co "@example.com")]"#.to_owned(),
        ),
        (r#"emails[TYPE eq "work"]"#.into(), r#"emails[type eq "work"]"#.into()),
        // Entra's matching filter: a PATCH-style path on the left.
        (
            r#"emails[type eq "work"].value eq "a@b.com""#.into(),
            r#"emails[(type eq "work" and value eq "a@b.com")]"#.into(),
        ),
        (r#"roles[primary eq "True"]"#.into(), "roles[primary eq true]".into()),
        (format!(r#"{ent}:employeeNumber eq "701984""#), format!(r#"{ent}:employeeNumber eq "701984""#)),
        (
            format!(r#"{ent}:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#),
            format!(r#"{ent}:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#),
        ),
        // Bare `manager` (and `ENT:manager`) compares manager.value.
        (
            r#"id eq "54d3" and manager eq "2819""#.into(),
            format!(r#"(id eq "54d3" and {ent}:manager.value eq "2819")"#),
        ),
        (format!(r#"{ent}:manager eq "2819""#), format!(r#"{ent}:manager.value eq "2819""#)),
        (format!(r#"{}:userName eq "x""#, enlist_core::schema::USER), r#"userName eq "x""#.into()),
        (
            "urn:ietf:params:scim:schemas:extension:enlist:2.0:User:effectiveRole eq \"Admin\"".into(),
            "urn:ietf:params:scim:schemas:extension:enlist:2.0:User:effectiveRole eq \"Admin\"".into(),
        ),
    ] {
        check(&input, &want);
    }
}

#[test]
fn group_filters() {
    let f = parse_filter(&GROUP_RESOURCE, r#"id eq "g" and members eq "u""#).unwrap();
    assert_eq!(render_filter(&f), r#"(id eq "g" and members.value eq "u")"#);
    let f = parse_filter(&GROUP_RESOURCE, r#"displayName eq "Sales EMEA""#).unwrap();
    assert_eq!(render_filter(&f), r#"displayName eq "Sales EMEA""#);
    assert!(parse_filter(&GROUP_RESOURCE, r#"userName eq "x""#).is_err());
}

#[test]
fn refused_filters_say_where_and_why() {
    refuse("", "empty");
    refuse(r#"nope eq "x""#, "unknown attribute 'nope'");
    refuse(r#"name.nope eq "x""#, "unknown attribute 'name.nope'");
    refuse(r#"urn:example:custom:2.0:User:x eq "1""#, "unknown attribute");
    refuse(r#"userName xx "x""#, "unknown operator 'xx'");
    refuse(r#"userName eq"#, "expected a value");
    refuse(r#"userName eq "x"#, "not closed");
    refuse(r#"userName eq "x" userName eq "y""#, "unexpected text at position 16");
    refuse(r#"(userName eq "x""#, "expected ')'");
    refuse(r#"emails[type eq "work""#, "expected ']'");
    refuse("active gt true", "boolean");
    refuse(r#"active eq "yes""#, "compare it with true or false");
    refuse(r#"name co "x""#, "is complex");
    refuse(r#"meta.created gt "yesterday""#, "RFC 3339");
    refuse(r#"userName gt null"#, "null can only be compared");
    refuse(r#"userName[type eq "x"]"#, "cannot take a value filter");
    refuse(r#"emails[type eq "work"].nope eq "x""#, "no sub-attribute 'nope'");
    refuse(r#"userName eq "\q""#, "invalid escape");
    refuse("and", "unknown attribute 'and'");
    refuse(")", "expected an attribute name");
}

#[test]
fn hostile_filters_are_bounded() {
    let deep = format!("{}title pr{}", "(".repeat(MAX_DEPTH + 1), ")".repeat(MAX_DEPTH + 1));
    refuse(&deep, "nests deeper");
    let nots = format!("{}title pr{}", "not (".repeat(MAX_DEPTH + 5), ")".repeat(MAX_DEPTH + 5));
    refuse(&nots, "nests deeper");
    let long = format!(r#"userName eq "{}""#, "a".repeat(MAX_LEN));
    refuse(&long, "at most");
    // Long but flat chains are fine: no recursion per `and`.
    let flat = vec!["title pr"; 500].join(" and ");
    assert!(parse_filter(&USER_RESOURCE, &flat).is_ok());
}

#[test]
fn patch_paths() {
    let ent = ENTERPRISE_USER;
    let show = |src: &str| {
        let p = parse_path(&USER_RESOURCE, src)
            .unwrap_or_else(|e| panic!("{src}: {e}"))
            .unwrap_or_else(|| panic!("{src}: ignored"));
        match p.filter {
            Some(f) => format!("{} [{}]", p.target.dotted(), render_filter(&f)),
            None => p.target.dotted(),
        }
    };
    assert_eq!(show("userName"), "userName");
    assert_eq!(show("name.familyName"), "name.familyName");
    assert_eq!(show(r#"emails[type eq "work"].value"#), r#"emails.value [emails.type eq "work"]"#);
    assert_eq!(
        show(r#"addresses[type eq "work"].streetAddress"#),
        r#"addresses.streetAddress [addresses.type eq "work"]"#
    );
    assert_eq!(show(r#"roles[primary eq "True"].value"#), "roles.value [roles.primary eq true]");
    assert_eq!(show(&format!("{ent}:employeeNumber")), format!("{ent}:employeeNumber"));
    assert_eq!(show(&format!("{ent}.manager")), format!("{ent}:manager"));
    assert_eq!(show("manager"), format!("{ent}:manager"));
    assert_eq!(show("urn:ietf:params:scim:schemas:core:2.0:User:displayName"), "displayName");
    let m = parse_path(&GROUP_RESOURCE, r#"members[value eq "2819c223"]"#).unwrap().unwrap();
    assert_eq!(render_filter(m.filter.as_ref().unwrap()), r#"members.value eq "2819c223""#);
    // Unknown attributes are ignored, not refused.
    assert!(parse_path(&USER_RESOURCE, "urn:ietf:params:scim:schemas:extension:Custom:2.0:User:costCode")
        .unwrap()
        .is_none());
    assert!(parse_path(&USER_RESOURCE, "nickNameX").unwrap().is_none());
    for (bad, kind) in [
        ("", "invalidPath"),
        ("a.b.c", "invalidPath"),
        ("emails[type eq", "invalidPath"),
        ("userName[type eq \"x\"]", "invalidPath"),
        ("emails[type zz \"x\"]", "invalidPath"),
        ("emails[type eq \"x\"] junk", "invalidPath"),
    ] {
        let e = parse_path(&USER_RESOURCE, bad).expect_err(bad);
        assert_eq!(e.scim_type, Some(kind), "{bad}: {e}");
    }
}

#[test]
fn single_quoted_values_are_refused_with_the_double_quoted_form() {
    refuse("userName eq 'alice'", "\"alice\"");
    refuse("userName eq 'alice'", "double quotes");
    // Unquoted words stay accepted, as documented.
    check("userName eq alice", "userName eq \"alice\"");
}
