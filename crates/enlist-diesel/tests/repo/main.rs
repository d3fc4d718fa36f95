//! The shared repository suite: every test runs on SQLite and on
//! PostgreSQL, through the core's services (so the rules and the SQL are
//! exercised together) and, for filters, through the SCIM parser. The
//! tests marked `on_every_store!` also run on the core's `MemoryStore`,
//! which unit tests of the services use: uniqueness, the last-Admin guard,
//! rollback, concurrent membership and role changes, event numbering. The
//! memory store evaluates no filter or sort (it answers `Unsupported`), so
//! the tests that list with one run on the two databases only.

// Tests fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;

pub(crate) use common::{entra, operator, org, Env};
use enlist_core::change::{GroupChange, UserChange};
use enlist_core::query::{ListQuery, Page};
use enlist_core::schema::{GROUP_RESOURCE, USER_RESOURCE};
use enlist_core::service::{NewGroup, NewUser};
use enlist_core::{Caller, Error, Role, RoleSource, UserId};
use serde_json::json;

pub(crate) fn user(body: serde_json::Value) -> NewUser {
    let input = enlist_scim::user_from_json(&body).expect("valid body");
    NewUser { attrs: input.attrs, password: input.password }
}

pub(crate) fn simple(user_name: &str) -> NewUser {
    user(json!({"userName": user_name}))
}

pub(crate) fn page(count: u64) -> Page {
    Page::Index { start_index: 1, count }
}

pub(crate) async fn user_names(env: &Env, caller: &Caller, filter: &str) -> Vec<String> {
    let filter = enlist_scim::parse_filter(&USER_RESOURCE, filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
    let q = ListQuery { filter: Some(filter), sort: None, page: page(1000) };
    let got = env.enlist.users.list(caller, q, false).await.unwrap_or_else(|e| panic!("[{}] list: {e}", env.name));
    assert_eq!(got.total as usize, got.items.len());
    got.items.iter().map(|v| v.user.profile.user_name().as_str().to_owned()).collect()
}

mod groups;
mod guard;
mod migrations;
mod operations;
mod reads;
mod search;
mod trips;
