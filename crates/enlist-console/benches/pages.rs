//! Console page latency at scale: with N users in one organization (default
//! 100,000; ENLIST_BENCH_SIZES), times each page through the real app on a
//! SQLite file (and, with ENLIST_BENCH_POSTGRES=1, on a fresh PostgreSQL
//! database at ENLIST_TEST_DATABASE_URL), and prints medians.
//! `cargo bench -p enlist-console --bench pages`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use actix_web::{test, web, App};
use enlist_console::{ConsoleState, COOKIE};
use enlist_core::ports::{ActivityLog, Store};
use enlist_core::service::NewOrganization;
use enlist_core::value::{Complex, Value};
use enlist_core::*;
use enlist_diesel::{Database, PoolOptions};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn profile(i: usize) -> Profile {
    let mut a = Complex::new();
    a.insert("userName".into(), Value::String(format!("user{i}@contoso.com")));
    a.insert("displayName".into(), Value::String(format!("User {i}")));
    Profile::parse(a).unwrap()
}

#[actix_web::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let sizes: Vec<usize> = std::env::var("ENLIST_BENCH_SIZES")
        .unwrap_or_else(|_| "100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let postgres = std::env::var("ENLIST_BENCH_POSTGRES").as_deref() == Ok("1");
    for (n, backend) in
        sizes.iter().flat_map(|n| std::iter::once((*n, "sqlite")).chain(postgres.then_some((*n, "postgres"))))
    {
        let path = std::env::temp_dir().join(format!("enlist-console-bench-{n}-{}.db", std::process::id()));
        // The PostgreSQL test database is dropped with `_pg`.
        let (db, _pg) = if backend == "sqlite" {
            let db = Database::open(&format!("sqlite://{}", path.display()), &PoolOptions::default()).unwrap();
            db.migrate(|_| {}).unwrap();
            (db, None)
        } else {
            let t = enlist_diesel::testing::TestDatabase::postgres()
                .unwrap()
                .expect("PostgreSQL at ENLIST_TEST_DATABASE_URL");
            (t.db.clone(), Some(t))
        };
        let enlist = enlist_core::testing::services(Arc::new(db.clone()));
        let org = enlist
            .organizations
            .create(
                &Actor::Operator,
                NewOrganization::new("Bench")
                    .owner(Email::parse("boss@contoso.com").unwrap())
                    .domain(DomainName::parse("contoso.com").unwrap()),
            )
            .await
            .unwrap();
        let op = Caller { organization_id: org.id.clone(), actor: Actor::Operator };
        let seed = Instant::now();
        for start in (0..n).step_by(1000) {
            let org_id = org.id.clone();
            db.write(Box::new(move |tx| {
                for i in start..(start + 1000).min(n) {
                    let p = profile(i);
                    tx.accounts().insert(&Account {
                        id: AccountId::new(format!("a{i}")),
                        email: p.email().clone(),
                        created_at: chrono::DateTime::from_timestamp(0, 0).unwrap(),
                    })?;
                    tx.users().insert(&User {
                        id: UserId::new(format!("u{i:09}")),
                        organization_id: org_id.clone(),
                        account_id: AccountId::new(format!("a{i}")),
                        profile: p,
                        effective_role: Role::FreeMember,
                        role_source: RoleSource::Default,
                        created_at: chrono::DateTime::from_timestamp(0, 0).unwrap(),
                        updated_at: chrono::DateTime::from_timestamp(0, 0).unwrap(),
                        version: 1,
                    })?;
                }
                Ok(())
            }))
            .await
            .unwrap();
        }
        for g in 0..20 {
            let members: Vec<UserId> = (0..n / 20).map(|i| UserId::new(format!("u{:09}", g * (n / 20) + i))).collect();
            let group = enlist
                .groups
                .create(
                    &op,
                    service::NewGroup {
                        display_name: DisplayName::parse(&format!("Group {g}")).unwrap(),
                        external_id: None,
                        members: vec![],
                    },
                )
                .await
                .unwrap();
            for chunk in members.chunks(5000) {
                enlist
                    .groups
                    .change(&op, &group.group.id, vec![change::GroupChange::AddMembers(chunk.to_vec())], None)
                    .await
                    .unwrap();
            }
        }
        let records: Vec<ActivityRecord> = (0..2000)
            .map(|i| ActivityRecord {
                id: format!("act{i}"),
                organization_id: org.id.clone(),
                at: chrono::DateTime::from_timestamp(1_900_000_000 + i, 0).unwrap(),
                key_label: "Entra ID provisioning".into(),
                method: "PATCH".into(),
                route: "/Users/{id}".into(),
                resource_id: Some(format!("u{i:09}")),
                subject: Some(format!("user{i}@contoso.com")),
                status: if i % 10 == 0 { 400 } else { 200 },
                scim_type: (i % 10 == 0).then(|| "invalidValue".into()),
                detail: (i % 10 == 0).then(|| "Unknown role 'Owner' in roles.".into()),
                latency_ms: 2,
                request_id: format!("r{i}"),
                summary: "{}".into(),
            })
            .collect();
        db.append(records).await.unwrap();
        if backend == "postgres" {
            // What autovacuum does in production (it is off here).
            db.execute_raw("ANALYZE").await.unwrap();
        }
        let seeded = seed.elapsed();

        let state = web::Data::new(ConsoleState {
            enlist: enlist.clone(),
            activity: Arc::new(db.clone()),
            scim_base: None,
            secure_cookies: true,
            clock: std::sync::Arc::new(enlist_core::testing::TickClock::default()),
            feed: Arc::new(db.clone()),
            webhooks: None,
            branding: enlist_core::Branding::default(),
        });
        let app = test::init_service(App::new().configure(enlist_console::configure(state))).await;
        let link = enlist.console.link(&op, &Email::parse("boss@contoso.com").unwrap()).await.unwrap();
        let r = test::call_service(
            &app,
            test::TestRequest::post().uri("/console/login").set_form([("token", link.as_str())]).to_request(),
        )
        .await;
        let cookie = r.response().cookies().find(|c| c.name() == COOKIE).unwrap().into_owned();
        let mut line = format!("{backend} n={n:>7} seed {:.1}s |", seeded.as_secs_f64());
        for (name, uri) in [
            ("integrations", "/console/"),
            ("people", "/console/people"),
            ("people page 1000", "/console/people?page=1000"),
            ("people search", "/console/people?q=user4242"),
            ("people search broad", "/console/people?q=user1"),
            ("people search part", "/console/people?q=ser4242"),
            ("people search part broad", "/console/people?q=ser1"),
            ("people search part everyone", "/console/people?q=ser"),
            ("people search short", "/console/people?q=us"),
            ("people filter", "/console/people?filter=userName%20eq%20%22user4242%40contoso.com%22"),
            ("groups", "/console/groups"),
            ("activity", "/console/activity"),
            ("activity refused", "/console/activity?failed=1"),
        ] {
            let mut times = Vec::new();
            for _ in 0..15 {
                let t = Instant::now();
                let r = test::call_service(&app, test::TestRequest::get().uri(uri).cookie(cookie.clone()).to_request())
                    .await;
                assert!(r.status().is_success(), "{uri}: {}", r.status());
                let _ = test::read_body(r).await;
                times.push(t.elapsed());
            }
            times.sort();
            let median: Duration = times[times.len() / 2];
            line.push_str(&format!(" {name} {:.1} ms |", median.as_secs_f64() * 1e3));
        }
        println!("{line}");
        for s in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{s}", path.display()));
        }
    }
}
