//! SCIM resources as JSON, in three concerns: reading a body into the
//! core's terms (`read`), rendering a user or group with `meta` and ETags
//! (`render`), and `attributes`/`excludedAttributes` projection
//! (`project`). All three are driven by the core's schema definitions.

mod project;
mod read;
mod render;

pub use project::Projection;
pub(crate) use read::no_nul;
pub use read::{convert, group_from_json, member_ids, user_from_json, GroupInput, UserInput};
pub use render::{etag, group_json, member_json, parse_etag, user_json, value_json};

#[cfg(test)]
mod tests;
