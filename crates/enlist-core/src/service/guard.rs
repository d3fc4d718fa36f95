//! The deprovisioning guard: every deactivation or deletion of an active
//! member by an API key counts against the organization's limit, one at a
//! time under the guard's row lock (so processes sharing a database never
//! let more through than allowed); past the limit the guard trips and
//! holds further removals, and an Admin or the operator approves them or
//! dismisses the hold. Reactivations, creates, updates and group changes
//! never count and are never held.

use super::*;
use crate::guard::{GuardPhase, GuardSettings, GuardState, GuardStatus, HeldRemoval, Removal, HELD_RETRY_AFTER_SECS};

/// The most held requests a status shows.
pub const MAX_HELD_SHOWN: u64 = 1_000;
/// The most Admins an alert is mailed to.
const MAX_ALERTED_ADMINS: u64 = 50;

/// What the guard says about one removal.
pub(crate) enum Admit {
    /// Apply it (it was counted).
    Go,
    /// Held: commit only the guard's bookkeeping and answer with this.
    Held(Error),
}

/// Checks one removal of `user` asked by `caller`, before anything of the
/// change is written. Only API keys (the identity provider) are counted:
/// the operator and Admins act on purpose. Removing a member who is
/// already inactive takes nobody's access away and is not counted.
pub(crate) fn admit(
    tx: &mut dyn Transaction,
    deps: &Deps,
    caller: &Caller,
    user: &User,
    removal: Removal,
) -> Result<Admit> {
    let Actor::ApiKey { label, .. } = &caller.actor else { return Ok(Admit::Go) };
    if !user.profile.active() {
        return Ok(Admit::Go);
    }
    let org = &caller.organization_id;
    let now = deps.clock.now();
    let mut state = tx.guard().lock(org)?;
    match state.phase(now) {
        GuardPhase::Off | GuardPhase::Approved => {
            tx.guard().record_removal(org, &user.id, now)?;
            return Ok(Admit::Go);
        }
        GuardPhase::Counting => {
            let removed = tx.guard().removals_since(org, state.counting_from(now))?;
            // The share needs the active count only once the floor is
            // reached: most removals cost one indexed count.
            if u64::from(state.settings.max) > removed {
                tx.guard().record_removal(org, &user.id, now)?;
                return Ok(Admit::Go);
            }
            let limit = state.settings.limit(tx.users().count_active(org)? + removed);
            if limit > removed {
                tx.guard().record_removal(org, &user.id, now)?;
                return Ok(Admit::Go);
            }
            trip(tx, deps, caller, label, &mut state, (removed, limit), now)?;
        }
        GuardPhase::Held => {}
    }
    tx.guard().hold(&HeldRemoval {
        organization_id: org.clone(),
        user_id: user.id.clone(),
        user_name: user.profile.user_name().as_str().to_owned(),
        email: user.profile.email().as_str().to_owned(),
        removal,
        key_label: label.clone(),
        first_at: now,
        last_at: now,
        attempts: 1,
    })?;
    Ok(Admit::Held(held_error(&state.settings, user, removal)))
}

/// The guard trips: held from now, said once to the host (event), the
/// Admins (mail) and the audit log. `(removed, limit)`: the window's count
/// and limit, as `admit` found them.
fn trip(
    tx: &mut dyn Transaction,
    deps: &Deps,
    caller: &Caller,
    label: &str,
    state: &mut GuardState,
    (removed, limit): (u64, u64),
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    let org = load_org(tx, &caller.organization_id)?;
    state.held_since = Some(now);
    state.approved_until = None;
    tx.guard().save(&org.id, state)?;
    let window_secs = state.settings.window_secs;
    let data = EventData::DeprovisioningHeld {
        name: org.name.clone(),
        removed,
        limit,
        window_secs,
        key_label: label.to_owned(),
    };
    emit(tx, deps, &org.id, &caller.actor, EventKind::OrganizationDeprovisioningHeld, data)?;
    Audit::new(&org.id, &caller.actor, ResourceKind::Organization, org.id.as_str(), Operation::Hold, Vec::new())
        .note(Some(format!(
            "deprovisioning guard tripped: {removed} removals in {} (limit {limit}); further deactivations and deletions are held",
            state.settings.window_words()
        )))
        .record(tx, deps)?;
    for admin in tx.users().active_admins(&org.id, MAX_ALERTED_ADMINS)? {
        tx.outbox().enqueue(&Notification {
            id: deps.ids.id(),
            organization_id: org.id.clone(),
            organization_name: org.name.clone(),
            recipient: admin.profile.email().as_str().to_owned(),
            recipient_name: admin.profile.display_name().map(str::to_owned),
            added_by: label.to_owned(),
            created_at: now,
            kind: NotificationKind::DeprovisioningHeld { removed, limit, window_secs },
        })?;
    }
    Ok(())
}

/// What the identity provider is told, in the Admin's words: the admin
/// of Entra ID or Okta reads it in their provisioning logs.
fn held_error(settings: &GuardSettings, user: &User, removal: Removal) -> Error {
    let verb = match removal {
        Removal::Deactivate => "deactivation",
        Removal::Delete => "deletion",
    };
    Error::Held {
        detail: format!(
            "Enlist held the {verb} of {}: this organization's deprovisioning guard stopped removals after more than \
             {} people (or {} % of members) were deactivated or deleted within {}. Nothing was changed. If the \
             identity provider's scope or group assignment changed by mistake, fix it there; if the removals are \
             intended, an Admin approves them in the Enlist console (Provisioning guard), and this request will \
             succeed when retried.",
            user.profile.email(),
            settings.max,
            settings.percent,
            settings.window_words()
        ),
        retry_after_secs: HELD_RETRY_AFTER_SECS,
    }
}

/// The guard use cases: status, settings, decisions.
#[derive(Clone)]
pub struct Guard {
    deps: Deps,
}

impl Guard {
    pub(crate) fn new(deps: Deps) -> Self {
        Self { deps }
    }

    /// Where the organization's guard stands, with the held requests.
    ///
    /// # Errors
    /// `Forbidden` unless the caller is an Admin or the operator.
    pub async fn status(&self, caller: &Caller) -> Result<GuardStatus> {
        let (deps, caller) = (self.deps.clone(), caller.clone());
        transact(&*self.deps.store, Mode::Read, move |tx| {
            require_admin(tx, &caller, "see the deprovisioning guard")?;
            status(tx, &caller.organization_id, deps.clock.now())
        })
        .await
    }

    /// Changes the settings (the operator; shown to Admins). Switching the
    /// guard off does not approve what it holds: the list stays until an
    /// approval or a dismissal.
    ///
    /// # Errors
    /// `Forbidden` unless the operator; `InvalidValue` for settings out of
    /// range.
    pub async fn configure(&self, caller: &Caller, settings: GuardSettings) -> Result<GuardStatus> {
        let settings = settings.checked()?;
        let (deps, caller) = (self.deps.clone(), caller.clone());
        transact(&*self.deps.store, Mode::WriteOnce, move |tx| {
            if caller.actor != Actor::Operator {
                return Err(Error::Forbidden {
                    detail: "only the operator sets the deprovisioning guard (enlist org guard); ask them to change it"
                        .into(),
                });
            }
            let org = load_org(tx, &caller.organization_id)?;
            let mut state = tx.guard().lock(&org.id)?;
            let before = state.settings;
            state.settings = settings;
            tx.guard().save(&org.id, &state)?;
            let change = |name: &str, b: String, a: String| AttributeChange {
                attribute: format!("deprovisioningGuard.{name}"),
                before: Some(crate::value::Value::String(b)),
                after: Some(crate::value::Value::String(a)),
            };
            let changes: Vec<AttributeChange> = [
                change("enabled", before.enabled.to_string(), settings.enabled.to_string()),
                change("max", before.max.to_string(), settings.max.to_string()),
                change("percent", before.percent.to_string(), settings.percent.to_string()),
                change("windowSeconds", before.window_secs.to_string(), settings.window_secs.to_string()),
            ]
            .into_iter()
            .filter(|c| c.before != c.after)
            .collect();
            if !changes.is_empty() {
                Audit::new(
                    &org.id,
                    &caller.actor,
                    ResourceKind::Organization,
                    org.id.as_str(),
                    Operation::Configure,
                    changes,
                )
                .record(tx, &deps)?;
            }
            status(tx, &org.id, deps.clock.now())
        })
        .await
    }

    /// Approves what the guard holds: removals pass for the rest of the
    /// window (one window from now), so the identity provider's retries
    /// apply; the held list is emptied. Returns how many were held.
    ///
    /// # Errors
    /// `Forbidden` unless an Admin or the operator; `Conflict` when nothing
    /// is held.
    pub async fn approve(&self, caller: &Caller) -> Result<u64> {
        self.decide(caller, Operation::Approve).await
    }

    /// Dismisses a hold without approving it, once the identity provider
    /// is fixed: the held list is emptied and counting starts afresh, so
    /// removals the provider still sends are counted from zero. Returns
    /// how many were held.
    ///
    /// # Errors
    /// `Forbidden` unless an Admin or the operator; `Conflict` when nothing
    /// is held.
    pub async fn dismiss(&self, caller: &Caller) -> Result<u64> {
        self.decide(caller, Operation::Dismiss).await
    }

    /// Deletes counted removals older than the longest window (the hourly
    /// pruning); how many.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn prune(&self) -> Result<u64> {
        let before = self.deps.clock.now() - chrono::Duration::seconds(i64::from(crate::guard::MAX_WINDOW_SECS));
        transact(&*self.deps.store, Mode::WriteOnce, move |tx| Ok(tx.guard().prune(before)?)).await
    }

    async fn decide(&self, caller: &Caller, decision: Operation) -> Result<u64> {
        let (deps, caller) = (self.deps.clone(), caller.clone());
        transact(&*self.deps.store, Mode::WriteOnce, move |tx| {
            let what = if decision == Operation::Approve { "approve held removals" } else { "dismiss a hold" };
            require_admin(tx, &caller, what)?;
            let org = load_org(tx, &caller.organization_id)?;
            let now = deps.clock.now();
            let mut state = tx.guard().lock(&org.id)?;
            if state.held_since.is_none() {
                return Err(Error::Conflict {
                    detail: "the deprovisioning guard holds nothing now; there is nothing to decide".into(),
                });
            }
            let held = tx.guard().held(&org.id, MAX_HELD_SHOWN)?;
            let cleared = tx.guard().clear_held(&org.id)?;
            state.held_since = None;
            if decision == Operation::Approve {
                // Removals during the approval never count afterwards.
                let until = now + state.settings.window();
                state.approved_until = Some(until);
                state.counted_since = Some(until);
            } else {
                state.counted_since = Some(now);
            }
            tx.guard().save(&org.id, &state)?;
            let mut people: Vec<String> = held.iter().take(20).map(|h| h.email.clone()).collect();
            if held.len() > 20 {
                people.push(format!("and {} more", cleared.saturating_sub(20)));
            }
            let note = if decision == Operation::Approve {
                format!(
                    "approved {cleared} held removals ({}); removals pass until {}",
                    people.join(", "),
                    (now + state.settings.window()).format("%Y-%m-%d %H:%M UTC")
                )
            } else {
                format!("dismissed the hold of {cleared} removals ({}); counting starts afresh", people.join(", "))
            };
            Audit::new(&org.id, &caller.actor, ResourceKind::Organization, org.id.as_str(), decision, Vec::new())
                .note(Some(note))
                .record(tx, &deps)?;
            Ok(cleared)
        })
        .await
    }
}

fn status(tx: &mut dyn Transaction, org: &OrganizationId, now: chrono::DateTime<chrono::Utc>) -> Result<GuardStatus> {
    let state = tx.guard().get(org)?;
    let removed = tx.guard().removals_since(org, state.counting_from(now))?;
    let active = tx.users().count_active(org)?;
    let held = tx.guard().held(org, MAX_HELD_SHOWN)?;
    Ok(GuardStatus {
        phase: state.phase(now),
        limit: state.settings.limit(active + removed),
        state,
        removed,
        active,
        held,
    })
}
