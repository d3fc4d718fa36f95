//! SCIM 2.0 text ⇄ Enlist's domain (RFC 7643, RFC 7644, as Entra ID and
//! Okta speak them): filter and PATCH path parsers into the core's query
//! and change models, resource JSON in and out, discovery documents
//! generated from the core's schema definitions, and SCIM error bodies.
//! No I/O.

#![warn(missing_docs)]

pub mod discovery;
pub mod error;
pub mod events;
pub mod filter;
pub mod list;
pub mod patch;
pub mod resource;

pub use error::ScimError;
pub use filter::{parse_filter, parse_path, render_filter};
pub use list::{ListParams, ListRequest};
pub use patch::{group_patch, user_patch};
pub use resource::{
    group_from_json, group_json, member_json, user_from_json, user_json, GroupInput, Projection, UserInput,
};
