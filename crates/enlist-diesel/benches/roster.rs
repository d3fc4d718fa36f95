//! Roster benchmark: with N users in one organization (two sizes, to show
//! what grows), times a `userName eq` lookup, a page of 100, adding 100
//! members to a group of half the roster, and reading that group without
//! members. SQLite always; PostgreSQL when ENLIST_BENCH_POSTGRES_URL (a
//! database URL whose database may be dropped and recreated) is set.
//!
//! `cargo bench -p enlist-diesel --bench roster` (sizes via
//! ENLIST_BENCH_SIZES, default "10000,100000").

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, TimeZone, Utc};
use enlist_core::change::GroupChange;
use enlist_core::ports::{Clock, IdGenerator, Store};
use enlist_core::query::{CompareOp, Filter, ListQuery, Literal, Page};
use enlist_core::schema::USER_RESOURCE;
use enlist_core::service::{NewGroup, NewOrganization};
use enlist_core::value::{Complex, Value};
use enlist_core::*;
use enlist_diesel::{Database, PoolOptions};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct FixedClock;
impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 29, 0, 0, 0).single().unwrap()
    }
}
struct Ids(AtomicU64);
impl IdGenerator for Ids {
    fn id(&self) -> String {
        format!("b{:09}", self.0.fetch_add(1, Ordering::SeqCst))
    }
    fn secret(&self) -> String {
        "secret".into()
    }
}

fn profile(i: usize) -> Profile {
    let mut a = Complex::new();
    a.insert("userName".into(), Value::String(format!("user{i}@contoso.com")));
    a.insert("displayName".into(), Value::String(format!("User {i}")));
    a.insert("externalId".into(), Value::String(format!("ext{i}")));
    let mut e = Complex::new();
    e.insert("type".into(), Value::String("work".into()));
    e.insert("value".into(), Value::String(format!("user{i}@contoso.com")));
    e.insert("primary".into(), Value::Bool(true));
    a.insert("emails".into(), Value::Multi(vec![Value::Complex(e)]));
    let mut n = Complex::new();
    n.insert("givenName".into(), Value::String("User".into()));
    n.insert("familyName".into(), Value::String(format!("N{i}")));
    a.insert("name".into(), Value::Complex(n));
    Profile::parse(a).unwrap()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn time<F, Fut>(runs: usize, mut f: F) -> Duration
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut v = Vec::with_capacity(runs);
    for i in 0..runs {
        let t = Instant::now();
        f(i).await;
        v.push(t.elapsed());
    }
    median(v)
}

async fn run(label: &str, db: Database, n: usize) {
    db.migrate(|_| {}).unwrap();
    let deps = Deps {
        store: Arc::new(db.clone()),
        clock: Arc::new(FixedClock),
        ids: Arc::new(Ids(AtomicU64::new(0))),
        dns: Arc::new(enlist_core::ports::NoDomainVerification),
    };
    let enlist = Services::new(deps);
    let org = enlist.organizations.create(&Actor::Operator, NewOrganization::new("Bench")).await.unwrap();
    let caller = Caller { organization_id: org.id.clone(), actor: Actor::Operator };
    let seed = Instant::now();
    let mut ids = Vec::with_capacity(n);
    for start in (0..n).step_by(1000) {
        let batch: Vec<User> = (start..(start + 1000).min(n))
            .map(|i| User {
                id: UserId::new(format!("u{i:09}")),
                organization_id: org.id.clone(),
                account_id: AccountId::new(format!("a{i:09}")),
                profile: profile(i),
                effective_role: Role::FreeMember,
                role_source: RoleSource::Default,
                created_at: FixedClock.now(),
                updated_at: FixedClock.now(),
                version: 1,
            })
            .collect();
        ids.extend(batch.iter().map(|u| u.id.clone()));
        db.write(Box::new(move |tx| {
            for u in &batch {
                tx.accounts().insert(&Account {
                    id: u.account_id.clone(),
                    email: u.profile.email().clone(),
                    created_at: u.created_at,
                })?;
                tx.users().insert(u)?;
            }
            Ok(())
        }))
        .await
        .unwrap();
    }
    let group = enlist
        .groups
        .create(
            &caller,
            NewGroup {
                display_name: enlist_core::DisplayName::parse("Half").unwrap(),
                external_id: None,
                members: vec![],
            },
        )
        .await
        .unwrap();
    for chunk in ids[..n / 2].chunks(5000) {
        enlist
            .groups
            .change(&caller, &group.group.id, vec![GroupChange::AddMembers(chunk.to_vec())], None)
            .await
            .unwrap();
    }
    let seeded = seed.elapsed();
    if db.backend() == enlist_diesel::Backend::Postgres {
        // What autovacuum does shortly after a bulk load.
        db.execute_raw("ANALYZE").await.unwrap();
    }

    let user_name = USER_RESOURCE.resolve(None, "userName", None).unwrap();
    let lookup = time(200, |i| {
        let q = ListQuery {
            filter: Some(Filter::Compare {
                path: user_name,
                op: CompareOp::Eq,
                value: Literal::String(format!("USER{}@contoso.com", (i * 7919) % n)),
            }),
            sort: None,
            page: Page::Index { start_index: 1, count: 100 },
        };
        let (e, c) = (&enlist, &caller);
        async move {
            assert_eq!(e.users.list(c, q, false).await.unwrap().total, 1);
        }
    })
    .await;
    let page_at = |start: fn(usize, usize) -> u64| {
        let (e, c) = (&enlist, &caller);
        time(30, move |i| {
            let q = ListQuery { filter: None, sort: None, page: Page::Index { start_index: start(i, n), count: 100 } };
            async move {
                assert_eq!(e.users.list(c, q, false).await.unwrap().items.len(), 100);
            }
        })
    };
    let first_page = page_at(|_, _| 1).await;
    let deep_page = page_at(|i, n| 1 + ((i * 977) % (n - 100)) as u64).await;
    // Keyset paging from a cursor in the middle of the roster.
    let half = ListQuery { filter: None, sort: None, page: Page::Cursor { after: None, count: (n / 2) as u64 } };
    let mid = enlist.users.list(&caller, half, false).await.unwrap().next_cursor.unwrap();
    let cursor_page = time(30, |_| {
        let q = ListQuery { filter: None, sort: None, page: Page::Cursor { after: Some(mid.clone()), count: 100 } };
        let (e, c) = (&enlist, &caller);
        async move {
            assert_eq!(e.users.list(c, q, false).await.unwrap().items.len(), 100);
        }
    })
    .await;
    let add = time(20, |i| {
        let batch = ids[n / 2 + i * 100..n / 2 + (i + 1) * 100].to_vec();
        let (e, c, g) = (&enlist, &caller, group.group.id.clone());
        async move {
            e.groups.change(c, &g, vec![GroupChange::AddMembers(batch)], None).await.unwrap();
        }
    })
    .await;
    let read = time(200, |_| {
        let (e, c, g) = (&enlist, &caller, group.group.id.clone());
        async move {
            assert!(e.groups.get(c, &g, false).await.unwrap().members.is_none());
        }
    })
    .await;
    // Writes through the services: what each change costs, events,
    // audit and outbox included.
    let create = time(200, |i| {
        let (e, c) = (&enlist, &caller);
        let attrs = profile(n + i).into_attrs();
        async move {
            e.users.create(c, enlist_core::service::NewUser { attrs, password: false }).await.unwrap();
        }
    })
    .await;
    let title = USER_RESOURCE.resolve(None, "title", None).unwrap();
    let patch = time(200, |i| {
        let (e, c, id) = (&enlist, &caller, ids[(i * 7919) % n].clone());
        let op = enlist_core::change::PatchOp {
            kind: enlist_core::change::PatchKind::Replace,
            path: enlist_core::change::PatchPath { target: title, filter: None },
            value: Some(Value::String(format!("Title {i}"))),
        };
        async move {
            e.users.change(c, &id, enlist_core::change::UserChange::Patch(vec![op]), None).await.unwrap();
        }
    })
    .await;
    println!(
        "{label:>8} n={n:>7}  writes: create user {:>6.3} ms, PATCH title {:>6.3} ms",
        create.as_secs_f64() * 1e3,
        patch.as_secs_f64() * 1e3
    );
    println!(
        "{label:>8} n={n:>7}  seed {:>6.1}s | userName eq {:>6.3} ms | page of 100: first {:>7.3} ms, random startIndex {:>7.3} ms, cursor {:>7.3} ms | add 100 to group of {} {:>7.3} ms | group without members {:>6.3} ms",
        seeded.as_secs_f64(),
        lookup.as_secs_f64() * 1e3,
        first_page.as_secs_f64() * 1e3,
        deep_page.as_secs_f64() * 1e3,
        cursor_page.as_secs_f64() * 1e3,
        n / 2,
        add.as_secs_f64() * 1e3,
        read.as_secs_f64() * 1e3,
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let sizes: Vec<usize> = std::env::var("ENLIST_BENCH_SIZES")
        .unwrap_or_else(|_| "10000,100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    for &n in &sizes {
        let path = std::env::temp_dir().join(format!("enlist-bench-{n}-{}.db", std::process::id()));
        let db = Database::open(&format!("sqlite://{}", path.display()), &PoolOptions::default()).unwrap();
        run("sqlite", db, n).await;
        for s in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{s}", path.display()));
        }
        if let Ok(url) = std::env::var("ENLIST_BENCH_POSTGRES_URL") {
            use diesel::connection::SimpleConnection;
            use diesel::Connection;
            let (base, name) = url.rsplit_once('/').unwrap();
            let mut admin = diesel::PgConnection::establish(&format!("{base}/postgres")).unwrap();
            admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).unwrap();
            admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
            run("postgres", Database::open(&url, &PoolOptions::default()).unwrap(), n).await;
        }
    }
}
