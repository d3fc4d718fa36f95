//! The builder's ports: a host's own `Store` wrapping the database sees
//! every unit of work, and what it writes reaches the database the
//! background work and the read API use; a builder without a database
//! says what to call.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use enlist::core::ports::{Store, Work};
use enlist::core::service::{NewOrganization, NewUser};
use enlist::core::value::{Complex, Value};
use enlist::core::{Actor, Caller, DomainName, Error};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A host's decorator: counts writes, then lets the database do them.
struct Counting {
    inner: enlist::Database,
    writes: AtomicUsize,
}

#[async_trait::async_trait]
impl Store for Counting {
    async fn read(&self, work: Work) -> Result<(), Error> {
        self.inner.read(work).await
    }
    async fn write(&self, work: Work) -> Result<(), Error> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.write(work).await
    }
}

#[tokio::test]
async fn a_wrapping_store_sees_every_write_and_the_database_has_them() {
    let t = enlist_diesel::testing::TestDatabase::sqlite().unwrap();
    let store = Arc::new(Counting { inner: t.db.clone(), writes: AtomicUsize::new(0) });
    let enlist = enlist::Enlist::builder().database_handle(t.db.clone()).store(store.clone()).build().await.unwrap();
    let org = enlist
        .services()
        .organizations
        .create(&Actor::Operator, NewOrganization::new("A").domain(DomainName::parse("a.example").unwrap()))
        .await
        .unwrap();
    let op = Caller { organization_id: org.id.clone(), actor: Actor::Operator };
    let attrs = Complex::from([("userName".to_owned(), Value::String("ana@a.com".into()))]);
    enlist.services().users.create(&op, NewUser { attrs, password: false }).await.unwrap();
    assert_eq!(store.writes.load(Ordering::SeqCst), 2, "the organization and the user went through the host's store");
    assert!(enlist.read().member_by_email(&org.id, "ana@a.com").await.unwrap().is_some());
    assert_eq!(enlist.services().events.list(&op, 0, 10).await.unwrap().len(), 1, "the event is in the database");
}

#[tokio::test]
async fn no_database_names_the_call_to_make() {
    let Err(e) = enlist::Enlist::builder().build().await else { panic!("built without a database") };
    assert!(e.to_string().contains(".database(\"sqlite://"), "{e}");
    let Err(e) = enlist::Enlist::builder().database("mysql://x/y").build().await else { panic!("built on mysql") };
    assert!(e.to_string().contains("unsupported database URL"), "{e}");
}
