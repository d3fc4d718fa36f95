//! Change events as JSON, the one shape a host reads them in: replay
//! (`enlist events --json`), in-process consumers that want text, and
//! webhooks. Follows the Standard Webhooks payload convention (`type`,
//! `timestamp`, `data`), with Enlist's id, organization, sequence and actor.

use crate::resource::value_json;
use enlist_core::event::Event;
use enlist_core::value::Value;
use serde_json::{json, Value as Json};

/// The JSON of one event.
pub fn event_json(e: &Event) -> Json {
    json!({
        "id": e.id.as_str(),
        "type": e.kind.as_str(),
        "organization": e.organization_id.as_str(),
        "seq": e.seq,
        "timestamp": e.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "actor": e.actor,
        "data": value_json(&Value::Complex(e.data.to_value())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use enlist_core::event::{EventData, EventKind};
    use enlist_core::{ApiKeyId, OrganizationId};

    #[test]
    fn an_event_renders_with_its_envelope_and_camel_case_data() {
        let e = Event {
            id: enlist_core::EventId::new("ev1"),
            organization_id: OrganizationId::new("o1"),
            seq: 7,
            at: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default(),
            actor: "Entra".into(),
            kind: EventKind::ApiKeyRevoked,
            data: EventData::ApiKey { id: ApiKeyId::new("k1"), label: "Okta".into() },
        };
        assert_eq!(
            event_json(&e),
            json!({"id": "ev1", "type": "api_key.revoked", "organization": "o1", "seq": 7,
                   "timestamp": "2027-01-15T08:00:00.000Z", "actor": "Entra", "data": {"id": "k1", "label": "Okta"}})
        );
    }
}
