//! Example 2: react to change events in process. The host ends a person's
//! sessions when the identity provider suspends them (`user.deactivated`)
//! and changes their permissions when their effective role moves
//! (`user.role_changed`, also when a group or its role mapping moved it).
//!
//! `cargo run -p enlist-examples --example events`

use enlist::core::consumer::{EventHandler, HandlerError};
use enlist::core::event::{Event, EventData, EventKind};
use enlist::core::{Actor, Caller, Role};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The host's side: who is signed in, and with which permissions.
#[derive(Default)]
pub struct HostSessions {
    /// Signed-in people by email.
    pub signed_in: Mutex<Vec<String>>,
    /// Permissions by email, from the effective role.
    pub permissions: Mutex<HashMap<String, Role>>,
    /// Event ids already handled: deliveries are at least once.
    seen: Mutex<Vec<enlist::core::EventId>>,
}

#[async_trait::async_trait]
impl EventHandler for HostSessions {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let mut seen = self.seen.lock().map_err(|_| HandlerError("poisoned".into()))?;
        if seen.contains(&event.id) {
            return Ok(());
        }
        match (&event.kind, &event.data) {
            (EventKind::UserDeactivated | EventKind::UserDeleted, EventData::User { user, .. }) => {
                if let Ok(mut s) = self.signed_in.lock() {
                    s.retain(|e| !e.eq_ignore_ascii_case(&user.email));
                }
            }
            (EventKind::UserCreated, EventData::User { user, .. })
            | (EventKind::UserRoleChanged, EventData::RoleChanged { user, .. }) => {
                if let Ok(mut p) = self.permissions.lock() {
                    p.insert(user.email.to_lowercase(), user.effective_role);
                }
            }
            _ => {}
        }
        seen.push(event.id.clone());
        Ok(())
    }
}

/// Waits (bounded) until `done` holds.
pub async fn eventually(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..200 {
        if done() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    false
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    enlist_examples::logs();
    let (url, _file) = enlist_examples::temp_sqlite("events");
    let enlist = enlist::Enlist::builder().database(&url).migrate(true).build().await?;
    let (org, _) = enlist.first_start().await?.ok_or("the database was not empty")?;
    let sessions = Arc::new(HostSessions::default());
    let subscription = enlist.subscribe("host-sessions", sessions.clone());
    let op = Caller { organization_id: org.id.clone(), actor: Actor::Operator };
    let attrs = enlist::core::value::Complex::from([(
        "userName".to_owned(),
        enlist::core::value::Value::String("ana@contoso.com".into()),
    )]);
    enlist.services().users.create(&op, enlist::core::service::NewUser { attrs, password: false }).await?;
    eventually(|| sessions.permissions.lock().map(|p| p.contains_key("ana@contoso.com")).unwrap_or(false)).await;
    println!("permissions after provisioning: {:?}", sessions.permissions.lock().map(|p| p.clone()));
    subscription.stop().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use enlist::core::change::{GroupChange, PatchKind, PatchOp, PatchPath, UserChange};
    use enlist::core::schema::USER_RESOURCE;
    use enlist::core::service::{NewGroup, NewUser};
    use enlist::core::value::{Complex, Value};
    use enlist::core::DisplayName;

    fn new_user(name: &str) -> NewUser {
        NewUser { attrs: Complex::from([("userName".to_owned(), Value::String(name.into()))]), password: false }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn suspension_ends_sessions_and_a_group_role_changes_permissions() {
        let (url, _file) = enlist_examples::temp_sqlite("events-test");
        let enlist = enlist::Enlist::builder().database(&url).migrate(true).build().await.unwrap();
        let (org, _) = enlist.first_start().await.unwrap().unwrap();
        let sessions = Arc::new(HostSessions::default());
        sessions.signed_in.lock().unwrap().push("ana@contoso.com".into());
        let sub = enlist.subscribe("host-sessions", sessions.clone());
        let op = Caller { organization_id: org.id.clone(), actor: Actor::Operator };
        let s = enlist.services();

        let ana = s.users.create(&op, new_user("ana@contoso.com")).await.unwrap().user;
        assert!(
            eventually(|| sessions.permissions.lock().unwrap().get("ana@contoso.com") == Some(&Role::FreeMember)).await
        );

        // A group mapped to FullMember raises her role: the host hears it.
        let g = s
            .groups
            .create(
                &op,
                NewGroup { display_name: DisplayName::parse("Staff").unwrap(), external_id: None, members: vec![] },
            )
            .await
            .unwrap()
            .group;
        s.groups.set_role(&op, &g.id, Some(Role::FullMember)).await.unwrap();
        s.groups.change(&op, &g.id, vec![GroupChange::AddMembers(vec![ana.id.clone()])], None).await.unwrap();
        assert!(
            eventually(|| sessions.permissions.lock().unwrap().get("ana@contoso.com") == Some(&Role::FullMember)).await
        );

        // Suspended in the identity provider: her sessions end.
        let active = PatchPath { target: USER_RESOURCE.resolve(None, "active", None).unwrap(), filter: None };
        let off = UserChange::Patch(vec![PatchOp {
            kind: PatchKind::Replace,
            path: active,
            value: Some(Value::Bool(false)),
        }]);
        s.users.change(&op, &ana.id, off, None).await.unwrap();
        assert!(eventually(|| sessions.signed_in.lock().unwrap().is_empty()).await);
        sub.stop().await;
        assert_eq!(enlist::core::ports::EventFeed::lag(enlist.database(), "host-sessions").await.unwrap(), 0);
    }
}
