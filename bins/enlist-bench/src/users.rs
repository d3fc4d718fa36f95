//! The users the load generator sends: the light profile and Entra ID's
//! full default mappings (`provision --profile`), and Entra ID's
//! multi-attribute update (`update`).

use super::*;

/// The shape of the users `provision` creates.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Profile {
    Light,
    EntraFull,
}

pub(crate) const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

pub(crate) fn new_user(ctx: &Ctx, i: usize, profile: Profile) -> Value {
    let name = ctx.user_name(i);
    let mut user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "externalId": format!("{}-{i}", ctx.prefix),
        "userName": name,
        "active": true,
        "displayName": format!("Bench User {i}"),
        "emails": [{"primary": true, "type": "work", "value": name}],
        "name": {"givenName": "Bench", "familyName": format!("User{i}")},
        "roles": [{"primary": "True", "type": "WindowsAzureActiveDirectoryRole", "value": "FullMember"}]
    });
    if profile == Profile::EntraFull {
        // Entra ID's default user mappings (entra.md §2.3, §5); a manager
        // never comes in a POST.
        let extra = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "name": {"givenName": "Bench", "familyName": format!("User{i}"), "formatted": format!("Bench User{i}")},
            "title": format!("Engineer {}", i % 40),
            "preferredLanguage": "en-US",
            "addresses": [{"type": "work", "primary": true, "streetAddress": format!("{} Main Street", i % 900 + 1),
                "locality": "Redmond", "region": "WA", "postalCode": "98052", "country": "US",
                "formatted": format!("{} Main Street\nRedmond, WA 98052\nUS", i % 900 + 1)}],
            "phoneNumbers": [{"type": "work", "value": format!("+1 425 555 {:04}", i % 10_000)},
                {"type": "mobile", "value": format!("+1 206 555 {:04}", (i * 7) % 10_000)}],
            ENTERPRISE: {"employeeNumber": format!("E{i:06}"), "department": format!("Dept {}", i % 25),
                "costCenter": format!("CC{}", i % 60), "organization": "Contoso", "division": format!("Division {}", i % 5)}
        });
        if let (Some(u), Some(e)) = (user.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                u.insert(k.clone(), v.clone());
            }
        }
    }
    user
}

/// Entra ID's update of a changed user: four attributes in one PATCH, the
/// manager another provisioned user (entra.md §2.4).
pub(crate) async fn update(ctx: &Arc<Ctx>, requests: usize, users: usize) -> Result<Report> {
    let ids = Arc::new(user_ids(ctx, users).await?);
    let (mut s, took) = fan_out(ctx, "update", requests, move |_ctx, i, mut conn, mut s| {
        let ids = ids.clone();
        async move {
            let n = ids.len();
            let (me, manager) = (i % n, (i + 1 + pick(i, n.saturating_sub(1))) % n);
            let body = patch(json!([
                {"op": "Replace", "path": "title", "value": format!("Lead {}", i % 97)},
                {"op": "Replace", "path": format!("{ENTERPRISE}:department"), "value": format!("Dept {}", i % 31)},
                {"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": ids[manager]},
                {"op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": format!("+1 206 555 {:04}", i % 10_000)}
            ]));
            let path = format!("/Users/{}", ids[me]);
            timed(&mut conn, &mut s, "update", "PATCH", &path, Some(&body), 200).await;
            (conn, s)
        }
    })
    .await?;
    let mut r = Report::new("update");
    r.add("rate", rate(s.count("update"), took), "requests/s");
    r.latency(&mut s, "update", "update");
    r.add("errors", s.errors as f64, "count");
    Ok(r)
}
