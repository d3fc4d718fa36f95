//! Groups: creation, renames, membership batches, role mapping, deletion.
//! Membership changes cost the batch: the repository diffs in the database
//! and only the users whose membership changed get their role recomputed.

use super::*;
use crate::change::GroupChange;
use crate::query::{ListPage, ListQuery};
use crate::value::Value;
use std::collections::BTreeSet;

/// A group to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewGroup {
    /// Required, unique per organization.
    pub display_name: DisplayName,
    /// The identity provider's id.
    pub external_id: Option<String>,
    /// Initial members.
    pub members: Vec<UserId>,
}

/// A group and, when asked for, its members.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupView {
    /// The group.
    pub group: Group,
    /// Members, when asked for.
    pub members: Option<Vec<MemberRef>>,
}

/// The group use cases.
#[derive(Clone)]
pub struct Groups {
    deps: Deps,
}

/// Members read per query when a whole group is listed.
const MEMBER_PAGE: u64 = 1000;

impl Groups {
    pub(crate) fn new(deps: Deps) -> Self {
        Self { deps }
    }

    /// Creates a group, with members under the PATCH rules.
    ///
    /// # Errors
    /// `Uniqueness` for a taken name; `InvalidValue` for unknown members or
    /// an empty name.
    pub async fn create(&self, caller: &Caller, input: NewGroup) -> Result<GroupView> {
        let deps = self.deps.clone();
        let caller = caller.clone();
        transact(&*self.deps.store, Mode::Write, move |tx| {
            let org = load_org(tx, &caller.organization_id)?;
            let name = input.display_name.clone();
            let now = deps.clock.now();
            let group = Group {
                id: GroupId::new(deps.ids.id()),
                organization_id: org.id.clone(),
                display_name: name,
                external_id: match input.external_id.clone().filter(|s| !s.is_empty()) {
                    Some(x) => {
                        crate::model::check_indexed("externalId", &x)?;
                        Some(x)
                    }
                    None => None,
                },
                role: None,
                created_at: now,
                updated_at: now,
                version: 1,
            };
            match tx.groups().insert(&group) {
                Err(RepoError::Unique(_)) => return Err(name_taken(group.display_name.as_str())),
                other => other?,
            }
            let mut changes = vec![AttributeChange {
                attribute: "displayName".into(),
                before: None,
                after: Some(Value::String(group.display_name.to_string())),
            }];
            let mut added = Vec::new();
            if !input.members.is_empty() {
                let members = dedupe(&input.members);
                check_known(tx, &org.id, &members)?;
                added = tx.groups().add_members(&org.id, &group.id, &members)?;
                changes.push(member_change("members.added", &added));
            }
            Audit::new(&org.id, &caller.actor, ResourceKind::Group, group.id.as_str(), Operation::Create, changes)
                .record(tx, &deps)?;
            let snapshot = GroupSnapshot::of(&group);
            let data = EventData::Group { group: snapshot.clone(), old_name: None };
            emit(tx, &deps, &org.id, &caller.actor, EventKind::GroupCreated, data)?;
            member_events(tx, &deps, &org.id, &caller.actor, &snapshot, added, Vec::new())?;
            // Only a group created with members has any to read back.
            let members = if input.members.is_empty() { Vec::new() } else { all_members(tx, &org.id, &group.id)? };
            Ok(GroupView { group, members: Some(members) })
        })
        .await
    }

    /// One group; members only when asked for (never read otherwise).
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn get(&self, caller: &Caller, id: &GroupId, with_members: bool) -> Result<GroupView> {
        let (org, id) = (caller.organization_id.clone(), id.clone());
        transact(&*self.deps.store, Mode::Read, move |tx| {
            let group = tx.groups().get(&org, &id)?.ok_or_else(|| group_not_found(&id))?;
            let members = if with_members { Some(all_members(tx, &org, &id)?) } else { None };
            Ok(GroupView { group, members })
        })
        .await
    }

    /// A group by id, or else by displayName (case-insensitive), without
    /// members: what an operator types.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn find(&self, caller: &Caller, id_or_name: &str) -> Result<Group> {
        let (org, key) = (caller.organization_id.clone(), id_or_name.to_owned());
        transact(&*self.deps.store, Mode::Read, move |tx| {
            if let Some(g) = tx.groups().get(&org, &GroupId::new(key.clone()))? {
                return Ok(g);
            }
            tx.groups().by_display_name(&org, &key)?.ok_or_else(|| Error::NotFound {
                detail: format!("no group with id or displayName '{key}' in this organization"),
            })
        })
        .await
    }

    /// One page of a group's members, after `after` (by user id), at most
    /// `limit` (up to 1,000): what a front end streams a large group with,
    /// instead of holding every member in memory.
    ///
    /// # Errors
    /// `NotFound` when the group is not the caller's organization's.
    pub async fn members_page(
        &self,
        caller: &Caller,
        id: &GroupId,
        after: Option<UserId>,
        limit: u64,
    ) -> Result<Vec<MemberRef>> {
        let (org, id) = (caller.organization_id.clone(), id.clone());
        transact(&*self.deps.store, Mode::Read, move |tx| {
            if after.is_none() && tx.groups().get(&org, &id)?.is_none() {
                return Err(group_not_found(&id));
            }
            Ok(tx.groups().members(&org, &id, after.as_ref(), limit.clamp(1, MEMBER_PAGE))?)
        })
        .await
    }

    /// A filtered page of groups; members only when asked for.
    ///
    /// # Errors
    /// Storage failures only.
    pub async fn list(&self, caller: &Caller, query: ListQuery, with_members: bool) -> Result<ListPage<GroupView>> {
        let org = caller.organization_id.clone();
        transact(&*self.deps.store, Mode::Read, move |tx| {
            let page = tx.groups().list(&org, &query)?;
            let mut items = Vec::with_capacity(page.items.len());
            for group in page.items {
                let members = if with_members { Some(all_members(tx, &org, &group.id)?) } else { None };
                items.push(GroupView { group, members });
            }
            Ok(ListPage { total: page.total, items, next_cursor: page.next_cursor })
        })
        .await
    }

    /// Applies changes in order, all or nothing; returns the group
    /// (without members).
    ///
    /// # Errors
    /// `NotFound`, `PreconditionFailed`, `InvalidValue` naming unknown
    /// member ids, `Uniqueness` on a rename clash, `Conflict` when the last
    /// active Admin would lose the role.
    pub async fn change(
        &self,
        caller: &Caller,
        id: &GroupId,
        changes: Vec<GroupChange>,
        if_match: Option<u64>,
    ) -> Result<Group> {
        let deps = self.deps.clone();
        let (caller, id) = (caller.clone(), id.clone());
        transact(&*self.deps.store, Mode::Write, move |tx| apply(tx, &deps, &caller, &id, &changes, if_match)).await
    }

    /// Deletes the group; its members' roles are recomputed.
    ///
    /// # Errors
    /// `NotFound`; `Conflict` when the last active Admin would lose the role.
    pub async fn delete(&self, caller: &Caller, id: &GroupId, if_match: Option<u64>) -> Result<()> {
        let deps = self.deps.clone();
        let (caller, id) = (caller.clone(), id.clone());
        transact(&*self.deps.store, Mode::Write, move |tx| {
            let org = load_org(tx, &caller.organization_id)?;
            let group = tx.groups().get(&org.id, &id)?.ok_or_else(|| group_not_found(&id))?;
            check_version("Group", group.id.as_str(), group.version, if_match)?;
            if if_match.is_some() {
                // Holds the checked version until the delete commits: a change
                // saved in between makes this a retry, then a 412.
                tx.groups().touch(&org.id, &id, deps.clock.now(), Some(group.version))?;
            }
            let members = if group.role.is_some() { tx.groups().clear_members(&org.id, &id)? } else { Vec::new() };
            tx.groups().delete(&org.id, &id)?;
            let data = EventData::Group { group: GroupSnapshot::of(&group), old_name: None };
            emit(tx, &deps, &org.id, &caller.actor, EventKind::GroupDeleted, data)?;
            let why = format!("delete group '{}'", group.display_name);
            recompute_roles(tx, &deps, &caller.actor, &org, &members, &why)?;
            Audit::new(
                &org.id,
                &caller.actor,
                ResourceKind::Group,
                id.as_str(),
                Operation::Delete,
                vec![AttributeChange {
                    attribute: "displayName".into(),
                    before: Some(Value::String(group.display_name.to_string())),
                    after: None,
                }],
            )
            .record(tx, &deps)
        })
        .await
    }

    /// How many members each of the caller's organization's `groups` has
    /// (zero included), in one query.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn member_counts(&self, caller: &Caller, groups: &[GroupId]) -> Result<Vec<(GroupId, u64)>> {
        let (org, ids) = (caller.organization_id.clone(), groups.to_vec());
        transact(&*self.deps.store, Mode::Read, move |tx| {
            let counts: std::collections::HashMap<GroupId, u64> =
                tx.groups().member_counts(&org, &ids)?.into_iter().collect();
            Ok(ids.iter().map(|g| (g.clone(), counts.get(g).copied().unwrap_or(0))).collect())
        })
        .await
    }

    /// Maps the group to a role (or clears it); every member's role is
    /// recomputed. Only the operator or an Admin.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`, `Conflict` for the last active Admin.
    pub async fn set_role(&self, caller: &Caller, id: &GroupId, role: Option<Role>) -> Result<Group> {
        let deps = self.deps.clone();
        let (caller, id) = (caller.clone(), id.clone());
        transact(&*self.deps.store, Mode::Write, move |tx| {
            require_admin(tx, &caller, "map groups to roles")?;
            let org = load_org(tx, &caller.organization_id)?;
            let group = tx.groups().get(&org.id, &id)?.ok_or_else(|| group_not_found(&id))?;
            if group.role == role {
                return Ok(group);
            }
            let next = Group { role, updated_at: deps.clock.now(), version: group.version + 1, ..group.clone() };
            tx.groups().update(&next, group.version)?;
            let mut after: Option<UserId> = None;
            loop {
                let page = tx.groups().members(&org.id, &id, after.as_ref(), MEMBER_PAGE)?;
                let ids: Vec<UserId> = page.iter().map(|m| m.id.clone()).collect();
                recompute_roles(
                    tx,
                    &deps,
                    &caller.actor,
                    &org,
                    &ids,
                    &format!("change the role of group '{}'", group.display_name),
                )?;
                if (page.len() as u64) < MEMBER_PAGE {
                    break;
                }
                after = ids.last().cloned();
            }
            let render = |r: Option<Role>| r.map(|r| Value::String(r.as_str().to_owned()));
            Audit::new(
                &org.id,
                &caller.actor,
                ResourceKind::Group,
                id.as_str(),
                Operation::Configure,
                vec![AttributeChange { attribute: "role".into(), before: render(group.role), after: render(role) }],
            )
            .record(tx, &deps)?;
            Ok(next)
        })
        .await
    }
}

fn group_not_found(id: &GroupId) -> Error {
    Error::NotFound { detail: format!("Group {id} not found") }
}

fn name_taken(name: &str) -> Error {
    Error::Uniqueness {
        rule: Uniqueness::GroupDisplayName,
        detail: format!(
            "A group named '{name}' already exists in this organization (displayName is unique, case-insensitively). \
             Link the existing group (in Okta: Push Groups > link) or choose another name."
        ),
    }
}

fn dedupe(ids: &[UserId]) -> Vec<UserId> {
    let mut seen = BTreeSet::new();
    ids.iter().filter(|id| seen.insert((*id).clone())).cloned().collect()
}

/// An unknown member id is an error naming it, never a silent drop.
fn check_known(tx: &mut dyn Transaction, org: &OrganizationId, ids: &[UserId]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let found: BTreeSet<UserId> = tx.users().existing(org, ids)?.into_iter().collect();
    let unknown: Vec<&str> = ids.iter().filter(|id| !found.contains(*id)).map(UserId::as_str).collect();
    if !unknown.is_empty() {
        return Err(Error::invalid(format!(
            "Unknown member id(s): {}. Members must be users of this organization; provision them before adding them to the group.",
            unknown.join(", ")
        )));
    }
    Ok(())
}

fn member_change(attribute: &str, ids: &[UserId]) -> AttributeChange {
    AttributeChange {
        attribute: attribute.into(),
        before: None,
        after: Some(Value::Multi(ids.iter().map(|i| Value::String(i.as_str().to_owned())).collect())),
    }
}

fn all_members(tx: &mut dyn Transaction, org: &OrganizationId, id: &GroupId) -> Result<Vec<MemberRef>> {
    let mut out = Vec::new();
    loop {
        let page = tx.groups().members(org, id, out.last().map(|m: &MemberRef| &m.id), MEMBER_PAGE)?;
        let n = page.len() as u64;
        out.extend(page);
        if n < MEMBER_PAGE {
            return Ok(out);
        }
    }
}

fn apply(
    tx: &mut dyn Transaction,
    deps: &Deps,
    caller: &Caller,
    id: &GroupId,
    changes: &[GroupChange],
    if_match: Option<u64>,
) -> Result<Group> {
    let org = load_org(tx, &caller.organization_id)?;
    let current = tx.groups().get(&org.id, id)?.ok_or_else(|| group_not_found(id))?;
    check_version("Group", current.id.as_str(), current.version, if_match)?;
    let mut next = current.clone();
    let mut affected: BTreeSet<UserId> = BTreeSet::new();
    let mut audit_changes = Vec::new();
    let mut members_changed = false;
    // For the events: every id added or removed in this batch, in order.
    let (mut added_all, mut removed_all): (Vec<UserId>, Vec<UserId>) = (Vec::new(), Vec::new());
    for change in changes {
        match change {
            GroupChange::DisplayName(name) => next.display_name = name.clone(),
            GroupChange::ExternalId(e) => {
                if let Some(x) = e {
                    crate::model::check_indexed("externalId", x)?;
                }
                next.external_id = e.clone().filter(|s| !s.is_empty())
            }
            GroupChange::AddMembers(ids) => {
                let ids = dedupe(ids);
                check_known(tx, &org.id, &ids)?;
                let added = tx.groups().add_members(&org.id, id, &ids)?;
                if !added.is_empty() {
                    audit_changes.push(member_change("members.added", &added));
                }
                members_changed |= !added.is_empty();
                added_all.extend(added.iter().cloned());
                affected.extend(added);
            }
            GroupChange::RemoveMembers(ids) => {
                let removed = tx.groups().remove_members(&org.id, id, &dedupe(ids))?;
                if !removed.is_empty() {
                    audit_changes.push(member_change("members.removed", &removed));
                }
                members_changed |= !removed.is_empty();
                removed_all.extend(removed.iter().cloned());
                affected.extend(removed);
            }
            GroupChange::ReplaceMembers(ids) => {
                let ids = dedupe(ids);
                check_known(tx, &org.id, &ids)?;
                let (added, removed) = tx.groups().replace_members(&org.id, id, &ids)?;
                for (name, list) in [("members.added", &added), ("members.removed", &removed)] {
                    if !list.is_empty() {
                        audit_changes.push(member_change(name, list));
                    }
                }
                members_changed |= !added.is_empty() || !removed.is_empty();
                added_all.extend(added.iter().cloned());
                removed_all.extend(removed.iter().cloned());
                affected.extend(added);
                affected.extend(removed);
            }
            GroupChange::ClearMembers => {
                let removed = tx.groups().clear_members(&org.id, id)?;
                if !removed.is_empty() {
                    audit_changes.push(member_change("members.removed", &removed));
                }
                members_changed |= !removed.is_empty();
                removed_all.extend(removed.iter().cloned());
                affected.extend(removed);
            }
        }
    }
    let renamed = next.display_name != current.display_name;
    if renamed {
        audit_changes.push(AttributeChange {
            attribute: "displayName".into(),
            before: Some(Value::String(current.display_name.to_string())),
            after: Some(Value::String(next.display_name.to_string())),
        });
    }
    if next.external_id != current.external_id {
        let v = |e: &Option<String>| e.clone().map(Value::String);
        audit_changes.push(AttributeChange {
            attribute: "externalId".into(),
            before: v(&current.external_id),
            after: v(&next.external_id),
        });
    }
    if audit_changes.is_empty() {
        return Ok(current);
    }
    if next.display_name != current.display_name || next.external_id != current.external_id {
        next.updated_at = deps.clock.now();
        next.version = current.version + 1;
        match tx.groups().update(&next, current.version) {
            Err(RepoError::Unique(_)) => return Err(name_taken(next.display_name.as_str())),
            other => other?,
        }
    }
    if members_changed {
        // With If-Match, the version checked above must still be the stored
        // one when the change is saved: the same statement compares it (a
        // rename above already did, and holds the row).
        let expected = if_match.filter(|_| next.version == current.version).map(|_| current.version);
        next.version = tx.groups().touch(&org.id, id, deps.clock.now(), expected)?;
        next.updated_at = deps.clock.now();
    }
    Audit::new(&org.id, &caller.actor, ResourceKind::Group, id.as_str(), Operation::Patch, audit_changes)
        .record(tx, deps)?;
    // Events in the order a host acts on them: the group's own change, the
    // membership batch, then each role it moved.
    let snapshot = GroupSnapshot::of(&next);
    if renamed {
        let data = EventData::Group { group: snapshot.clone(), old_name: Some(current.display_name.to_string()) };
        emit(tx, deps, &org.id, &caller.actor, EventKind::GroupRenamed, data)?;
    }
    member_events(tx, deps, &org.id, &caller.actor, &snapshot, added_all, removed_all)?;
    if members_changed && current.role.is_some() {
        let ids: Vec<UserId> = affected.into_iter().collect();
        let why = format!("change the members of group '{}'", current.display_name);
        recompute_roles(tx, deps, &caller.actor, &org, &ids, &why)?;
    }
    Ok(next)
}

/// One `group.members_added` and one `group.members_removed` event per
/// batch, each only when it moved someone.
fn member_events(
    tx: &mut dyn Transaction,
    deps: &Deps,
    org: &OrganizationId,
    actor: &Actor,
    group: &GroupSnapshot,
    added: Vec<UserId>,
    removed: Vec<UserId>,
) -> Result<()> {
    for (kind, users) in [(EventKind::GroupMembersAdded, added), (EventKind::GroupMembersRemoved, removed)] {
        if !users.is_empty() {
            emit(tx, deps, org, actor, kind, EventData::Members { group: group.clone(), users })?;
        }
    }
    Ok(())
}
