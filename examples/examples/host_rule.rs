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
    use enlist::core::ports::NoDomainVerification;
    use enlist::core::testing::{MockStore, MockTx, SeqIds, TickClock};
    use enlist::core::value::{Complex, Value};
    use enlist::core::{effective_role, AccountId, Deps, Profile, User};
    use std::sync::Arc;

    fn member(roles: &[&str], active: bool) -> User {
        let mut attrs = Complex::new();
        attrs.insert("userName".into(), Value::String("ana@contoso.com".into()));
        attrs.insert("active".into(), Value::Bool(active));
        let roles =
            roles.iter().map(|r| Value::Complex(Complex::from([("value".to_owned(), Value::String((*r).into()))])));
        attrs.insert("roles".into(), Value::Multi(roles.collect()));
        let profile = Profile::parse(attrs).unwrap();
        let (role, source) = effective_role(profile.roles(), None, Role::FreeMember);
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        User {
            id: UserId::new("u1"),
            organization_id: OrganizationId::new("o1"),
            account_id: AccountId::new("a1"),
            profile,
            effective_role: role,
            role_source: source,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    /// The host rule against a transaction that knows one user (or none).
    fn decide(user: Option<User>) -> bool {
        let mut tx = MockTx::default();
        tx.users.expect_get().returning(move |_, _| Ok(user.clone()));
        tx.users.expect_groups_of().returning(|_, _| Ok(Vec::new()));
        let deps = Deps {
            store: MockStore::new(tx),
            clock: Arc::new(TickClock::default()),
            ids: Arc::new(SeqIds::default()),
            dns: Arc::new(NoDomainVerification),
        };
        let enlist = Services::new(deps);
        futures_lite(may_invite_collaborators(&enlist, &OrganizationId::new("o1"), &UserId::new("u1"))).unwrap()
    }

    fn futures_lite<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
    }

    #[test]
    fn only_an_active_admin_may_invite() {
        assert!(decide(Some(member(&["Admin"], true))));
        assert!(!decide(Some(member(&["Admin"], false))), "suspended");
        assert!(!decide(Some(member(&["FullMember"], true))), "not Admin");
        assert!(!decide(None), "not a member");
    }
}
