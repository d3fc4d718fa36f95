//! Connection health per API key on Integrations: a state (waiting for
//! the first request, healthy, failing, idle, revoked), the latest request
//! and success, requests and refusals in the last 24 hours (every process's
//! counts, added up in `key_usage`), and the most frequent refusal with its
//! fix; plus the JSON the page polls while it waits for a new key's first
//! request, as Entra ID's Test Connection makes it.

use crate::{detail, signed_in, ConsoleState};
use actix_web::{web, HttpRequest, HttpResponse};
use enlist_core::{ActivityQuery, ActivityRecord, ApiKey, ApiKeyId, KeyUsage, Organization};
use serde::Serialize;

/// Where a key stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyState {
    /// Never used: the identity provider has not reached Enlist with it.
    Waiting,
    /// Its latest request succeeded.
    Healthy,
    /// Its latest request was refused.
    Failing,
    /// Used before, but not in the last 24 hours.
    Idle,
    /// Revoked: every request with it is refused.
    Revoked,
}

impl KeyState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Healthy => "healthy",
            Self::Failing => "failing",
            Self::Idle => "idle",
            Self::Revoked => "revoked",
        }
    }
    /// What the badge says.
    pub(crate) fn words(self) -> &'static str {
        match self {
            Self::Waiting => "Waiting for the first request",
            Self::Healthy => "Healthy",
            Self::Failing => "Failing",
            Self::Idle => "No request in 24 h",
            Self::Revoked => "Revoked",
        }
    }
}

/// One key's health.
pub(crate) struct KeyHealth {
    pub(crate) state: KeyState,
    pub(crate) last_request: Option<chrono::DateTime<chrono::Utc>>,
    pub(crate) last_success: Option<chrono::DateTime<chrono::Utc>>,
    pub(crate) requests: u64,
    pub(crate) refusals: u64,
    /// The most frequent refusal in 24 h: what the identity provider was
    /// told, how often, and the fix where there is one.
    pub(crate) top_refusal: Option<(String, usize, Option<String>)>,
}

/// The health of `key` from its last 24 hours of usage and the
/// organization's refused requests in that time.
pub(crate) fn of(key: &ApiKey, usage: &[KeyUsage], refused: &[ActivityRecord], org: &Organization) -> KeyHealth {
    let mine: Vec<&KeyUsage> = usage.iter().filter(|u| u.key_id == key.id).collect();
    let requests = mine.iter().map(|u| u.requests).sum();
    let refusals = mine.iter().map(|u| u.refusals).sum();
    let last_request = mine.iter().map(|u| u.last_request_at).max().or(key.last_used_at);
    let last_success = mine.iter().filter_map(|u| u.last_success_at).max();
    let state = if key.revoked_at.is_some() {
        KeyState::Revoked
    } else if mine.is_empty() {
        if key.last_used_at.is_some() {
            KeyState::Idle
        } else {
            KeyState::Waiting
        }
    } else if last_success.is_some_and(|s| Some(s) >= last_request) {
        KeyState::Healthy
    } else {
        KeyState::Failing
    };
    // Refusals are recorded by label: a rotated key shares its label.
    let mut counts: Vec<(&str, usize, &ActivityRecord)> = Vec::new();
    for r in refused.iter().filter(|r| r.key_label == key.label) {
        let Some(d) = r.detail.as_deref() else { continue };
        match counts.iter_mut().find(|(seen, _, _)| *seen == d) {
            Some(c) => c.1 += 1,
            None => counts.push((d, 1, r)),
        }
    }
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    let top_refusal = counts.first().map(|(d, n, r)| ((*d).to_owned(), *n, crate::pages::fix_for(r, org)));
    KeyHealth { state, last_request, last_success, requests, refusals, top_refusal }
}

/// What the console needs for every key's health: 24 hours of usage and
/// of refused requests (at most 500, newest first).
pub(crate) async fn inputs(
    state: &ConsoleState,
    org: &Organization,
) -> Result<(Vec<KeyUsage>, Vec<ActivityRecord>), enlist_core::Error> {
    let since = state.now() - chrono::Duration::hours(24);
    let usage = state.activity.usage(&org.id, since).await?;
    let query = ActivityQuery { failed_only: true, since: Some(since), limit: 500, ..ActivityQuery::default() };
    let refused = state.activity.list(&org.id, query).await?;
    Ok((usage, refused))
}

#[derive(Serialize)]
struct HealthJson {
    state: &'static str,
    words: &'static str,
    #[serde(rename = "lastRequest")]
    last_request: Option<String>,
}

/// `GET {base}/keys/{id}/health`: one key's state, for the page waiting on
/// a new key's first request.
pub(crate) async fn key_json(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<ConsoleState>,
) -> HttpResponse {
    let (_, caller) = match signed_in(&req, &state).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let id = ApiKeyId::new(path.into_inner());
    let found = async {
        let keys = state.enlist.api_keys.list(&caller).await?;
        let org = state.enlist.organizations.find(caller.organization_id.as_str()).await?;
        let Some(key) = keys.into_iter().find(|k| k.id == id) else { return Ok(None) };
        // The state needs only the usage: no refused requests are read
        // for a page that polls every few seconds.
        let usage = state.activity.usage(&org.id, state.now() - chrono::Duration::hours(24)).await?;
        Ok::<_, enlist_core::Error>(Some(of(&key, &usage, &[], &org)))
    };
    match found.await {
        Ok(Some(h)) => HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(HealthJson {
            state: h.state.as_str(),
            words: h.state.words(),
            last_request: h.last_request.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string()),
        }),
        Ok(None) => HttpResponse::NotFound().json(serde_json::json!({"detail": "no such key in this organization"})),
        Err(e) => HttpResponse::Forbidden().json(serde_json::json!({"detail": detail(&e)})),
    }
}
