//! Enlist's domain: organizations, global accounts, memberships, roles,
//! groups and API keys, the product's rules, and the ports adapters
//! implement. No HTTP, SQL or SCIM text here: adapters depend on this
//! crate, never the other way round.
//!
//! Start at [`Services`] (the use cases) and [`ports`] (what an
//! adapter provides). With the `mocks` feature every port has a mockall
//! mock (`ports::MockUserRepo`, …) and [`testing::MockTx`] bundles them
//! into a [`ports::Transaction`].

#![warn(missing_docs)]

pub mod branding;
pub mod change;
pub mod consumer;
pub mod error;
pub mod event;
pub mod guard;
pub mod model;
pub mod ports;
pub mod query;
pub mod schema;
pub mod service;
pub mod types;
pub mod value;

#[cfg(any(test, feature = "mocks"))]
pub mod testing;

pub use branding::Branding;
pub use error::{Error, RepoError, Result, Uniqueness};
pub use model::*;
pub use service::{Deps, Services};
pub use types::*;
