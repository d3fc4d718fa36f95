//! Notification mail: will hold the SMTP adapter of
//! `enlist_core::ports::Mailer` and the outbox worker. Not built yet
//! (issue 6); nothing here works.
