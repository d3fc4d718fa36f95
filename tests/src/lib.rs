//! Black-box tests of the whole server over HTTP will live here (issue 5).
//! This crate also holds workspace-level checks, such as the dependency
//! rule of `enlist-core` (see `tests/core_is_pure.rs`).
