//! Rendering users and groups as SCIM resources: `meta` (with the weak
//! ETag of `meta.version`), the Enlist extension, and Okta's primary marks.

use enlist_core::schema::{ENLIST_USER, ENTERPRISE_USER, GROUP, USER};
use enlist_core::service::{GroupView, UserView};
use enlist_core::value::Value;
use enlist_core::{Group, User};
use serde_json::{json, Map, Value as Json};

/// A core value as JSON.
pub fn value_json(v: &Value) -> Json {
    match v {
        Value::Bool(b) => Json::Bool(*b),
        Value::Integer(i) => json!(i),
        Value::Decimal(d) => serde_json::Number::from_f64(*d).map(Json::Number).unwrap_or(Json::Null),
        Value::String(s) => Json::String(s.clone()),
        Value::Complex(c) => Json::Object(c.iter().map(|(k, v)| (k.clone(), value_json(v))).collect()),
        Value::Multi(m) => Json::Array(m.iter().map(value_json).collect()),
    }
}

/// The weak ETag of a version.
pub fn etag(version: u64) -> String {
    format!("W/\"{version}\"")
}

/// Parses an ETag back to a version (`W/"3"`, `"3"`).
pub fn parse_etag(tag: &str) -> Option<u64> {
    let t = tag.trim();
    let t = t.strip_prefix("W/").unwrap_or(t);
    t.trim_matches('"').parse().ok()
}

fn meta(
    resource_type: &str,
    location: String,
    created: chrono::DateTime<chrono::Utc>,
    modified: chrono::DateTime<chrono::Utc>,
    version: u64,
) -> Json {
    json!({
        "resourceType": resource_type,
        "created": created.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "lastModified": modified.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "location": location,
        "version": etag(version),
    })
}

/// The User resource. `base` is the SCIM base URL (`https://host/scim/v2`).
pub fn user_json(view: &UserView, base: &str) -> Json {
    let u: &User = &view.user;
    let mut out = Map::new();
    let mut schemas = vec![Json::String(USER.into())];
    out.insert("id".into(), Json::String(u.id.to_string()));
    for (k, v) in u.profile.attrs() {
        if k.starts_with("urn:") {
            continue;
        }
        out.insert(k.clone(), value_json(v));
    }
    mark_primary(&mut out, u.profile.email().as_str());
    if let Some(Value::Complex(ent)) = u.profile.attrs().get(ENTERPRISE_USER) {
        let mut e: Map<String, Json> = ent.iter().map(|(k, v)| (k.clone(), value_json(v))).collect();
        if let Some(Json::Object(m)) = e.get_mut("manager") {
            if let Some(Json::String(id)) = m.get("value").cloned() {
                m.insert("$ref".into(), Json::String(format!("{base}/Users/{id}")));
                if let Some(d) = &view.manager_display {
                    m.insert("displayName".into(), Json::String(d.clone()));
                }
            }
        }
        schemas.push(Json::String(ENTERPRISE_USER.into()));
        out.insert(ENTERPRISE_USER.into(), Json::Object(e));
    }
    if let Some(groups) = &view.groups {
        let g: Vec<Json> = groups
            .iter()
            .map(|g| json!({"value": g.id.as_str(), "$ref": format!("{base}/Groups/{}", g.id), "display": g.display_name, "type": "direct"}))
            .collect();
        out.insert("groups".into(), Json::Array(g));
    }
    schemas.push(Json::String(ENLIST_USER.into()));
    out.insert(
        ENLIST_USER.into(),
        json!({"effectiveRole": u.effective_role.as_str(), "roleSource": u.role_source.as_str()}),
    );
    out.insert("meta".into(), meta("User", format!("{base}/Users/{}", u.id), u.created_at, u.updated_at, u.version));
    out.insert("schemas".into(), Json::Array(schemas));
    Json::Object(out)
}

/// Okta reads the `primary` element of emails, phoneNumbers and addresses
/// on import. Where none was sent as primary, the response marks one: for
/// emails the account email (so a GET-then-PUT never changes which address
/// the account uses), otherwise the `work` element, else the first. Only
/// the response carries the mark; what is stored stays as sent.
fn mark_primary(out: &mut Map<String, Json>, account_email: &str) {
    for attr in ["emails", "phoneNumbers", "addresses"] {
        let Some(Json::Array(items)) = out.get_mut(attr) else { continue };
        // Only where the identity provider said nothing about primary: an
        // explicit `false` (or `true`) is returned exactly as sent.
        if items.iter().any(|e| e.get("primary").is_some()) {
            continue;
        }
        let field = |e: &Json, k: &str| e.get(k).and_then(Json::as_str).map(str::to_owned);
        let pick = if attr == "emails" {
            items.iter().position(|e| field(e, "value").is_some_and(|v| v.eq_ignore_ascii_case(account_email)))
        } else {
            items.iter().position(|e| field(e, "type").is_some_and(|t| t.eq_ignore_ascii_case("work"))).or(Some(0))
        };
        if let Some(Json::Object(e)) = pick.and_then(|i| items.get_mut(i)) {
            e.insert("primary".into(), Json::Bool(true));
        }
    }
}

/// One element of a group's `members`.
pub fn member_json(m: &enlist_core::MemberRef, base: &str) -> Json {
    json!({"value": m.id.as_str(), "$ref": format!("{base}/Users/{}", m.id), "display": m.user_name, "type": "User"})
}

/// The Group resource; `members` only when they were read.
pub fn group_json(view: &GroupView, base: &str) -> Json {
    let g: &Group = &view.group;
    let mut out = Map::new();
    out.insert("schemas".into(), json!([GROUP]));
    out.insert("id".into(), Json::String(g.id.to_string()));
    if let Some(e) = &g.external_id {
        out.insert("externalId".into(), Json::String(e.clone()));
    }
    out.insert("displayName".into(), Json::String(g.display_name.to_string()));
    if let Some(members) = &view.members {
        out.insert("members".into(), Json::Array(members.iter().map(|m| member_json(m, base)).collect()));
    }
    out.insert("meta".into(), meta("Group", format!("{base}/Groups/{}", g.id), g.created_at, g.updated_at, g.version));
    Json::Object(out)
}
