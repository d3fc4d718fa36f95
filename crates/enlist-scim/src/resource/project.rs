//! `attributes` / `excludedAttributes` projection of rendered resources
//! (RFC 7644 §3.4.2.5).

use super::read::find_def;
use enlist_core::schema::ResourceType;
use serde_json::{Map, Value as Json};

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
