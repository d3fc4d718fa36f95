//! SCIM text ⇄ Enlist's domain: will hold the RFC 7644 filter and PATCH
//! path parsers (into `enlist_core::query` and `enlist_core::change`), the
//! User and Group resource JSON mapping, discovery documents and SCIM error
//! bodies. Not built yet (issue 3); nothing here works.
