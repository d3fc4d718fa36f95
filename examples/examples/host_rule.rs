//! Example 3: unit-test a host rule with the core's mocks. The rule lives
//! in the host ("only an active Admin may invite outside collaborators");
//! it reads Enlist through the services, and the test scripts the one port
//! interaction it depends on, with no database.
//!
//! `cargo test -p enlist-examples --example host_rule`

use enlist::core::{Caller, Error, OrganizationId, Role, Services, UserId};

/// The host's rule, over Enlist's read side.
pub async fn may_invite_collaborators(enlist: &Services, org: &OrganizationId, user: &UserId) -> Result<bool, Error> {
    let host = Caller { organization_id: org.clone(), actor: enlist::core::Actor::Operator };
    match enlist.users.get(&host, user, false).await {
        Ok(v) => Ok(v.user.profile.active() && v.user.effective_role == Role::Admin),
        Err(Error::NotFound { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

fn main() {
    println!("run `cargo test -p enlist-examples --example host_rule`: the rule is exercised by its tests");
}

#[cfg(test)]
mod tests {
    use super::*;
    use enlist::core::User;
    use enlist::testing::{services, user, MockStore, MockTx};

    fn member(role: Role, active: bool) -> User {
        let u = user("ana@contoso.com").role(role);
        if active { u } else { u.inactive() }.build()
    }

    /// The host rule against a transaction that knows one user (or none).
    /// `Users::get` without groups reads the user once and nothing else: a
    /// mock panics on any call it was not told to expect, so this is the
    /// whole interaction.
    fn decide(user: Option<User>) -> bool {
        let mut tx = MockTx::default();
        tx.users.expect_get().times(1).returning(move |_, _| Ok(user.clone()));
        let enlist = services(MockStore::new(tx));
        futures_lite(may_invite_collaborators(&enlist, &OrganizationId::new("o1"), &UserId::new("u1"))).unwrap()
    }

    fn futures_lite<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
    }

    #[test]
    fn only_an_active_admin_may_invite() {
        assert!(decide(Some(member(Role::Admin, true))));
        assert!(!decide(Some(member(Role::Admin, false))), "suspended");
        assert!(!decide(Some(member(Role::FullMember, true))), "not Admin");
        assert!(!decide(None), "not a member");
    }
}
