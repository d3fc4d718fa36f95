//! Profiles to and from storage: the whole profile as JSON text (read
//! back exactly as sent), and its simple values flattened into
//! `user_values` rows so filters on any attribute run in SQL.

use enlist_core::fold;
use enlist_core::value::{Complex, Value};
use serde_json::Value as Json;

/// Attributes with their own columns; not repeated in `user_values`.
pub(crate) const COLUMN_ATTRS: &[&str] = &["userName", "externalId", "displayName", "active"];

/// A profile value as a JSON tree: what `Ser` writes, for tests to
/// compare against.
#[cfg(test)]
pub(crate) fn to_json(v: &Value) -> Json {
    match v {
        Value::Bool(b) => Json::Bool(*b),
        Value::Integer(i) => Json::from(*i),
        Value::Decimal(d) => serde_json::Number::from_f64(*d).map(Json::Number).unwrap_or(Json::Null),
        Value::String(s) => Json::String(s.clone()),
        Value::Complex(c) => {
            Json::Object(c.iter().map(|(k, v)| (k.clone(), to_json(v))).collect::<serde_json::Map<_, _>>())
        }
        Value::Multi(m) => Json::Array(m.iter().map(to_json).collect()),
    }
}

/// A JSON tree as a profile value, walked by hand: the reference the
/// tests hold `decode` and `value_of` to.
#[cfg(test)]
pub(crate) fn from_json(j: &Json) -> Option<Value> {
    Some(match j {
        Json::Null => return None,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Decimal(n.as_f64()?),
        },
        Json::String(s) => Value::String(s.clone()),
        Json::Array(a) => Value::Multi(a.iter().filter_map(from_json).collect()),
        Json::Object(o) => Value::Complex(o.iter().filter_map(|(k, v)| Some((k.clone(), from_json(v)?))).collect()),
    })
}

pub(crate) fn encode(attrs: &Complex) -> String {
    // Serialized straight from the profile: no copy of it, no JSON tree
    // (the copy and the tree were a tenth of the writer's time in an
    // Entra update).
    serde_json::to_string(&Attrs(attrs)).unwrap_or_default()
}

/// Serializes profile values as `to_json` renders them.
pub(crate) struct Ser<'a>(pub(crate) &'a Value);
struct Attrs<'a>(&'a Complex);

impl serde::Serialize for Attrs<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, Ser(v))))
    }
}

impl serde::Serialize for Ser<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Integer(i) => s.serialize_i64(*i),
            // As `to_json`: a number JSON cannot hold is null.
            Value::Decimal(d) if d.is_finite() => s.serialize_f64(*d),
            Value::Decimal(_) => s.serialize_unit(),
            Value::String(t) => s.serialize_str(t),
            Value::Complex(c) => Attrs(c).serialize(s),
            Value::Multi(m) => s.collect_seq(m.iter().map(Ser)),
        }
    }
}

/// A stored profile read back, straight from its text into the value tree
/// (as `from_json` of its JSON tree would give, without building that tree
/// first: the tree and its copy were half of reading a user).
pub(crate) fn decode(text: &str) -> Option<Complex> {
    match serde_json::from_str::<Read>(text).ok()?.0? {
        Value::Complex(c) => Some(c),
        _ => None,
    }
}

/// A value inside a JSON tree already parsed (an audit record's before
/// and after) as a profile value, by the same rules as `decode`; `None`
/// for null.
pub(crate) fn value_of(j: &Json) -> Option<Value> {
    use serde::Deserialize;
    Read::deserialize(j).ok()?.0
}

/// A JSON value read as a profile value; `None` for null (`from_json`).
struct Read(Option<Value>);

impl<'de> serde::Deserialize<'de> for Read {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ReadVisitor).map(Read)
    }
}

struct ReadVisitor;

impl<'de> serde::de::Visitor<'de> for ReadVisitor {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Self::Value, E> {
        Ok(Some(Value::Bool(b)))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Self::Value, E> {
        Ok(Some(Value::Integer(i)))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Self::Value, E> {
        // As `from_json`: past i64, a decimal.
        Ok(Some(i64::try_from(u).map(Value::Integer).unwrap_or(Value::Decimal(u as f64))))
    }
    fn visit_f64<E>(self, d: f64) -> Result<Self::Value, E> {
        Ok(Some(Value::Decimal(d)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Some(Value::String(s.to_owned())))
    }
    fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
        Ok(Some(Value::String(s)))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(Read(v)) = seq.next_element()? {
            out.extend(v);
        }
        Ok(Some(Value::Multi(out)))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Complex::new();
        while let Some((k, Read(v))) = map.next_entry::<String, Read>()? {
            // The last of a repeated key wins, as in a JSON tree; a null
            // one leaves the key absent.
            match v {
                Some(v) => out.insert(k, v),
                None => out.remove(&k),
            };
        }
        Ok(Some(Value::Complex(out)))
    }
}

/// Text of a simple value as stored in `user_values`.
pub(crate) fn text(v: &Value) -> Option<String> {
    match v {
        Value::Bool(b) => Some(b.to_string()),
        Value::Integer(i) => Some(i.to_string()),
        Value::Decimal(d) => Some(d.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// One `user_values` row: attribute key, element index, sub-attribute
/// ("" for simple attributes), value, folded value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, diesel::QueryableByName)]
pub(crate) struct ValueRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub(crate) attr: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub(crate) idx: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub(crate) sub: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub(crate) value: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub(crate) folded: String,
}

/// Flattens a profile. Attribute keys match `AttrPath::dotted()` of the
/// attribute (URN-qualified for extensions).
pub(crate) fn flatten(attrs: &Complex) -> Vec<ValueRow> {
    let mut out = Vec::new();
    for (k, v) in attrs {
        if k.starts_with("urn:") {
            if let Value::Complex(ext) = v {
                for (a, v) in ext {
                    flatten_attr(&format!("{k}:{a}"), v, &mut out);
                }
            }
        } else if !COLUMN_ATTRS.contains(&k.as_str()) {
            flatten_attr(k, v, &mut out);
        }
    }
    out
}

/// Values longer than this (bytes) are not indexed for filters: index
/// entries are size-limited (PostgreSQL B-tree ~2.7 KB), and such values
/// (certificates, photo data) are not what identity providers filter on.
pub(crate) const MAX_FILTERABLE_BYTES: usize = 1024;

fn flatten_attr(key: &str, v: &Value, out: &mut Vec<ValueRow>) {
    let mut push = |idx: i64, sub: &str, v: &Value| {
        if let Some(t) = text(v).filter(|t| t.len() <= MAX_FILTERABLE_BYTES) {
            out.push(ValueRow { attr: key.to_owned(), idx, sub: sub.to_owned(), folded: fold(&t), value: t });
        }
    };
    match v {
        Value::Multi(elements) => {
            for (i, e) in elements.iter().enumerate() {
                match e {
                    Value::Complex(c) => c.iter().for_each(|(s, v)| push(i as i64, s, v)),
                    other => push(i as i64, "", other),
                }
            }
        }
        Value::Complex(c) => c.iter().for_each(|(s, v)| push(0, s, v)),
        other => push(0, "", other),
    }
}

/// How a user's value rows change: indexes into the old and the new
/// rows, both sorted by [`ValueRow::key`] (`sort_by_key`).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ValueDiff {
    /// Old rows whose place is gone.
    pub(crate) removed: Vec<usize>,
    /// New rows whose place stays with another value.
    pub(crate) changed: Vec<usize>,
    /// New rows in a new place.
    pub(crate) added: Vec<usize>,
}

impl ValueRow {
    /// A row's place in the profile: (attribute, element, sub-attribute).
    pub(crate) fn key(&self) -> (&str, i64, &str) {
        (&self.attr, self.idx, &self.sub)
    }
}

/// Sorts rows by place, for [`diff`].
pub(crate) fn sort_by_key(rows: &mut [ValueRow]) {
    rows.sort_unstable_by(|a, b| a.key().cmp(&b.key()));
}

/// One pass over two sorted row lists (an update replaces a few of ~30
/// rows): no hashing, no copies.
pub(crate) fn diff(old: &[ValueRow], new: &[ValueRow]) -> ValueDiff {
    use std::cmp::Ordering::*;
    let mut d = ValueDiff::default();
    let (mut i, mut j) = (0, 0);
    loop {
        match (old.get(i), new.get(j)) {
            (Some(o), Some(n)) => match o.key().cmp(&n.key()) {
                Less => {
                    d.removed.push(i);
                    i += 1;
                }
                Greater => {
                    d.added.push(j);
                    j += 1;
                }
                Equal => {
                    if o.value != n.value || o.folded != n.folded {
                        d.changed.push(j);
                    }
                    i += 1;
                    j += 1;
                }
            },
            (Some(_), None) => {
                d.removed.push(i);
                i += 1;
            }
            (None, Some(_)) => {
                d.added.push(j);
                j += 1;
            }
            (None, None) => return d,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diff_names_the_removed_changed_and_added_places() {
        let row = |attr: &str, idx, sub: &str, value: &str| ValueRow {
            attr: attr.into(),
            idx,
            sub: sub.into(),
            value: value.into(),
            folded: value.to_lowercase(),
        };
        let mut old = vec![
            row("title", 0, "", "Buyer"),
            row("emails", 1, "value", "b@x.com"),
            row("emails", 0, "value", "a@x.com"),
            row("phoneNumbers", 0, "value", "1"),
        ];
        let mut new = vec![
            row("emails", 0, "value", "a@x.com"),
            row("title", 0, "", "Seller"),
            row("emails", 0, "type", "work"),
            row("phoneNumbers", 0, "value", "1"),
            row("zz", 0, "", "z"),
        ];
        sort_by_key(&mut old);
        sort_by_key(&mut new);
        let d = diff(&old, &new);
        let names = |rows: &[ValueRow], at: &[usize]| -> Vec<String> {
            at.iter().map(|&i| format!("{}.{}.{}={}", rows[i].attr, rows[i].idx, rows[i].sub, rows[i].value)).collect()
        };
        assert_eq!(names(&old, &d.removed), ["emails.1.value=b@x.com"]);
        assert_eq!(names(&new, &d.changed), ["title.0.=Seller"]);
        assert_eq!(names(&new, &d.added), ["emails.0.type=work", "zz.0.=z"]);
        assert_eq!(diff(&new, &new), ValueDiff::default(), "nothing changed, nothing to write");
        let all = diff(&[], &new);
        assert_eq!(all.added.len(), new.len());
        assert_eq!(diff(&old, &[]).removed.len(), old.len());
    }

    #[test]
    fn decoding_reads_what_the_json_tree_would() {
        for text in [
            r#"{"a":1,"b":-2,"c":1.5,"d":18446744073709551615,"e":"x\"y\u00e9","f":true,"g":null}"#,
            r#"{"m":[1,null,{"v":null,"w":"x"},[],{}],"n":{"o":{"p":false}}}"#,
            r#"{"k":1,"k":2,"j":3,"j":null}"#,
            r#"{}"#,
        ] {
            let tree: Json = serde_json::from_str(text).expect("valid JSON");
            let Some(Value::Complex(want)) = from_json(&tree) else { panic!("{text}") };
            assert_eq!(value_of(&tree), Some(Value::Complex(want.clone())), "{text}");
            assert_eq!(decode(text), Some(want), "{text}");
        }
        for not_a_profile in ["[1]", "1", "null", "\"x\"", "{", "{\"a\":}", ""] {
            assert_eq!(decode(not_a_profile), None, "{not_a_profile}");
        }
    }

    #[test]
    fn profiles_round_trip_and_flatten_by_attribute_path() {
        let json = serde_json::json!({
            "userName": "A@x.com", "active": true, "title": "Buyer",
            "emails": [{"type": "work", "value": "A@X.com", "primary": true}, {"type": "other", "value": "b@x.com"}],
            "name": {"familyName": "Ng"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "m1"}, "department": "Retail"}
        });
        let Some(Value::Complex(attrs)) = from_json(&json) else { panic!() };
        assert_eq!(decode(&encode(&attrs)), Some(attrs.clone()));
        assert_eq!(
            encode(&attrs),
            to_json(&Value::Complex(attrs.clone())).to_string(),
            "the same text as the JSON tree"
        );
        let rows: Vec<(String, i64, String, String)> =
            flatten(&attrs).into_iter().map(|r| (r.attr, r.idx, r.sub, r.folded)).collect();
        let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let want = vec![
            ("emails".into(), 0, "primary".into(), "true".into()),
            ("emails".into(), 0, "type".into(), "work".into()),
            ("emails".into(), 0, "value".into(), "a@x.com".into()),
            ("emails".into(), 1, "type".into(), "other".into()),
            ("emails".into(), 1, "value".into(), "b@x.com".into()),
            ("name".into(), 0, "familyName".into(), "ng".into()),
            ("title".into(), 0, "".into(), "buyer".into()),
            (format!("{ent}:department"), 0, "".into(), "retail".into()),
            (format!("{ent}:manager"), 0, "value".into(), "m1".into()),
        ];
        assert_eq!(rows, want);
    }
}
