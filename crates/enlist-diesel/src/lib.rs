//! Persistence: will implement `enlist_core::ports::Store` with Diesel on
//! SQLite (default) and PostgreSQL, migrations, r2d2 pools and the query
//! model → SQL translation. Not built yet (issue 4); nothing here works.
