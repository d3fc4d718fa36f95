//! PATCH bodies (RFC 7644 §3.5.2) as Entra ID and Okta send them, into the
//! core's change model: ops in any letter case, paths with value filters,
//! dotted and URN-qualified paths, no-path value objects with dotted or URN
//! keys, string booleans. Every operation is converted before any applies,
//! so one bad operation refuses the whole request.

use crate::error::ScimError;
use crate::filter::parse_path;
use crate::resource::{convert, member_ids};
use enlist_core::change::{GroupChange, PatchKind, PatchOp};
use enlist_core::query::{CompareOp, Filter, Literal};
use enlist_core::schema::{SchemaDef, ENLIST_USER, GROUP_RESOURCE, USER, USER_RESOURCE};
use enlist_core::DisplayName;
use serde_json::{Map, Value as Json};

/// The PATCH message URN.
pub const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Most operations in one PATCH.
pub const MAX_OPERATIONS: usize = 1000;

struct RawOp<'a> {
    kind: PatchKind,
    path: Option<&'a str>,
    value: Option<&'a Json>,
    index: usize,
}

fn get<'a>(o: &'a Map<String, Json>, key: &str) -> Option<&'a Json> {
    o.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v)
}

fn raw_ops(body: &Json) -> Result<Vec<RawOp<'_>>, ScimError> {
    let obj =
        body.as_object().ok_or_else(|| ScimError::syntax("a PATCH body must be a JSON object with Operations"))?;
    let ops = get(obj, "Operations").and_then(Json::as_array).ok_or_else(|| {
        ScimError::syntax(format!("a PATCH body needs an Operations array (schemas: [\"{PATCH_URN}\"])"))
    })?;
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::value(format!(
            "{} operations in one PATCH; Enlist accepts at most {MAX_OPERATIONS}. Split the change into several PATCH requests",
            ops.len()
        )));
    }
    let mut out = Vec::with_capacity(ops.len());
    for (index, op) in ops.iter().enumerate() {
        let n = index + 1;
        let o = op
            .as_object()
            .ok_or_else(|| ScimError::syntax(format!("operation {n} must be an object with op, path and value")))?;
        let kind = match get(o, "op").and_then(Json::as_str).map(str::to_ascii_lowercase).as_deref() {
            Some("add") => PatchKind::Add,
            Some("replace") => PatchKind::Replace,
            Some("remove") => PatchKind::Remove,
            _ => return Err(ScimError::syntax(format!("operation {n}: op must be add, replace or remove"))),
        };
        let path = match get(o, "path") {
            None | Some(Json::Null) => None,
            Some(Json::String(s)) if s.trim().is_empty() => None,
            Some(Json::String(s)) => Some(s.as_str()),
            Some(_) => return Err(ScimError::path(format!("operation {n}: path must be a string"))),
        };
        let value = get(o, "value");
        if path.is_none() && kind == PatchKind::Remove {
            return Err(ScimError::bad_request("noTarget", format!("operation {n}: remove needs a path")));
        }
        if path.is_none() && !matches!(value, Some(Json::Object(_))) {
            return Err(ScimError::syntax(format!(
                "operation {n}: without a path, value must be an object of attribute names and values"
            )));
        }
        out.push(RawOp { kind, path, value, index: n });
    }
    Ok(out)
}

/// Splits a no-path value object into (path text, value) pairs: plain,
/// dotted and URN-qualified keys are paths; a schema URN key holding an
/// object contributes one pair per attribute inside it.
fn split_object<'a>(rt: &enlist_core::schema::ResourceType, obj: &'a Map<String, Json>) -> Vec<(String, &'a Json)> {
    let mut out = Vec::new();
    for (k, v) in obj {
        match (rt.schema_by_urn(k), v) {
            (Some(schema), Json::Object(inner)) if schema.id != rt.schema.id || !inner.is_empty() => {
                for (ik, iv) in inner {
                    out.push((format!("{}:{ik}", schema.id), iv));
                }
            }
            _ => out.push((k.clone(), v)),
        }
    }
    out
}

/// Converts a User PATCH body into operations.
///
/// # Errors
/// 400 `invalidSyntax` for a malformed body, `invalidPath` for a malformed
/// path, `invalidValue` for wrong value types, `mutability` for `id`.
pub fn user_patch(body: &Json, id: &str) -> Result<Vec<PatchOp>, ScimError> {
    let rt = &USER_RESOURCE;
    let mut out = Vec::new();
    for raw in raw_ops(body)? {
        match (raw.path, raw.value) {
            // The path is a whole extension (`urn:…:enterprise:2.0:User`):
            // add and replace set each attribute of the object value,
            // remove clears every attribute of the extension.
            (Some(p), value) => match writable_extension(p) {
                Some(ext) => {
                    let keys: Vec<(&str, Option<&Json>)> = match (raw.kind, value) {
                        (PatchKind::Remove, _) => ext.attributes.iter().map(|a| (a.name, None)).collect(),
                        (_, Some(Json::Object(obj))) => obj.iter().map(|(k, v)| (k.as_str(), Some(v))).collect(),
                        (_, None) | (_, Some(Json::Null)) => Vec::new(),
                        (_, Some(_)) => {
                            return Err(ScimError::value(format!(
                                "operation {}: the value for {} must be an object of the extension's attributes",
                                raw.index, ext.id
                            )))
                        }
                    };
                    for (key, v) in keys {
                        out.extend(user_op(raw.kind, &format!("{}:{key}", ext.id), v, raw.index)?);
                    }
                }
                None => out.extend(user_op(raw.kind, p, value, raw.index)?),
            },
            (None, Some(Json::Object(obj))) => {
                for (key, value) in split_object(rt, obj) {
                    if skip_id_or_meta(&key, value, id, raw.index)? {
                        continue;
                    }
                    if let Some(op) = user_op(raw.kind, &key, Some(value), raw.index)? {
                        out.push(op);
                    }
                }
            }
            (None, _) => {}
        }
    }
    Ok(out)
}

/// The writable extension schema of User a PATCH path names as a whole.
/// The Enlist extension is read-only: it keeps the ordinary path rules.
fn writable_extension(path: &str) -> Option<&'static SchemaDef> {
    USER_RESOURCE.schema_by_urn(path.trim()).filter(|s| s.id != USER && s.id != ENLIST_USER)
}

/// `id` (same: nothing; another: refused), `meta` and `schemas` in a
/// no-path object are not changes.
fn skip_id_or_meta(key: &str, value: &Json, id: &str, n: usize) -> Result<bool, ScimError> {
    if key.eq_ignore_ascii_case("id") {
        if value.as_str() != Some(id) {
            return Err(ScimError::mutability(format!(
                "operation {n}: id is assigned by Enlist and cannot be changed (the URL names the resource)"
            )));
        }
        return Ok(true);
    }
    Ok(key.eq_ignore_ascii_case("meta") || key.eq_ignore_ascii_case("schemas"))
}

fn user_op(kind: PatchKind, path: &str, value: Option<&Json>, n: usize) -> Result<Option<PatchOp>, ScimError> {
    let at = |e: ScimError| ScimError { detail: format!("operation {n}: {}", e.detail), ..e };
    let Some(path) = parse_path(&USER_RESOURCE, path).map_err(at)? else {
        // An attribute Enlist does not define: ignored.
        return Ok(None);
    };
    let value = value.filter(|v| !v.is_null());
    let converted = match value {
        None => None,
        Some(v) => {
            let t = path.target;
            let name = t.dotted();
            match (t.sub, &path.filter) {
                (Some(sub), _) => {
                    let mut single = *sub;
                    // `emails.value` without a filter targets each element's value.
                    single.multi_valued = false;
                    convert(&single, &name, v).map_err(at)?
                }
                (None, Some(_)) => {
                    // A filtered path without a sub-attribute takes one element.
                    let mut single = *t.attr;
                    single.multi_valued = false;
                    convert(&single, &name, v).map_err(at)?
                }
                (None, None) => convert(t.attr, &name, v).map_err(at)?,
            }
        }
    };
    // A value that converts to nothing (`""`, `null`, `{"value": ""}`)
    // clears; keep the shape the core recognises as a clear.
    Ok(Some(PatchOp { kind, path, value: converted }))
}

/// The member ids a `members[…]` filter selects: `value eq` terms joined
/// by `or`.
fn filter_member_ids(f: &Filter) -> Option<Vec<enlist_core::UserId>> {
    match f {
        Filter::Compare { path, op: CompareOp::Eq, value: Literal::String(s) } if path.target().name == "value" => {
            Some(vec![enlist_core::UserId::new(s.clone())])
        }
        Filter::Or(a, b) => {
            let mut v = filter_member_ids(a)?;
            v.extend(filter_member_ids(b)?);
            Some(v)
        }
        _ => None,
    }
}

/// Converts a Group PATCH body into group changes.
///
/// # Errors
/// 400 `invalidSyntax`, `invalidPath`, `invalidValue` (members without ids,
/// an empty displayName), `mutability` for another `id`.
pub fn group_patch(body: &Json, id: &str) -> Result<Vec<GroupChange>, ScimError> {
    let mut out = Vec::new();
    for raw in raw_ops(body)? {
        match (raw.path, raw.value) {
            (Some(p), v) => group_op(raw.kind, p, v, raw.index, &mut out)?,
            (None, Some(Json::Object(obj))) => {
                for (key, value) in split_object(&GROUP_RESOURCE, obj) {
                    if skip_id_or_meta(&key, value, id, raw.index)? {
                        continue;
                    }
                    group_op(raw.kind, &key, Some(value), raw.index, &mut out)?;
                }
            }
            (None, _) => {}
        }
    }
    Ok(out)
}

fn group_op(
    kind: PatchKind,
    path: &str,
    value: Option<&Json>,
    n: usize,
    out: &mut Vec<GroupChange>,
) -> Result<(), ScimError> {
    let at = |e: ScimError| ScimError { detail: format!("operation {n}: {}", e.detail), ..e };
    let Some(p) = parse_path(&GROUP_RESOURCE, path).map_err(at)? else { return Ok(()) };
    let value = value.filter(|v| !v.is_null());
    match p.target.attr.name {
        "displayName" => match (kind, value) {
            // Removing it, or setting it to null, leaves the group without
            // one: the core's rule refuses that with its own words.
            (PatchKind::Remove, _) | (_, None) => return Err(at(DisplayName::missing().into())),
            (_, Some(Json::String(s))) => out.push(GroupChange::DisplayName(
                DisplayName::parse(crate::resource::no_nul("displayName", s).map_err(at)?).map_err(|e| at(e.into()))?,
            )),
            (_, Some(_)) => return Err(at(ScimError::value("displayName must be a string"))),
        },
        "externalId" => match (kind, value) {
            (PatchKind::Remove, _) | (_, None) => out.push(GroupChange::ExternalId(None)),
            (_, Some(Json::String(s))) => out
                .push(GroupChange::ExternalId(Some(crate::resource::no_nul("externalId", s).map_err(at)?.to_owned()))),
            (_, Some(_)) => return Err(at(ScimError::value("externalId must be a string"))),
        },
        "members" => {
            if let Some(f) = &p.filter {
                let ids = filter_member_ids(f).ok_or_else(|| {
                    at(ScimError::path("a members filter must select by value: members[value eq \"<user id>\"]"))
                })?;
                match kind {
                    PatchKind::Remove => out.push(GroupChange::RemoveMembers(ids)),
                    _ => {
                        return Err(at(ScimError::path(
                            "add or replace members with path \"members\" and a list of {\"value\": id}",
                        )))
                    }
                }
                return Ok(());
            }
            if p.target.sub.is_some() {
                return Err(at(ScimError::path(
                    "members sub-attributes cannot be changed; add or remove whole members",
                )));
            }
            let ids = value.map(member_ids).transpose().map_err(at)?;
            out.push(match (kind, ids) {
                (PatchKind::Add, Some(ids)) => GroupChange::AddMembers(ids),
                (PatchKind::Add, None) => return Ok(()),
                (PatchKind::Replace, ids) => GroupChange::ReplaceMembers(ids.unwrap_or_default()),
                (PatchKind::Remove, Some(ids)) if !ids.is_empty() => GroupChange::RemoveMembers(ids),
                (PatchKind::Remove, _) => GroupChange::ClearMembers,
            });
        }
        "id" | "meta" => {
            return Err(at(ScimError::mutability(format!("{} is read-only", p.target.attr.name))));
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests;
