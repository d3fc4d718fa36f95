//! Users: provisioning, changes (PATCH and PUT through one path), deletion.

use super::guard;
use super::*;
use crate::change::{apply_patch, UserChange};
use crate::guard::Removal;
use crate::query::{ListPage, ListQuery};
use crate::schema::ENTERPRISE_USER;
use crate::value::{Complex, Value};
use std::collections::HashMap;

/// A user to provision.
#[derive(Debug, Clone, PartialEq)]
pub struct NewUser {
    /// The writable attributes sent.
    pub attrs: Complex,
    /// Whether the request carried a `password` (ignored on create, and
    /// the audit record says so).
    pub password: bool,
}

/// A user with what a resource shows beside its profile.
#[derive(Debug, Clone, PartialEq)]
pub struct UserView {
    /// The user.
    pub user: User,
    /// Its groups, when asked for.
    pub groups: Option<Vec<GroupRef>>,
    /// The manager's displayName (else userName), when there is a manager.
    pub manager_display: Option<String>,
}

/// The user use cases.
#[derive(Clone)]
pub struct Users {
    deps: Deps,
}

impl Users {
    pub(crate) fn new(deps: Deps) -> Self {
        Self { deps }
    }

    /// Provisions a user: links the account when the email already has one,
    /// computes the effective role, audits, and queues the notification
    /// naming the caller's label.
    ///
    /// # Errors
    /// Validation errors of [`Profile::parse`], `Uniqueness` for a taken
    /// userName or a second membership of the same person, `InvalidValue`
    /// for an unknown manager.
    pub async fn create(&self, caller: &Caller, input: NewUser) -> Result<UserView> {
        let deps = self.deps.clone();
        let caller = caller.clone();
        transact(&*self.deps.store, Mode::Write, move |tx| create(tx, &deps, &caller, input.clone())).await
    }

    /// One user of the caller's organization.
    ///
    /// # Errors
    /// `NotFound` for unknown ids and other organizations' users.
    pub async fn get(&self, caller: &Caller, id: &UserId, with_groups: bool) -> Result<UserView> {
        let (org, id) = (caller.organization_id.clone(), id.clone());
        transact(&*self.deps.store, Mode::Read, move |tx| {
            let found = if with_groups {
                tx.users().get_with_groups(&org, &id)?.map(|(u, g)| (u, Some(g)))
            } else {
                tx.users().get(&org, &id)?.map(|u| (u, None))
            };
            view(tx, found.ok_or_else(|| user_not_found(&id))?)
        })
        .await
    }

    /// The member of the caller's organization with this email (any letter
    /// case), with its groups: the account is global, the membership is
    /// this organization's.
    ///
    /// # Errors
    /// `NotFound` when the person is not a member here.
    pub async fn by_email(&self, caller: &Caller, email: &Email) -> Result<UserView> {
        let (org, email) = (caller.organization_id.clone(), email.clone());
        transact(&*self.deps.store, Mode::Read, move |tx| {
            let not_found = || Error::NotFound { detail: format!("{email} is not a member of this organization") };
            let account = tx.accounts().by_email(&email)?.ok_or_else(not_found)?;
            let user = tx.users().by_account(&org, &account.id)?.ok_or_else(not_found)?;
            let groups = tx.users().groups_of(&org, std::slice::from_ref(&user.id))?;
            view(tx, (user, Some(groups.into_iter().map(|(_, g)| g).collect())))
        })
        .await
    }

    /// A filtered page of the caller's organization's users.
    ///
    /// # Errors
    /// Storage failures only.
    pub async fn list(&self, caller: &Caller, query: ListQuery, with_groups: bool) -> Result<ListPage<UserView>> {
        let org = caller.organization_id.clone();
        transact(&*self.deps.store, Mode::Read, move |tx| {
            let (total, items, next_cursor) = if with_groups {
                let page = tx.users().list_with_groups(&org, &query)?;
                (page.total, page.items.into_iter().map(|(u, g)| (u, Some(g))).collect(), page.next_cursor)
            } else {
                let page = tx.users().list(&org, &query)?;
                (page.total, page.items.into_iter().map(|u| (u, None)).collect(), page.next_cursor)
            };
            Ok(ListPage { total, items: views(tx, items)?, next_cursor })
        })
        .await
    }

    /// Applies a PATCH or PUT. A change that changes nothing writes
    /// nothing.
    ///
    /// # Errors
    /// `PreconditionFailed` when `if_match` is not the current version;
    /// every rule's error (email change, roles, last Admin, password).
    pub async fn change(
        &self,
        caller: &Caller,
        id: &UserId,
        change: UserChange,
        if_match: Option<u64>,
    ) -> Result<UserView> {
        // One unit of work on the writer: reading, applying and checking
        // the change there costs less in all than planning it on a read
        // first (one more thread handoff and a second read of the user:
        // 8,871 -> 6,000 PATCH/s on two cores, see docs/performance.md).
        let (deps, caller, id) = (self.deps.clone(), caller.clone(), id.clone());
        transact(&*self.deps.store, Mode::Write, move |tx| {
            // Locked as it is read: the role computed in `commit_update`
            // must see the memberships that commit with it (a concurrent
            // group change waits, or is waited for). So the groups read
            // with it are the ones the answer shows.
            let (current, groups) =
                tx.users().get_locked(&caller.organization_id, &id)?.ok_or_else(|| user_not_found(&id))?;
            let user = match plan_update(current, &change, if_match)? {
                Planned::Unchanged(user) => user,
                Planned::Changed(plan) => match commit_update(tx, &deps, &caller, plan)? {
                    Committed::Done(user) => user,
                    // The guard's bookkeeping commits; the change does not.
                    Committed::Held(e) => return Ok(Err(e)),
                },
            };
            Ok(Ok(view(tx, (user, Some(groups)))?))
        })
        .await?
    }

    /// Removes the membership; the account stays while it has another.
    ///
    /// # Errors
    /// `NotFound`; `Conflict` for the last active Admin.
    pub async fn delete(&self, caller: &Caller, id: &UserId, if_match: Option<u64>) -> Result<()> {
        let deps = self.deps.clone();
        let (caller, id) = (caller.clone(), id.clone());
        transact(&*self.deps.store, Mode::Write, move |tx| delete(tx, &deps, &caller, &id, if_match)).await?
    }
}

fn user_not_found(id: &UserId) -> Error {
    Error::NotFound { detail: format!("User {id} not found") }
}

fn view(tx: &mut dyn Transaction, user: (User, Option<Vec<GroupRef>>)) -> Result<UserView> {
    // `views` returns exactly one view per user.
    views(tx, vec![user])?.pop().ok_or_else(|| Error::Unexpected("no view for the user".into()))
}

/// Views of a page of users, with their groups when read (`None`: not
/// asked for): their managers' names are read with one query for the
/// whole page, not one per user.
fn views(tx: &mut dyn Transaction, users: Vec<(User, Option<Vec<GroupRef>>)>) -> Result<Vec<UserView>> {
    let Some(org) = users.first().map(|(u, _)| u.organization_id.clone()) else { return Ok(Vec::new()) };
    let managers: Vec<UserId> = users.iter().filter_map(|(u, _)| u.profile.manager()).collect();
    let names: HashMap<UserId, String> = if managers.is_empty() {
        HashMap::new()
    } else {
        tx.users().display_names(&org, &managers)?.into_iter().collect()
    };
    Ok(users
        .into_iter()
        .map(|(user, groups)| {
            let manager_display = user.profile.manager().and_then(|m| names.get(&m).cloned());
            UserView { user, groups, manager_display }
        })
        .collect())
}

fn check_manager(tx: &mut dyn Transaction, org: &OrganizationId, me: Option<&UserId>, profile: &Profile) -> Result<()> {
    if let Some(m) = profile.manager() {
        if Some(&m) == me {
            return Err(Error::invalid("a user cannot be their own manager; map manager to another user's id"));
        }
        if tx.users().existing(org, std::slice::from_ref(&m))?.is_empty() {
            return Err(Error::invalid(format!(
                "manager '{m}' is not a user of this organization; provision the manager first, then set the reference"
            )));
        }
    }
    Ok(())
}

pub(crate) fn create(tx: &mut dyn Transaction, deps: &Deps, caller: &Caller, input: NewUser) -> Result<UserView> {
    let org = load_org(tx, &caller.organization_id)?;
    let mut attrs = input.attrs;
    attrs.remove("password");
    let profile = Profile::parse(attrs)?;
    check_manager(tx, &org.id, None, &profile)?;
    let now = deps.clock.now();
    let candidate = Account { id: AccountId::new(deps.ids.id()), email: profile.email().clone(), created_at: now };
    let account = match tx.accounts().get_or_insert(&candidate) {
        // Another organization created the person at the same moment:
        // run again and link to it.
        Err(RepoError::Unique(Uniqueness::AccountEmail)) => return Err(Error::Retry),
        Ok((account, true)) => account,
        Ok((account, false)) => {
            if let Some(existing) = tx.users().by_account(&org.id, &account.id)? {
                return Err(Error::Uniqueness {
                    rule: Uniqueness::Membership,
                    detail: format!(
                        "{} already belongs to this organization as user '{}' (id {}); one person has one membership per organization. \
                         Match the user on that userName or update it instead.",
                        profile.email(),
                        existing.profile.user_name().as_str(),
                        existing.id
                    ),
                });
            }
            account
        }
        Err(e) => return Err(e.into()),
    };
    let (effective_role, role_source) = effective_role(profile.roles(), None, org.default_role);
    let user = User {
        id: UserId::new(deps.ids.id()),
        organization_id: org.id.clone(),
        account_id: account.id,
        profile,
        effective_role,
        role_source,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    match tx.users().insert(&user) {
        Err(RepoError::Unique(Uniqueness::UserName)) => return Err(user_name_taken(user.profile.user_name())),
        other => other?,
    }
    Audit::new(
        &org.id,
        &caller.actor,
        ResourceKind::User,
        user.id.as_str(),
        Operation::Create,
        diff(&Complex::new(), user.profile.attrs()),
    )
    .note(input.password.then(|| "password in the request was ignored (Enlist never stores passwords)".to_owned()))
    .record(tx, deps)?;
    let data = EventData::User { user: UserSnapshot::of(&user), changed: Vec::new() };
    emit(tx, deps, &org.id, &caller.actor, EventKind::UserCreated, data)?;
    tx.outbox().enqueue(&Notification {
        id: deps.ids.id(),
        organization_id: org.id.clone(),
        organization_name: org.name.clone(),
        recipient: user.profile.email().as_str().to_owned(),
        recipient_name: user.profile.display_name().map(str::to_owned),
        added_by: caller.actor.label(),
        created_at: now,
        kind: NotificationKind::Added,
    })?;
    // A new membership is in no group yet: no need to read them.
    view(tx, (user, Some(Vec::new())))
}

fn user_name_taken(name: &UserName) -> Error {
    Error::Uniqueness {
        rule: Uniqueness::UserName,
        detail: format!(
            "A user with userName '{}' already exists in this organization (userName is unique, case-insensitively). \
             Match on userName to update that user instead of creating another.",
            name.as_str()
        ),
    }
}

/// The email-change rule: the account email is global, so it changes only
/// between two addresses in this organization's registered domains.
fn check_email_change(org: &Organization, old: &Email, new: &Email) -> Result<()> {
    if org.domains.is_empty() || !org.owns(old) || !org.owns(new) {
        return Err(Error::invalid(format!(
            "Email change refused for {old} -> {new}: Enlist changes a user's email only when both the current and the new \
             address are in this organization's registered domains ({}). This applies to guest (B2B) users as well. \
             To give this person a new address, remove and re-provision the user, or ask an Enlist operator.",
            org.domain_list()
        )));
    }
    Ok(())
}

/// What a user change comes to, computed from one read of the user.
enum Planned {
    /// The change changes nothing: nothing is written.
    Unchanged(User),
    /// The new profile, checked, and what to record.
    Changed(Plan),
}

/// A change applied and validated, not yet saved.
struct Plan {
    current: User,
    profile: Profile,
    operation: Operation,
    changes: Vec<AttributeChange>,
}

/// Applies a PATCH or PUT to the stored user and validates the result;
/// reads nothing more.
fn plan_update(current: User, change: &UserChange, if_match: Option<u64>) -> Result<Planned> {
    check_version("User", current.id.as_str(), current.version, if_match)?;
    let (attrs, operation) = match change {
        UserChange::Patch(ops) => (apply_patch(current.profile.attrs(), ops)?, Operation::Patch),
        UserChange::Replace { attrs, password } => {
            if *password {
                return Err(crate::model::password_refused());
            }
            let mut attrs = attrs.clone();
            // A PUT without `active` never suspends anyone.
            attrs.entry("active".into()).or_insert(Value::Bool(current.profile.active()));
            (attrs, Operation::Replace)
        }
    };
    if &attrs == current.profile.attrs() {
        return Ok(Planned::Unchanged(current));
    }
    let profile = Profile::parse(attrs)?;
    let changes = diff(current.profile.attrs(), profile.attrs());
    Ok(Planned::Changed(Plan { current, profile, operation, changes }))
}

/// A planned change saved, or held by the deprovisioning guard. Lives
/// only on the stack of one unit of work: no need to box the user.
#[allow(clippy::large_enum_variant)]
enum Committed {
    Done(User),
    Held(Error),
}

/// Saves a planned change, the user locked: the deprovisioning guard
/// counts a deactivation first (before anything is written, so a held one
/// writes only the guard's bookkeeping); the rules that depend on other
/// rows (the account's email, the manager, group roles, the last Admin)
/// are checked here, then the user, its audit record and its events are
/// written.
fn commit_update(tx: &mut dyn Transaction, deps: &Deps, caller: &Caller, plan: Plan) -> Result<Committed> {
    let Plan { current, profile, operation, changes } = plan;
    if current.profile.active() && !profile.active() {
        if let guard::Admit::Held(e) = guard::admit(tx, deps, caller, &current, Removal::Deactivate)? {
            return Ok(Committed::Held(e));
        }
    }
    let id = &current.id;
    let org_id = &caller.organization_id;
    // The organization is read only where a rule needs it: its domains
    // for an email change, its default role for a role that follows it.
    let mut org: Option<Organization> = None;
    let mut email_changed_from = None;
    if profile.email() != current.profile.email() {
        // Decided against the account's email, which another organization
        // may have changed legitimately: catching up with it is not a change.
        let account_email =
            tx.accounts().get(&current.account_id)?.map_or_else(|| current.profile.email().clone(), |a| a.email);
        if profile.email() != &account_email {
            let loaded = load_org(tx, org_id)?;
            check_email_change(&loaded, &account_email, profile.email())?;
            org = Some(loaded);
            match tx.accounts().set_email(&current.account_id, profile.email()) {
                Err(RepoError::Unique(_)) => {
                    return Err(Error::Uniqueness {
                        rule: Uniqueness::AccountEmail,
                        detail: format!(
                            "{} already belongs to another Enlist account; one address has one account. Ask an Enlist operator to merge them.",
                            profile.email()
                        ),
                    })
                }
                other => other?,
            }
            email_changed_from = Some(account_email.as_str().to_owned());
        }
    }
    if profile.manager() != current.profile.manager() {
        check_manager(tx, org_id, Some(id), &profile)?;
    }
    let (effective_role, role_source) = if profile.roles() == current.profile.roles()
        && current.role_source != RoleSource::Default
    {
        // Group changes recompute their members' roles as they commit,
        // and an assigned or group role does not follow the default:
        // with the same roles, the stored role is what this computes.
        (current.effective_role, current.role_source)
    } else {
        let floor = tx.groups().group_role_floor(org_id, std::slice::from_ref(id))?.into_iter().map(|(_, r)| r).max();
        let default = match org {
            Some(o) => o.default_role,
            None => load_org(tx, org_id)?.default_role,
        };
        effective_role(profile.roles(), floor, default)
    };
    let next = User {
        profile,
        effective_role,
        role_source,
        updated_at: deps.clock.now(),
        version: current.version + 1,
        ..current.clone()
    };
    if current.is_active_admin() && !next.is_active_admin() {
        let verb = if next.profile.active() { "demote" } else { "deactivate" };
        guard_last_admin(tx, org_id, 1, || last_admin_detail(verb, &current))?;
    }
    match tx.users().update(&next, &current) {
        Err(RepoError::Unique(Uniqueness::UserName)) => return Err(user_name_taken(next.profile.user_name())),
        other => other?,
    }
    let changed: Vec<String> = changes.iter().map(|c| c.attribute.clone()).collect();
    Audit::new(org_id, &caller.actor, ResourceKind::User, id.as_str(), operation, changes).record(tx, deps)?;
    user_events(tx, deps, &caller.actor, &current, &next, changed, email_changed_from)?;
    Ok(Committed::Done(next))
}

/// The events of one user's change: `user.updated` naming the changed
/// attributes, then what a host acts on by itself: suspension, the
/// account's email, the effective role.
fn user_events(
    tx: &mut dyn Transaction,
    deps: &Deps,
    actor: &Actor,
    current: &User,
    next: &User,
    changed: Vec<String>,
    email_changed_from: Option<String>,
) -> Result<()> {
    let org = &next.organization_id;
    let user = UserSnapshot::of(next);
    emit(tx, deps, org, actor, EventKind::UserUpdated, EventData::User { user: user.clone(), changed })?;
    if current.profile.active() != next.profile.active() {
        let kind = if next.profile.active() { EventKind::UserReactivated } else { EventKind::UserDeactivated };
        emit(tx, deps, org, actor, kind, EventData::User { user: user.clone(), changed: vec!["active".into()] })?;
    }
    if let Some(old) = email_changed_from {
        emit(tx, deps, org, actor, EventKind::UserEmailChanged, EventData::EmailChanged { user: user.clone(), old })?;
    }
    if (current.effective_role, current.role_source) != (next.effective_role, next.role_source) {
        let data = EventData::RoleChanged { user, old_role: current.effective_role, old_source: current.role_source };
        emit(tx, deps, org, actor, EventKind::UserRoleChanged, data)?;
    }
    Ok(())
}

fn last_admin_detail(verb: &str, user: &User) -> String {
    format!(
        "Cannot {verb} {}: they are the last active Admin of this Enlist organization. \
         Give another user the Admin role (the Enlist 'roles' attribute in your identity provider) first, then retry.",
        user.profile.email()
    )
}

/// Deletes a membership; `Ok(Err(held))` when the deprovisioning guard
/// holds it (its bookkeeping commits, the deletion does not).
fn delete(
    tx: &mut dyn Transaction,
    deps: &Deps,
    caller: &Caller,
    id: &UserId,
    if_match: Option<u64>,
) -> Result<Result<()>> {
    let org = &caller.organization_id;
    let current = tx.users().get(org, id)?.ok_or_else(|| user_not_found(id))?;
    check_version("User", current.id.as_str(), current.version, if_match)?;
    // The guard's row before the organization's (as a deactivation takes
    // them), so two removals never wait on each other crosswise; a removal
    // the last-Admin rule refuses rolls its count back.
    if let guard::Admit::Held(e) = guard::admit(tx, deps, caller, &current, Removal::Delete)? {
        return Ok(Err(e));
    }
    if current.is_active_admin() {
        guard_last_admin(tx, org, 1, || last_admin_detail("delete", &current))?;
    }
    // Manager references to the user go with it.
    for managed in tx.users().managed_by(org, id)? {
        let mut attrs = managed.profile.attrs().clone();
        if let Some(Value::Complex(ext)) = attrs.get_mut(ENTERPRISE_USER) {
            ext.remove("manager");
            if ext.is_empty() {
                attrs.remove(ENTERPRISE_USER);
            }
        }
        // Stored attributes minus one reference: trusted as stored.
        let next = User {
            profile: Profile::from_stored(attrs),
            updated_at: deps.clock.now(),
            version: managed.version + 1,
            ..managed.clone()
        };
        tx.users().update(&next, &managed)?;
        let data =
            EventData::User { user: UserSnapshot::of(&next), changed: vec![format!("{ENTERPRISE_USER}:manager")] };
        emit(tx, deps, org, &caller.actor, EventKind::UserUpdated, data)?;
    }
    tx.users().delete(org, id)?;
    tx.accounts().delete_if_orphan(&current.account_id)?;
    let data = EventData::User { user: UserSnapshot::of(&current), changed: Vec::new() };
    emit(tx, deps, org, &caller.actor, EventKind::UserDeleted, data)?;
    Audit::new(
        org,
        &caller.actor,
        ResourceKind::User,
        id.as_str(),
        Operation::Delete,
        vec![AttributeChange {
            attribute: "userName".into(),
            before: Some(Value::String(current.profile.user_name().as_str().to_owned())),
            after: None,
        }],
    )
    .record(tx, deps)?;
    Ok(Ok(()))
}
