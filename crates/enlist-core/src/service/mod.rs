//! The use cases adapters call. One service per aggregate; each runs its
//! rules inside one unit of work of the [`Store`].

mod console;
mod events;
mod groups;
mod guard;
mod keys;
mod orgs;
mod users;
mod webhook_url;
mod webhooks;

pub use console::{Console, LinkPreview, SignedIn, LINK_MINUTES, SESSION_HOURS};
pub use events::{Events, MAX_EVENTS_PER_READ};
pub use groups::{GroupView, Groups, NewGroup};
pub use guard::{Guard, MAX_HELD_SHOWN};
pub use keys::{ApiKeys, NewApiKey};
pub use orgs::{DomainChallenge, NewOrganization, Organizations, DEFAULT_ORGANIZATION};
pub use users::{NewUser, UserView, Users};
pub use webhook_url::{check_webhook_url, is_internal_address, WebhookUrl};
pub use webhooks::{Webhooks, MAX_WEBHOOKS_PER_ORGANIZATION};

use crate::error::{Error, RepoError, Result, Uniqueness};
use crate::event::{Event, EventData, EventKind, GroupSnapshot, UserSnapshot};
use crate::model::*;
use crate::ports::{Clock, DomainVerifier, IdGenerator, Store, Transaction, Work};
use crate::types::*;
use std::sync::{Arc, Mutex};

/// What every service needs: the store, the clock and the id generator.
#[derive(Clone)]
pub struct Deps {
    /// Storage.
    pub store: Arc<dyn Store>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Ids and secrets.
    pub ids: Arc<dyn IdGenerator>,
    /// DNS TXT lookups for domain proofs ([`crate::ports::NoDomainVerification`]
    /// where organization Admins never register domains themselves).
    pub dns: Arc<dyn DomainVerifier>,
}

/// All services, wired to one set of ports.
#[derive(Clone)]
pub struct Services {
    /// Users (memberships).
    pub users: Users,
    /// Groups.
    pub groups: Groups,
    /// Organizations and domains.
    pub organizations: Organizations,
    /// API keys and authentication.
    pub api_keys: ApiKeys,
    /// Change events, for replay.
    pub events: Events,
    /// Webhook endpoints.
    pub webhooks: Webhooks,
    /// Console sign-in and sessions.
    pub console: Console,
    /// The deprovisioning guard.
    pub guard: Guard,
}

impl Services {
    /// Wires every service to `deps`.
    pub fn new(deps: Deps) -> Self {
        Self {
            users: Users::new(deps.clone()),
            groups: Groups::new(deps.clone()),
            organizations: Organizations::new(deps.clone()),
            api_keys: ApiKeys::new(deps.clone()),
            events: Events::new(deps.clone()),
            webhooks: Webhooks::new(deps.clone()),
            console: Console::new(deps.clone()),
            guard: Guard::new(deps),
        }
    }
}

/// How many times a write that lost an optimistic race is re-run.
const RETRIES: usize = 3;

/// How a unit of work runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A read-only transaction.
    Read,
    /// A write that is re-run from the start when it loses a race (version
    /// check, concurrent account creation, a serialization failure).
    Write,
    /// A write run once: its outcome does not depend on what it read
    /// (operator settings, a key's last use), so a lost race is reported.
    WriteOnce,
}

/// Runs `f` in one transaction and carries its result out. In
/// [`Mode::Write`] a unit of work that loses a race is re-run, up to
/// [`RETRIES`] times; a version pinned with If-Match fails inside `f` as
/// `PreconditionFailed` instead.
pub(crate) async fn transact<R, F>(store: &dyn Store, mode: Mode, f: F) -> Result<R>
where
    R: Send + 'static,
    F: Fn(&mut dyn Transaction) -> Result<R> + Send + Sync + 'static,
{
    let f = Arc::new(f);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let slot: Arc<Mutex<Option<R>>> = Arc::new(Mutex::new(None));
        let (f2, slot2) = (f.clone(), slot.clone());
        let work: Work = Box::new(move |tx| {
            let r = f2(tx)?;
            *slot2.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
            Ok(())
        });
        let outcome = if mode == Mode::Read { store.read(work).await } else { store.write(work).await };
        match outcome {
            Ok(()) => {
                let r = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
                return r.ok_or_else(|| Error::Unexpected("the store did not run the unit of work".into()));
            }
            Err(Error::Retry) if mode == Mode::Write && attempt < RETRIES => continue,
            Err(Error::Retry) => {
                return Err(Error::Conflict {
                    detail: "the resource kept changing while this request ran; read it again and retry".into(),
                })
            }
            Err(e) => return Err(e),
        }
    }
}

/// Whether `c` must never appear in a name or label that people read in a
/// terminal, a mail or a page: C0 and C1 controls, DEL, and the Unicode
/// bidirectional overrides that reorder what a reader sees.
pub fn is_hostile_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Refuses a name or label (`what`, e.g. "an API key label") that holds a
/// control character or is longer than `max_chars`: such text reaches the
/// operator's terminal and people's mail boxes.
pub(crate) fn check_display_text(what: &str, text: &str, max_chars: usize) -> Result<()> {
    if let Some(c) = text.chars().find(|c| is_hostile_char(*c)) {
        return Err(Error::invalid(format!(
            "{what} may not contain control characters (found U+{:04X}); use plain text",
            u32::from(c)
        )));
    }
    if text.chars().count() > max_chars {
        return Err(Error::invalid(format!("{what} is longer than {max_chars} characters; shorten it")));
    }
    Ok(())
}

pub(crate) fn load_org(tx: &mut dyn Transaction, id: &OrganizationId) -> Result<Organization> {
    tx.organizations().get(id)?.ok_or_else(|| Error::not_found(format!("organization {id}")))
}

/// One audit record in the making: every change a use case commits writes
/// one, in the same transaction.
pub(crate) struct Audit<'a> {
    org: &'a OrganizationId,
    actor: &'a Actor,
    resource: ResourceKind,
    resource_id: &'a str,
    operation: Operation,
    changes: Vec<AttributeChange>,
    note: Option<String>,
}

impl<'a> Audit<'a> {
    pub(crate) fn new(
        org: &'a OrganizationId,
        actor: &'a Actor,
        resource: ResourceKind,
        resource_id: &'a str,
        operation: Operation,
        changes: Vec<AttributeChange>,
    ) -> Self {
        Self { org, actor, resource, resource_id, operation, changes, note: None }
    }

    /// A remark beside the changes (for example: a password was ignored).
    pub(crate) fn note(mut self, note: Option<String>) -> Self {
        self.note = note;
        self
    }

    /// Appends the record, stamped with the clock and a fresh id.
    pub(crate) fn record(self, tx: &mut dyn Transaction, deps: &Deps) -> Result<()> {
        let record = AuditRecord {
            id: AuditId::new(deps.ids.id()),
            organization_id: self.org.clone(),
            at: deps.clock.now(),
            actor: self.actor.label(),
            resource: self.resource,
            resource_id: self.resource_id.to_owned(),
            operation: self.operation,
            changes: self.changes,
            note: self.note,
        };
        tx.audit().append(&record)?;
        Ok(())
    }
}

/// Appends one change event to the organization's log, in the transaction
/// of the change it describes.
pub(crate) fn emit(
    tx: &mut dyn Transaction,
    deps: &Deps,
    org: &OrganizationId,
    actor: &Actor,
    kind: EventKind,
    data: EventData,
) -> Result<()> {
    let event = Event {
        id: EventId::new(deps.ids.id()),
        organization_id: org.clone(),
        seq: 0,
        at: deps.clock.now(),
        actor: actor.label(),
        kind,
        data,
    };
    tx.events().append(&event)?;
    Ok(())
}

/// If-Match: refuses a change to `kind` `id`, now at `current`, when the
/// client pinned another version.
pub(crate) fn check_version(kind: &str, id: &str, current: u64, if_match: Option<u64>) -> Result<()> {
    match if_match {
        Some(v) if v != current => Err(Error::PreconditionFailed {
            detail: format!(
                "If-Match names version {v}, but {kind} {id} is at version {current}; read it again and retry"
            ),
        }),
        _ => Ok(()),
    }
}

/// Only the operator or an active Admin member of the organization.
pub(crate) fn require_admin(tx: &mut dyn Transaction, caller: &Caller, what: &str) -> Result<()> {
    match &caller.actor {
        Actor::Operator => Ok(()),
        Actor::Member { user } => match tx.users().get(&caller.organization_id, user)? {
            Some(u) if u.is_active_admin() => Ok(()),
            _ => Err(Error::Forbidden {
                detail: format!("only an Admin of the organization or the operator may {what}"),
            }),
        },
        Actor::ApiKey { .. } => Err(Error::Forbidden {
            detail: format!("API keys cannot {what}; an organization Admin or the operator (enlist CLI) does"),
        }),
    }
}

/// Recomputes the effective roles of `ids` (after their group memberships
/// or a group's role changed), refusing to leave the organization without
/// an active Admin.
/// Each user whose role moves gets a `user.role_changed` event.
pub(crate) fn recompute_roles(
    tx: &mut dyn Transaction,
    deps: &Deps,
    actor: &Actor,
    org: &Organization,
    ids: &[UserId],
    why: &str,
) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    // Lock, then read: see `UserRepo::lock`.
    tx.users().lock(&org.id, ids)?;
    let users = tx.users().get_many(&org.id, ids)?;
    let floors: std::collections::HashMap<UserId, Role> =
        tx.groups().group_role_floor(&org.id, ids)?.into_iter().collect();
    let mut computed = Vec::new();
    let mut losing = Vec::new();
    for u in &users {
        let (role, source) = effective_role(u.profile.roles(), floors.get(&u.id).copied(), org.default_role);
        if (role, source) != (u.effective_role, u.role_source) {
            if u.is_active_admin() && role != Role::Admin {
                losing.push(u.profile.user_name().as_str().to_owned());
            }
            computed.push((u, role, source));
        }
    }
    if !losing.is_empty() {
        guard_last_admin(tx, &org.id, losing.len() as u64, || {
            format!(
                "Cannot {why}: {} would no longer be Admin, leaving this Enlist organization without an active Admin. \
                 Give another user the Admin role first, then retry.",
                losing.join(", ")
            )
        })?;
    }
    let updates: Vec<RoleUpdate<'_>> =
        computed.iter().map(|(u, role, source)| RoleUpdate { user: &u.id, role: *role, source: *source }).collect();
    if !updates.is_empty() {
        tx.users().set_effective_roles(&org.id, &updates)?;
    }
    for (u, role, source) in &computed {
        let user = UserSnapshot { effective_role: *role, role_source: *source, ..UserSnapshot::of(u) };
        let data = EventData::RoleChanged { user, old_role: u.effective_role, old_source: u.role_source };
        emit(tx, deps, &org.id, actor, EventKind::UserRoleChanged, data)?;
    }
    Ok(())
}

/// Refuses a change that takes `losing` active Admins away when no other
/// would remain. Locks the organization so concurrent demotions serialise.
pub(crate) fn guard_last_admin(
    tx: &mut dyn Transaction,
    org: &OrganizationId,
    losing: u64,
    detail: impl FnOnce() -> String,
) -> Result<()> {
    tx.organizations().lock(org)?;
    let admins = tx.users().count_active_admins(org)?;
    if admins <= losing {
        return Err(Error::Conflict { detail: detail() });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
