//! `AuditLog`: the append-only audit records of each organization.

use super::{micros, other, time, DieselTx};
use crate::conn::binds;
use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::QueryableByName;
use enlist_core::model::*;
use enlist_core::ports::*;
use enlist_core::types::*;

#[derive(QueryableByName)]
struct AuditRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    organization_id: String,
    #[diesel(sql_type = BigInt)]
    at: i64,
    #[diesel(sql_type = Text)]
    actor: String,
    #[diesel(sql_type = Text)]
    resource: String,
    #[diesel(sql_type = Text)]
    resource_id: String,
    #[diesel(sql_type = Text)]
    operation: String,
    #[diesel(sql_type = Text)]
    changes: String,
    #[diesel(sql_type = Nullable<Text>)]
    note: Option<String>,
}

fn kind(s: &str) -> ResourceKind {
    match s {
        "User" => ResourceKind::User,
        "Group" => ResourceKind::Group,
        "ApiKey" => ResourceKind::ApiKey,
        _ => ResourceKind::Organization,
    }
}
fn operation(s: &str) -> Operation {
    match s {
        "create" => Operation::Create,
        "replace" => Operation::Replace,
        "patch" => Operation::Patch,
        "delete" => Operation::Delete,
        "revoke" => Operation::Revoke,
        "hold" => Operation::Hold,
        "approve" => Operation::Approve,
        "dismiss" => Operation::Dismiss,
        _ => Operation::Configure,
    }
}

/// The changes as JSON text, written straight from the values: no JSON
/// tree and copy of each value (a create's record holds every attribute).
/// The keys come in the order a JSON tree gave them (sorted).
fn changes_json(changes: &[AttributeChange]) -> String {
    use crate::codec::Ser;
    use serde::ser::{Serialize, SerializeMap, Serializer};
    struct Changes<'a>(&'a [AttributeChange]);
    struct Change<'a>(&'a AttributeChange);
    impl Serialize for Changes<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(self.0.iter().map(Change))
        }
    }
    impl Serialize for Change<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut m = s.serialize_map(Some(3))?;
            m.serialize_entry("after", &self.0.after.as_ref().map(Ser))?;
            m.serialize_entry("attribute", &self.0.attribute)?;
            m.serialize_entry("before", &self.0.before.as_ref().map(Ser))?;
            m.end()
        }
    }
    serde_json::to_string(&Changes(changes)).unwrap_or_default()
}

fn changes_from(text: &str) -> Vec<AttributeChange> {
    let Ok(serde_json::Value::Array(items)) = serde_json::from_str(text) else { return Vec::new() };
    items
        .iter()
        .map(|i| AttributeChange {
            attribute: i["attribute"].as_str().unwrap_or_default().to_owned(),
            before: crate::codec::value_of(&i["before"]),
            after: crate::codec::value_of(&i["after"]),
        })
        .collect()
}

impl AuditLog for DieselTx<'_> {
    fn append(&mut self, r: &AuditRecord) -> RepoResult<()> {
        self.insert_later(
            "audit_log (id, organization_id, at, actor, resource, resource_id, operation, changes, note)",
            binds![
                r.id.as_str(),
                r.organization_id.as_str(),
                micros(r.at),
                r.actor.as_str(),
                r.resource.as_str(),
                r.resource_id.as_str(),
                r.operation.as_str(),
                changes_json(&r.changes),
                r.note.clone()
            ],
        )
    }
    fn list(&mut self, org: &OrganizationId, since: Option<DateTime<Utc>>, limit: u64) -> RepoResult<Vec<AuditRecord>> {
        let rows: Vec<AuditRow> = self
            .db
            .load(
                "SELECT id, organization_id, at, actor, resource, resource_id, operation, changes, note FROM audit_log \
                 WHERE organization_id = $1 AND at >= $2 ORDER BY seq LIMIT $3",
                binds![org.as_str(), since.map_or(i64::MIN, micros), limit as i64],
            )
            .map_err(other)?;
        Ok(rows
            .into_iter()
            .map(|r| AuditRecord {
                id: enlist_core::AuditId::new(r.id),
                organization_id: OrganizationId::new(r.organization_id),
                at: time(r.at),
                actor: r.actor,
                resource: kind(&r.resource),
                resource_id: r.resource_id,
                operation: operation(&r.operation),
                changes: changes_from(&r.changes),
                note: r.note,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use enlist_core::value::Value;

    #[test]
    fn changes_are_written_as_their_json_tree_was_and_read_back() {
        let complex =
            |pairs: &[(&str, Value)]| Value::Complex(pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect());
        let changes = vec![
            AttributeChange {
                attribute: "title".into(),
                before: None,
                after: Some(Value::String("Buyer \"A\" \u{e9}".into())),
            },
            AttributeChange {
                attribute: "emails".into(),
                before: Some(Value::Multi(vec![complex(&[
                    ("value", Value::String("a@x.com".into())),
                    ("primary", Value::Bool(true)),
                ])])),
                after: None,
            },
            AttributeChange {
                attribute: "n".into(),
                before: Some(Value::Integer(-3)),
                after: Some(Value::Decimal(1.5)),
            },
            AttributeChange { attribute: "nan".into(), before: Some(Value::Decimal(f64::NAN)), after: None },
        ];
        // What the JSON tree gave before (`to_json` of each value).
        let tree: Vec<serde_json::Value> = changes
            .iter()
            .map(|c| {
                serde_json::json!({
                    "attribute": c.attribute,
                    "before": c.before.as_ref().map(crate::codec::to_json),
                    "after": c.after.as_ref().map(crate::codec::to_json),
                })
            })
            .collect();
        let text = changes_json(&changes);
        assert_eq!(text, serde_json::Value::Array(tree).to_string());
        let back = changes_from(&text);
        assert_eq!(back[..3], changes[..3]);
        assert_eq!(
            (back[3].before.as_ref(), back[3].after.as_ref()),
            (None, None),
            "a number JSON cannot hold is null"
        );
        assert_eq!(changes_json(&[]), "[]");
    }
}
