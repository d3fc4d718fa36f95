//! Resource JSON ⇄ the core's profile values, driven by the schema
//! definitions: names are matched case-insensitively and returned in their
//! canonical spelling, values are coerced to the attribute's type (Entra's
//! `"True"`), unknown attributes and schema URNs are ignored, read-only
//! ones (`id`, `meta`, `groups`, the Enlist extension) are ignored on input.

use crate::error::ScimError;
use enlist_core::schema::{
    AttrType, AttributeDef, Mutability, ResourceType, SchemaDef, ENLIST_USER, ENTERPRISE_USER, GROUP, USER,
    USER_RESOURCE,
};
use enlist_core::service::{GroupView, UserView};
use enlist_core::value::{Complex, Value};
use enlist_core::{Group, User, UserId};
use serde_json::{json, Map, Value as Json};

/// A User body (POST or PUT) in the core's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct UserInput {
    /// Writable attributes, canonical names, extensions under their URN.
    pub attrs: Complex,
    /// Whether a `password` was present (never kept).
    pub password: bool,
}

/// A Group body (POST or PUT).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupInput {
    /// `displayName`, if sent.
    pub display_name: Option<String>,
    /// `externalId`, if sent.
    pub external_id: Option<String>,
    /// `members`, if the key was present (`[]` empties).
    pub members: Option<Vec<UserId>>,
}

fn object(body: &Json) -> Result<&Map<String, Json>, ScimError> {
    body.as_object().ok_or_else(|| ScimError::syntax("the request body must be a JSON object"))
}

fn find_def<'a>(defs: &'a [AttributeDef], name: &str) -> Option<&'a AttributeDef> {
    defs.iter().find(|d| d.name.eq_ignore_ascii_case(name))
}

/// Reads a User body.
///
/// # Errors
/// 400 `invalidSyntax` for a non-object, `invalidValue` for values of the
/// wrong type (naming the attribute).
pub fn user_from_json(body: &Json) -> Result<UserInput, ScimError> {
    let rt = &USER_RESOURCE;
    let mut attrs = Complex::new();
    let mut password = false;
    for (key, v) in object(body)? {
        if key.eq_ignore_ascii_case("password") {
            password |= !v.is_null();
            continue;
        }
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        // `get`, not indexing: a key may start with a multi-byte character
        // (found by the patch fuzz target).
        if key.len() > 4 && key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")) {
            if let Some(schema) = rt.schema_by_urn(key) {
                // An extension object.
                if schema.id == ENLIST_USER || schema.id == USER {
                    continue;
                }
                let Some(obj) = v.as_object() else {
                    if v.is_null() {
                        continue;
                    }
                    return Err(ScimError::value(format!("{key} must be an object of the extension's attributes")));
                };
                let mut ext = Complex::new();
                for (k, v) in obj {
                    put(&mut ext, schema, k, v, schema.id)?;
                }
                if !ext.is_empty() {
                    merge_ext(&mut attrs, schema.id, ext);
                }
            } else if let Ok(Some(path)) = crate::filter::resolve_attr(rt, None, key) {
                // A URN-qualified attribute as a top-level key.
                if path.sub.is_none() && path.schema.id == ENTERPRISE_USER {
                    let mut ext = Complex::new();
                    put(&mut ext, path.schema, path.attr.name, v, path.schema.id)?;
                    merge_ext(&mut attrs, path.schema.id, ext);
                } else if path.sub.is_none() && path.schema.id == USER {
                    put(&mut attrs, path.schema, path.attr.name, v, "")?;
                }
            }
            continue;
        }
        put(&mut attrs, rt.schema, key, v, "")?;
    }
    Ok(UserInput { attrs, password })
}

fn merge_ext(attrs: &mut Complex, urn: &str, ext: Complex) {
    match attrs.get_mut(urn) {
        Some(Value::Complex(existing)) => existing.extend(ext),
        _ => {
            attrs.insert(urn.to_owned(), Value::Complex(ext));
        }
    }
}

/// Converts and stores one attribute of `schema`; unknown and read-only
/// attributes are skipped.
fn put(into: &mut Complex, schema: &SchemaDef, key: &str, v: &Json, prefix: &str) -> Result<(), ScimError> {
    let Some(def) = find_def(schema.attributes, key) else { return Ok(()) };
    if def.mutability == Mutability::ReadOnly || def.mutability == Mutability::WriteOnly {
        return Ok(());
    }
    let name = if prefix.is_empty() { def.name.to_owned() } else { format!("{prefix}:{}", def.name) };
    if let Some(value) = convert(def, &name, v)? {
        into.insert(def.name.to_owned(), value);
    }
    Ok(())
}

/// Converts a JSON value for `def`. `None` means absent (`null`, `""`,
/// `[]`, `{}`).
pub fn convert(def: &AttributeDef, name: &str, v: &Json) -> Result<Option<Value>, ScimError> {
    if v.is_null() {
        return Ok(None);
    }
    if def.multi_valued {
        // A single value where a list is expected is a one-element list.
        let items: Vec<&Json> = match v {
            Json::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if let Some(e) = convert_single(def, name, item)? {
                out.push(e);
            }
        }
        return Ok((!out.is_empty()).then_some(Value::Multi(out)));
    }
    let v = match v {
        // The legacy manager form: [{"$ref": …, "value": …}].
        Json::Array(a) if def.ty == AttrType::Complex => match a.first() {
            Some(first) => first,
            None => return Ok(None),
        },
        other => other,
    };
    convert_single(def, name, v)
}

fn convert_single(def: &AttributeDef, name: &str, v: &Json) -> Result<Option<Value>, ScimError> {
    if v.is_null() {
        return Ok(None);
    }
    if def.ty == AttrType::Complex {
        let owned;
        let obj = match v {
            Json::Object(o) => o,
            // A bare string where a complex value with `value` is expected:
            // Entra's manager id, a role name.
            Json::String(s) if def.sub_attributes.iter().any(|d| d.name == "value") => {
                let mut m = Map::new();
                m.insert("value".into(), Json::String(s.clone()));
                owned = m;
                &owned
            }
            _ => return Err(ScimError::value(format!("{name} must be an object with its sub-attributes"))),
        };
        let mut out = Complex::new();
        for (k, sv) in obj {
            let Some(sub) = find_def(def.sub_attributes, k) else { continue };
            if sub.mutability == Mutability::ReadOnly {
                continue;
            }
            if let Some(value) = convert_single(sub, &format!("{name}.{}", sub.name), sv)? {
                out.insert(sub.name.to_owned(), value);
            }
        }
        if def.name == "roles" {
            decode_role(&mut out);
        }
        return Ok((!out.is_empty()).then_some(Value::Complex(out)));
    }
    let wrong = |want: &str| ScimError::value(format!("{name} must be {want}, not {}", short(v)));
    let value = match def.ty {
        AttrType::Boolean => match v {
            Json::Bool(b) => Value::Bool(*b),
            // Entra's string booleans, in any letter case.
            Json::String(s) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
            Json::String(s) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
            _ => return Err(wrong("true or false")),
        },
        AttrType::Integer => match v.as_i64() {
            Some(i) => Value::Integer(i),
            None => return Err(wrong("an integer")),
        },
        AttrType::Decimal => match v.as_f64() {
            Some(d) => Value::Decimal(d),
            None => return Err(wrong("a number")),
        },
        _ => match v {
            Json::String(s) if s.is_empty() => return Ok(None),
            Json::String(s) => Value::String(no_nul(name, s)?.to_owned()),
            // Lenient: a number or boolean where a string is expected
            // (employeeNumber 1042) is kept as its text.
            Json::Number(n) => Value::String(n.to_string()),
            Json::Bool(b) => Value::String(b.to_string()),
            _ => return Err(wrong("a string")),
        },
    };
    Ok(Some(value))
}

/// Entra's legacy role element: `value` holds a string of JSON
/// (`{"id":…,"value":"Admin","displayName":…}`); decode it.
fn decode_role(element: &mut Complex) {
    let Some(Value::String(s)) = element.get("value") else { return };
    if !s.trim_start().starts_with('{') {
        return;
    }
    let Ok(Json::Object(inner)) = serde_json::from_str::<Json>(s) else { return };
    let Some(Json::String(value)) = inner.iter().find(|(k, _)| k.eq_ignore_ascii_case("value")).map(|(_, v)| v) else {
        return;
    };
    element.insert("value".into(), Value::String(value.clone()));
    let display = inner
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("display") || k.eq_ignore_ascii_case("displayName"))
        .and_then(|(_, v)| v.as_str());
    if let (Some(d), false) = (display, element.contains_key("display")) {
        element.insert("display".into(), Value::String(d.to_owned()));
    }
}

/// Refuses text with NUL characters: no database stores them in text.
pub(crate) fn no_nul<'a>(name: &str, s: &'a str) -> Result<&'a str, ScimError> {
    if s.contains('\0') {
        return Err(ScimError::value(format!("{name} contains a NUL character (\\u0000); remove it")));
    }
    Ok(s)
}

fn short(v: &Json) -> String {
    let s = v.to_string();
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s
    }
}

/// Reads the member ids of a `members` value (`[{"value": id, …}]`).
///
/// # Errors
/// 400 `invalidValue` for elements without a string `value`, or of a type
/// other than `User` (Enlist has no nested groups).
pub fn member_ids(v: &Json) -> Result<Vec<UserId>, ScimError> {
    let items: Vec<&Json> = match v {
        Json::Null => Vec::new(),
        Json::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let get =
            |k: &str| item.as_object().and_then(|o| o.iter().find(|(n, _)| n.eq_ignore_ascii_case(k))).map(|(_, v)| v);
        let id = match (item, get("value")) {
            (Json::String(s), _) => no_nul("a member id", s)?,
            (_, Some(Json::String(s))) => no_nul("a member id", s)?,
            _ => {
                return Err(ScimError::value(format!(
                    "each member needs a string value (the user's id); got {}",
                    short(item)
                )))
            }
        };
        if let Some(Json::String(t)) = get("type") {
            if !t.eq_ignore_ascii_case("User") {
                return Err(ScimError::value(format!(
                    "member {id} has type '{t}'; Enlist groups hold users only (no nested groups)"
                )));
            }
        }
        out.push(UserId::new(id));
    }
    Ok(out)
}

/// Reads a Group body.
///
/// # Errors
/// 400 `invalidSyntax` for a non-object, `invalidValue` for wrong types.
pub fn group_from_json(body: &Json) -> Result<GroupInput, ScimError> {
    let mut input = GroupInput { display_name: None, external_id: None, members: None };
    for (key, v) in object(body)? {
        let key = key.as_str();
        let key = key.strip_prefix(&format!("{GROUP}:")).unwrap_or(key);
        let text = |what: &str| match v {
            Json::Null => Ok(None),
            Json::String(s) => Ok(Some(no_nul(what, s)?.to_owned())),
            _ => Err(ScimError::value(format!("{what} must be a string, not {}", short(v)))),
        };
        if key.eq_ignore_ascii_case("displayName") {
            input.display_name = text("displayName")?;
        } else if key.eq_ignore_ascii_case("externalId") {
            input.external_id = text("externalId")?;
        } else if key.eq_ignore_ascii_case("members") {
            input.members = Some(member_ids(v)?);
        }
    }
    Ok(input)
}

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
        if items.iter().any(|e| e.get("primary") == Some(&Json::Bool(true))) {
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

/// The Group resource; `members` only when they were read.
pub fn group_json(view: &GroupView, base: &str) -> Json {
    let g: &Group = &view.group;
    let mut out = Map::new();
    out.insert("schemas".into(), json!([GROUP]));
    out.insert("id".into(), Json::String(g.id.to_string()));
    if let Some(e) = &g.external_id {
        out.insert("externalId".into(), Json::String(e.clone()));
    }
    out.insert("displayName".into(), Json::String(g.display_name.clone()));
    if let Some(members) = &view.members {
        let m: Vec<Json> = members
            .iter()
            .map(|m| json!({"value": m.id.as_str(), "$ref": format!("{base}/Users/{}", m.id), "display": m.user_name, "type": "User"}))
            .collect();
        out.insert("members".into(), Json::Array(m));
    }
    out.insert("meta".into(), meta("Group", format!("{base}/Groups/{}", g.id), g.created_at, g.updated_at, g.version));
    Json::Object(out)
}

/// `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Projection {
    /// Everything returned by default.
    #[default]
    Default,
    /// Only these (plus what is always returned).
    Only(Vec<enlist_core::schema::AttrPath>),
    /// Everything by default except these.
    Except(Vec<enlist_core::schema::AttrPath>),
}

impl Projection {
    /// Parses the two comma-separated lists; `attributes` wins when both
    /// are given. Unknown names are ignored.
    pub fn parse(rt: &ResourceType, attributes: Option<&str>, excluded: Option<&str>) -> Self {
        let list = |s: &str| -> Vec<enlist_core::schema::AttrPath> {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .filter_map(|s| crate::filter::resolve_attr(rt, None, s).ok().flatten())
                .collect()
        };
        match (attributes.filter(|s| !s.trim().is_empty()), excluded.filter(|s| !s.trim().is_empty())) {
            (Some(a), _) => Self::Only(list(a)),
            (None, Some(e)) => Self::Except(list(e)),
            (None, None) => Self::Default,
        }
    }

    /// Whether the attribute `name` (core schema) is returned: tells the
    /// services whether to read `groups` or `members` at all.
    pub fn wants(&self, rt: &ResourceType, name: &str) -> bool {
        let Some(p) = rt.resolve(None, name, None) else { return false };
        match self {
            Self::Default => true,
            Self::Only(list) => list.iter().any(|l| l.attr == p.attr && l.schema == p.schema),
            Self::Except(list) => !list.iter().any(|l| l.attr == p.attr && l.schema == p.schema && l.sub.is_none()),
        }
    }

    /// Applies the projection to a rendered resource.
    pub fn apply(&self, rt: &ResourceType, resource: &mut Json) {
        if *self == Self::Default {
            return;
        }
        let Some(obj) = resource.as_object_mut() else { return };
        for schema in rt.schemas() {
            let core = schema.id == rt.schema.id;
            let target: Option<&mut Map<String, Json>> =
                if core { Some(obj) } else { obj.get_mut(schema.id).and_then(Json::as_object_mut) };
            let Some(target) = target else { continue };
            let keys: Vec<String> = target.keys().cloned().collect();
            for key in keys {
                let Some(def) = find_def(schema.attributes, &key) else { continue };
                let paths: Vec<&enlist_core::schema::AttrPath> = match self {
                    Self::Only(l) | Self::Except(l) => {
                        l.iter().filter(|p| p.schema.id == schema.id && p.attr.name == def.name).collect()
                    }
                    Self::Default => Vec::new(),
                };
                let whole = paths.iter().any(|p| p.sub.is_none());
                let subs: Vec<&str> = paths.iter().filter_map(|p| p.sub.map(|s| s.name)).collect();
                let always = def.returned == enlist_core::schema::Returned::Always;
                match self {
                    Self::Only(_) if always || whole => {}
                    Self::Only(_) if !subs.is_empty() => keep_subs(target.get_mut(&key), &subs, true),
                    Self::Only(_) => {
                        target.remove(&key);
                    }
                    Self::Except(_) if always => {}
                    Self::Except(_) if whole => {
                        target.remove(&key);
                    }
                    Self::Except(_) => keep_subs(target.get_mut(&key), &subs, false),
                    Self::Default => {}
                }
            }
            if !core && target.is_empty() {
                obj.remove(schema.id);
                if let Some(Json::Array(s)) = obj.get_mut("schemas") {
                    s.retain(|u| u.as_str() != Some(schema.id));
                }
            }
        }
    }
}

/// Keeps (or drops) the named sub-attributes of a complex value or of each
/// element of a multi-valued one.
fn keep_subs(v: Option<&mut Json>, subs: &[&str], keep: bool) {
    let apply = |o: &mut Map<String, Json>| o.retain(|k, _| subs.iter().any(|s| s.eq_ignore_ascii_case(k)) == keep);
    match v {
        Some(Json::Object(o)) => apply(o),
        Some(Json::Array(a)) => a.iter_mut().filter_map(Json::as_object_mut).for_each(apply),
        _ => {}
    }
}

#[cfg(test)]
mod tests;
