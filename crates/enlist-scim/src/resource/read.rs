//! Reading resource JSON into the core's profile values, driven by the schema
//! definitions: names are matched case-insensitively and returned in their
//! canonical spelling, values are coerced to the attribute's type (Entra's
//! `"True"`), unknown attributes and schema URNs are ignored, read-only
//! ones (`id`, `meta`, `groups`, the Enlist extension) are ignored on input.

use crate::error::ScimError;
use enlist_core::schema::{
    AttrType, AttributeDef, Mutability, SchemaDef, ENLIST_USER, ENTERPRISE_USER, GROUP, USER, USER_RESOURCE,
};
use enlist_core::value::{Complex, Value};
use enlist_core::{DisplayName, UserId};
use serde_json::{Map, Value as Json};

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
    /// `displayName`: required, so a body without one is refused here.
    pub display_name: DisplayName,
    /// `externalId`, if sent.
    pub external_id: Option<String>,
    /// `members`, if the key was present (`[]` empties).
    pub members: Option<Vec<UserId>>,
}

fn object(body: &Json) -> Result<&Map<String, Json>, ScimError> {
    body.as_object().ok_or_else(|| ScimError::syntax("the request body must be a JSON object"))
}

pub(super) fn find_def<'a>(defs: &'a [AttributeDef], name: &str) -> Option<&'a AttributeDef> {
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
        if is_password(key) {
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
                // An extension object; the core schema's own URN as a key
                // holds core attributes, of which only a password matters.
                if schema.id == USER {
                    if let Some(obj) = v.as_object() {
                        password |= obj.iter().any(|(k, v)| k.eq_ignore_ascii_case("password") && !v.is_null());
                    }
                    continue;
                }
                if schema.id == ENLIST_USER {
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

/// `password`, bare or under the core schema's URN: never stored, and
/// reported so the core can refuse it (PUT, PATCH) or note it (POST).
fn is_password(key: &str) -> bool {
    let bare = key.rsplit_once(':').map_or(key, |(urn, attr)| if urn.eq_ignore_ascii_case(USER) { attr } else { "" });
    bare.eq_ignore_ascii_case("password")
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
            // A number or boolean is not silently turned into text: the
            // identity provider's mapping is wrong, and it should hear so.
            _ => return Err(wrong("a string (SCIM type string; quote the value)")),
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
/// 400 `invalidSyntax` for a non-object, `invalidValue` for wrong types
/// and for a missing or blank `displayName` (the core's rule).
pub fn group_from_json(body: &Json) -> Result<GroupInput, ScimError> {
    let mut display_name = None;
    let mut input = GroupInput { display_name: DisplayName::from_stored(""), external_id: None, members: None };
    for (key, v) in object(body)? {
        let key = key.as_str();
        let key = key.strip_prefix(&format!("{GROUP}:")).unwrap_or(key);
        let text = |what: &str| match v {
            Json::Null => Ok(None),
            Json::String(s) => Ok(Some(no_nul(what, s)?.to_owned())),
            _ => Err(ScimError::value(format!("{what} must be a string, not {}", short(v)))),
        };
        if key.eq_ignore_ascii_case("displayName") {
            display_name = text("displayName")?;
        } else if key.eq_ignore_ascii_case("externalId") {
            input.external_id = text("externalId")?;
        } else if key.eq_ignore_ascii_case("members") {
            input.members = Some(member_ids(v)?);
        }
    }
    input.display_name = DisplayName::parse(display_name.as_deref().unwrap_or_default())?;
    Ok(input)
}
