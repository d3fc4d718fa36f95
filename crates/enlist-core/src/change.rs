//! The change model every PATCH and PUT reduces to, and its application to
//! a profile. `enlist-scim` parses SCIM text into [`PatchOp`]s; the user
//! service applies them here and then runs the product's rules on the
//! result, so the rules hold whichever shape a change arrives in.

use crate::error::{Error, Result};
use crate::model::password_refused;
use crate::query::{Filter, Literal};
use crate::schema::{AttrPath, AttrType, Mutability, ENLIST_USER};
use crate::types::{fold, DisplayName, UserId};
use crate::value::{Complex, Value};

/// `add`, `replace` or `remove`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    /// Add (replace for single-valued attributes, append for multi-valued).
    Add,
    /// Replace.
    Replace,
    /// Remove.
    Remove,
}

/// What an operation targets: an attribute or sub-attribute, optionally
/// restricted to the elements a value filter selects
/// (`emails[type eq "work"].value`).
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The attribute (with `sub` set for `name.familyName` or
    /// `emails[…].value`).
    pub target: AttrPath,
    /// Selects elements of a multi-valued attribute.
    pub filter: Option<Filter>,
}

/// One operation. Operations without a path are split by the parser into
/// one operation per attribute, so every operation has a path.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    /// The kind.
    pub kind: PatchKind,
    /// The target.
    pub path: PatchPath,
    /// The value; `None` (or an empty string) clears, like `remove`.
    pub value: Option<Value>,
}

/// A change to a user.
#[derive(Debug, Clone, PartialEq)]
pub enum UserChange {
    /// PATCH: operations applied in order, all or nothing.
    Patch(Vec<PatchOp>),
    /// PUT: the new profile. Omitted attributes are cleared, except
    /// `active`, which is kept when omitted.
    Replace {
        /// The writable attributes sent.
        attrs: Complex,
        /// Whether the request carried a `password` (refused).
        password: bool,
    },
}

/// A change to a group, one step of a PATCH or PUT, applied in order.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupChange {
    /// Rename (no-op when identical).
    DisplayName(DisplayName),
    /// Set or clear `externalId`.
    ExternalId(Option<String>),
    /// Add members (present ones are skipped).
    AddMembers(Vec<UserId>),
    /// Remove the listed members (absent ones are skipped).
    RemoveMembers(Vec<UserId>),
    /// Exactly these members remain.
    ReplaceMembers(Vec<UserId>),
    /// Remove every member.
    ClearMembers,
}

/// Applies `ops` to a copy of `attrs`; the original is untouched on error.
///
/// # Errors
/// [`Error::Mutability`] for read-only attributes and passwords,
/// [`Error::NoTarget`] when a filtered path matches nothing and cannot
/// create its element, [`Error::InvalidPath`] for a filter on a
/// single-valued simple attribute.
pub fn apply_patch(attrs: &Complex, ops: &[PatchOp]) -> Result<Complex> {
    let mut out = attrs.clone();
    for op in ops {
        apply_one(&mut out, op)?;
    }
    Ok(out)
}

fn check_writable(path: &AttrPath) -> Result<()> {
    if path.attr.name == "password" {
        return Err(password_refused());
    }
    if path.schema.id == ENLIST_USER {
        return Err(Error::mutability(format!(
            "{} is computed by Enlist and read-only; assign roles through roles or a role-mapped group",
            path.dotted()
        )));
    }
    let ro = |m: Mutability| m == Mutability::ReadOnly;
    if ro(path.attr.mutability) || path.sub.is_some_and(|s| ro(s.mutability)) {
        return Err(Error::mutability(format!("{} is read-only and cannot be changed", path.dotted())));
    }
    Ok(())
}

fn is_clear(v: &Option<Value>) -> bool {
    match v {
        None => true,
        Some(Value::String(s)) => s.is_empty(),
        // `{"value": ""}` clears a reference such as manager.
        Some(Value::Complex(c)) => c.is_empty() || (c.len() == 1 && c.get("value").is_some_and(Value::is_empty)),
        Some(Value::Multi(v)) => v.is_empty(),
        _ => false,
    }
}

fn literal_value(l: &Literal) -> Option<Value> {
    match l {
        Literal::String(s) => Some(Value::String(s.clone())),
        Literal::Bool(b) => Some(Value::Bool(*b)),
        Literal::Integer(i) => Some(Value::Integer(*i)),
        Literal::Decimal(d) => Some(Value::Decimal(*d)),
        Literal::DateTime(d) => Some(Value::String(d.to_rfc3339())),
        Literal::Null => None,
    }
}

/// Whether two elements of a multi-valued attribute are "the same value":
/// equal `value` sub-attributes (case-insensitively where the attribute is
/// not case-exact), else wholly equal.
fn same_element(a: &Value, b: &Value, case_exact: bool) -> bool {
    let key = |v: &Value| v.as_complex().and_then(|c| c.get("value")).and_then(Value::as_str).map(str::to_owned);
    match (key(a), key(b)) {
        (Some(x), Some(y)) => {
            if case_exact {
                x == y
            } else {
                fold(&x) == fold(&y)
            }
        }
        _ => a == b,
    }
}

fn value_case_exact(path: &AttrPath) -> bool {
    path.attr.sub_attributes.iter().find(|s| s.name == "value").is_some_and(|s| s.case_exact)
}

/// When an element is set primary, the others stop being primary
/// (RFC 7643 §2.4).
fn demote_other_primaries(elements: &mut [Value], keep: usize) {
    let is_primary = |v: &Value| v.as_complex().and_then(|c| c.get("primary")) == Some(&Value::Bool(true));
    if elements.get(keep).is_some_and(is_primary) {
        for (i, e) in elements.iter_mut().enumerate() {
            if i != keep && is_primary(e) {
                if let Value::Complex(c) = e {
                    c.insert("primary".into(), Value::Bool(false));
                }
            }
        }
    }
}

fn apply_one(attrs: &mut Complex, op: &PatchOp) -> Result<()> {
    let target = op.path.target;
    check_writable(&target)?;
    if target.is_core() {
        return apply_in(attrs, op);
    }
    // Extension attributes live in a nested object under the schema URN.
    let urn = target.schema.id;
    let mut ext = match attrs.remove(urn) {
        Some(Value::Complex(c)) => c,
        _ => Complex::new(),
    };
    let r = apply_in(&mut ext, op);
    if !ext.is_empty() {
        attrs.insert(urn.to_owned(), Value::Complex(ext));
    }
    r
}

/// Applies one operation inside the object that holds its attribute, by
/// the shape of its path: the attribute itself, a sub-attribute of it, or
/// the elements a value filter selects.
fn apply_in(slot: &mut Complex, op: &PatchOp) -> Result<()> {
    match (&op.path.filter, op.path.target.sub) {
        (None, None) => apply_whole(slot, op),
        (None, Some(sub)) => {
            apply_sub(slot, op, sub.name);
            Ok(())
        }
        (Some(filter), sub) => apply_filtered(slot, op, filter, sub.map(|s| s.name)),
    }
}

/// `emails`, `title`: the attribute as a whole; a `remove` with a value of
/// a multi-valued attribute removes only the listed elements.
fn apply_whole(slot: &mut Complex, op: &PatchOp) -> Result<()> {
    let target = op.path.target;
    let name = target.attr.name;
    if op.kind == PatchKind::Remove && target.attr.multi_valued && !is_clear(&op.value) {
        let listed: Vec<Value> = op.value.as_ref().map(|v| v.elements().to_vec()).unwrap_or_default();
        if listed.len() > crate::model::MAX_VALUES {
            return Err(crate::model::too_many_values(&target.dotted(), listed.len()));
        }
        let exact = value_case_exact(&target);
        if let Some(Value::Multi(existing)) = slot.get_mut(name) {
            existing.retain(|e| !listed.iter().any(|l| same_element(e, l, exact)));
            if existing.is_empty() {
                slot.remove(name);
            }
        }
    } else if op.kind == PatchKind::Remove || is_clear(&op.value) {
        slot.remove(name);
    } else if let Some(value) = &op.value {
        set_whole(slot, &target, op.kind, value)?;
    }
    Ok(())
}

/// `name.givenName`, or `emails.value` without a filter (every element).
fn apply_sub(slot: &mut Complex, op: &PatchOp, sub: &str) {
    let target = op.path.target;
    let name = target.attr.name;
    let value = if op.kind == PatchKind::Remove || is_clear(&op.value) { None } else { op.value.clone() };
    if target.attr.multi_valued {
        if let Some(Value::Multi(elements)) = slot.get_mut(name) {
            for e in elements.iter_mut() {
                if let Value::Complex(c) = e {
                    set_sub(c, sub, value.clone());
                }
            }
            elements.retain(|e| !e.is_empty());
        }
    } else {
        let entry = slot.entry(name.to_owned()).or_insert_with(|| Value::Complex(Complex::new()));
        if let Value::Complex(c) = entry {
            set_sub(c, sub, value);
        }
        if slot.get(name).is_some_and(Value::is_empty) {
            slot.remove(name);
        }
    }
}

/// `emails[type eq "work"]` or `emails[type eq "work"].value`: the elements
/// the filter selects; none selected creates one from the filter's `eq`
/// terms (Entra's rule), clearing removes them (or their sub-attribute).
fn apply_filtered(slot: &mut Complex, op: &PatchOp, filter: &crate::query::Filter, sub: Option<&str>) -> Result<()> {
    let target = op.path.target;
    let name = target.attr.name;
    if target.attr.ty != AttrType::Complex {
        return Err(Error::path(format!(
            "{} is not a complex attribute; a value filter cannot select from it",
            target.parent().dotted()
        )));
    }
    let mut elements: Vec<Value> = match slot.remove(name) {
        Some(Value::Multi(v)) => v,
        Some(v) => vec![v],
        None => Vec::new(),
    };
    let matching: Vec<usize> = elements
        .iter()
        .enumerate()
        .filter(|(_, e)| e.as_complex().is_some_and(|c| filter.matches_element(c)))
        .map(|(i, _)| i)
        .collect();
    let not_an_object = || {
        Error::invalid(format!("the value for {} must be an object of its sub-attributes", target.parent().dotted()))
    };
    if op.kind == PatchKind::Remove || is_clear(&op.value) {
        // Clearing `value` inside a filtered element removes the element.
        match sub {
            Some(s) if s != "value" => {
                for &i in &matching {
                    if let Some(Value::Complex(c)) = elements.get_mut(i) {
                        c.remove(s);
                    }
                }
            }
            _ => {
                let mut i = 0;
                elements.retain(|_| {
                    let keep = !matching.contains(&i);
                    i += 1;
                    keep
                });
            }
        }
    } else if matching.is_empty() {
        let terms = filter.eq_terms().ok_or_else(|| Error::NoTarget {
            detail: format!(
                "no element of {} matches the path's filter, and only a filter of 'eq' terms joined by 'and' can create one",
                target.parent().dotted()
            ),
        })?;
        let mut element = Complex::new();
        for (k, lit) in terms {
            if let Some(v) = literal_value(lit) {
                element.insert(k.to_owned(), v);
            }
        }
        match (sub, &op.value) {
            (Some(s), v) => set_sub(&mut element, s, v.clone()),
            (None, Some(Value::Complex(c))) => element.extend(c.clone()),
            (None, _) => return Err(not_an_object()),
        }
        elements.push(Value::Complex(element));
        let last = elements.len() - 1;
        demote_other_primaries(&mut elements, last);
    } else {
        for &i in &matching {
            if let Some(Value::Complex(c)) = elements.get_mut(i) {
                match (sub, &op.value) {
                    (Some(s), v) => set_sub(c, s, v.clone()),
                    (None, Some(Value::Complex(new))) if op.kind == PatchKind::Replace => *c = new.clone(),
                    (None, Some(Value::Complex(new))) => c.extend(new.clone()),
                    (None, _) => return Err(not_an_object()),
                }
            }
            demote_other_primaries(&mut elements, i);
        }
    }
    elements.retain(|e| !e.is_empty());
    if !elements.is_empty() {
        let v = if target.attr.multi_valued { Value::Multi(elements) } else { elements.swap_remove(0) };
        slot.insert(name.to_owned(), v);
    }
    Ok(())
}

fn set_sub(c: &mut Complex, sub: &str, value: Option<Value>) {
    match value {
        Some(v) if !v.is_empty() => {
            c.insert(sub.to_owned(), v);
        }
        _ => {
            c.remove(sub);
        }
    }
}

fn set_whole(slot: &mut Complex, target: &AttrPath, kind: PatchKind, value: &Value) -> Result<()> {
    let name = target.attr.name;
    if target.attr.multi_valued {
        // Bounded before any pass over the values: each added value is
        // compared with those present, so an unbounded list would cost its
        // square (60,000 emails in one PATCH once held the write lock 30 s).
        let sent = value.elements();
        if sent.len() > crate::model::MAX_VALUES {
            return Err(crate::model::too_many_values(&target.dotted(), sent.len()));
        }
        let given: Vec<Value> = sent.iter().filter(|e| !e.is_empty()).cloned().collect();
        let exact = value_case_exact(target);
        let mut elements = match (kind, slot.remove(name)) {
            (PatchKind::Add, Some(Value::Multi(v))) => v,
            _ => Vec::new(),
        };
        for g in given {
            if kind == PatchKind::Add && elements.iter().any(|e| same_element(e, &g, exact)) {
                // Adding a value already present is a no-op.
                continue;
            }
            if elements.len() >= crate::model::MAX_VALUES {
                return Err(crate::model::too_many_values(&target.dotted(), elements.len() + 1));
            }
            elements.push(g);
            let last = elements.len() - 1;
            demote_other_primaries(&mut elements, last);
        }
        if !elements.is_empty() {
            slot.insert(name.to_owned(), Value::Multi(elements));
        }
    } else if let (AttrType::Complex, Value::Complex(new)) = (target.attr.ty, value) {
        // RFC 7644 §3.5.2.3: sub-attributes not given are left unchanged.
        let entry = slot.entry(name.to_owned()).or_insert_with(|| Value::Complex(Complex::new()));
        if let Value::Complex(old) = entry {
            for (k, v) in new {
                set_sub(old, k, Some(v.clone()));
            }
        }
        if slot.get(name).is_some_and(Value::is_empty) {
            slot.remove(name);
        }
    } else {
        slot.insert(name.to_owned(), value.clone());
    }
    Ok(())
}

#[cfg(test)]
mod tests;
