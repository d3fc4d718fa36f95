//! The neutral attribute value tree of a resource's profile. `enlist-scim`
//! converts JSON to and from it; storage adapters persist it; the core's
//! change model edits it. Absent attributes are absent keys: there is no
//! null.

use std::collections::BTreeMap;

/// A complex value (or a whole resource profile): attribute name → value,
/// keyed by canonical attribute names. Extension attributes live in a nested
/// complex value under their schema URN.
pub type Complex = BTreeMap<String, Value>;

/// One attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A boolean.
    Bool(bool),
    /// An integer.
    Integer(i64),
    /// A decimal.
    Decimal(f64),
    /// A string, reference, binary (base64) or dateTime, as sent.
    String(String),
    /// A complex value.
    Complex(Complex),
    /// A multi-valued attribute, in the order sent.
    Multi(Vec<Value>),
}

impl Value {
    /// The string, when this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
    /// The integer, if this is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Integer(i) => Some(*i),
            _ => None,
        }
    }
    /// The boolean, when this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    /// The complex value, when this is one.
    pub fn as_complex(&self) -> Option<&Complex> {
        match self {
            Value::Complex(c) => Some(c),
            _ => None,
        }
    }
    /// The elements of a multi-valued attribute; a single value counts as a
    /// one-element list.
    pub fn elements(&self) -> &[Value] {
        match self {
            Value::Multi(v) => v,
            other => std::slice::from_ref(other),
        }
    }
    /// Whether this is "no value": an empty string, list or complex value.
    pub fn is_empty(&self) -> bool {
        match self {
            Value::String(s) => s.is_empty(),
            Value::Multi(v) => v.is_empty(),
            Value::Complex(c) => c.is_empty(),
            _ => false,
        }
    }
    /// A short rendering for audit records and details.
    pub fn render(&self) -> String {
        match self {
            Value::Bool(b) => b.to_string(),
            Value::Integer(i) => i.to_string(),
            Value::Decimal(d) => d.to_string(),
            Value::String(s) => format!("{s:?}"),
            Value::Complex(c) => {
                let parts: Vec<String> = c.iter().map(|(k, v)| format!("{k}: {}", v.render())).collect();
                format!("{{{}}}", parts.join(", "))
            }
            Value::Multi(v) => {
                let parts: Vec<String> = v.iter().map(Value::render).collect();
                format!("[{}]", parts.join(", "))
            }
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
