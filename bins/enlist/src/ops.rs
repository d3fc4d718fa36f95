//! The operator commands (organizations, domains, API keys, group roles,
//! users, audit) and how each prints its result: text for people, `--json`
//! for scripts.

use crate::cli::{DomainCmd, GroupRoleCmd, KeyCmd, OnOff, OrgCmd};
use crate::term::{note, say};
use anyhow::anyhow;
use enlist_core::query::{ListQuery, Page};
use enlist_core::schema::USER_RESOURCE;
use enlist_core::service::NewOrganization;
use enlist_core::{Actor, ApiKeyId, Caller, DomainName, Email, Organization, Role, Services};
use serde_json::json;

pub(crate) async fn find_org(e: &Services, key: &str) -> anyhow::Result<Organization> {
    Ok(e.organizations.find(key).await?)
}

pub(crate) fn operator(org: &Organization) -> Caller {
    Caller::operator(&org.id)
}

pub(crate) fn role(s: &str) -> anyhow::Result<Role> {
    Role::parse(s).map_err(|_| anyhow!("unknown role '{s}': use one of {}", Role::NAMES.join(", ")))
}

pub(crate) fn print_json(v: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

pub(crate) async fn org_cmd(e: &Services, cmd: OrgCmd) -> anyhow::Result<()> {
    match cmd {
        OrgCmd::Create { name, owner, domain, no_scim } => {
            let mut new = NewOrganization::new(name).scim(!no_scim);
            if let Some(owner) = owner {
                new = new.owner(Email::parse(&owner).map_err(|_| anyhow!("--owner must be an email address"))?);
            }
            for d in domain {
                new = new.domain(DomainName::parse(&d).map_err(|err| anyhow!("--domain {}: {err}", d))?);
            }
            let o = e.organizations.create(&Actor::Operator, new).await?;
            // The id alone on stdout, for scripts; the state for people.
            say!("{}", o.id);
            match o.scim_refusal() {
                Some(why) => note!("{why}"),
                None => note!("organization '{}': SCIM on, domains {}", o.name, o.domain_list()),
            }
        }
        OrgCmd::List { json } => {
            let orgs = e.organizations.list().await?;
            if json {
                let v: Vec<_> = orgs
                    .iter()
                    .map(|o| json!({"id": o.id.as_str(), "name": o.name, "scim_enabled": o.scim_enabled, "scim_refusal": o.scim_refusal(), "default_role": o.default_role.as_str(),
                                    "domains": o.domains.iter().map(|d| d.as_str()).collect::<Vec<_>>()}))
                    .collect();
                print_json(&json!(v));
            } else {
                for o in orgs {
                    say!(
                        "{}  {:<24} scim={:<3} default-role={:<10} domains={}",
                        o.id,
                        o.name,
                        if o.scim_refusal().is_none() { "on" } else { "off" },
                        o.default_role,
                        o.domain_list()
                    );
                }
            }
        }
        OrgCmd::Scim { org, state } => {
            let o = find_org(e, &org).await?;
            let o = e.organizations.set_scim(&operator(&o), matches!(state, OnOff::On)).await?;
            say!("organization '{}': SCIM {}", o.name, if o.scim_enabled { "on" } else { "off" });
        }
        OrgCmd::DefaultRole { org, role: r } => {
            let o = find_org(e, &org).await?;
            let o = e.organizations.set_default_role(&operator(&o), role(&r)?).await?;
            say!("organization '{}': default role {}", o.name, o.default_role);
        }
        OrgCmd::Delete { org, yes } => {
            let o = find_org(e, &org).await?;
            if !yes {
                let one = |q| ListQuery { filter: None, sort: None, page: Page::Index { start_index: 1, count: q } };
                let users = e.users.list(&operator(&o), one(0), false).await?.total;
                let groups = e.groups.list(&operator(&o), one(0), false).await?.total;
                let keys = e.api_keys.list(&operator(&o)).await?.len();
                say!(
                    "would offboard '{}': {users} user(s), {groups} group(s), {keys} key(s), its domains ({}), webhooks, \
                     activity, events and mail. Export first if it may come back (enlist org export {}), then run \
                     again with --yes",
                    o.name,
                    o.domain_list(),
                    o.name
                );
                return Err(anyhow!("nothing was deleted: add --yes"));
            }
            let gone = e.organizations.delete(&Actor::Operator, &o.id).await?;
            say!(
                "organization '{}' offboarded: {} user(s), {} group(s), {} key(s) and {} account(s) held nowhere else \
                 removed; its audit log is kept",
                o.name,
                gone.users,
                gone.groups,
                gone.keys,
                gone.accounts
            );
        }
        OrgCmd::Export { org, output } => export_cmd(e, &org, output.as_deref()).await?,
        OrgCmd::Guard { org, action, max, percent, window, json } => {
            let o = find_org(e, &org).await?;
            crate::guard::guard_cmd(e, &o, action, crate::guard::Changes { max, percent, window }, json).await?
        }
    }
    Ok(())
}

pub(crate) async fn domain_cmd(e: &Services, cmd: DomainCmd) -> anyhow::Result<()> {
    let parse = |d: &str| DomainName::parse(d).map_err(|err| anyhow!("{err}"));
    match cmd {
        DomainCmd::Add { org, domain } => {
            let o = find_org(e, &org).await?;
            let o = e.organizations.add_domain(&operator(&o), parse(&domain)?).await?;
            say!("organization '{}': domains {}", o.name, o.domain_list());
        }
        DomainCmd::Remove { org, domain } => {
            let o = find_org(e, &org).await?;
            let o = e.organizations.remove_domain(&operator(&o), parse(&domain)?).await?;
            say!("organization '{}': domains {}", o.name, o.domain_list());
        }
        DomainCmd::List { org, json } => {
            let o = find_org(e, &org).await?;
            if json {
                print_json(&json!(o.domains.iter().map(|d| d.as_str()).collect::<Vec<_>>()));
            } else {
                o.domains.iter().for_each(|d| say!("{d}"));
            }
        }
    }
    Ok(())
}

pub(crate) async fn key_cmd(e: &Services, cmd: KeyCmd) -> anyhow::Result<()> {
    match cmd {
        KeyCmd::Create { org, label } => {
            let o = find_org(e, &org).await?;
            let k = e.api_keys.create(&operator(&o), &label).await?;
            say!(
                "API key {} for organization '{}', labelled '{}'. The secret is shown once, on the next line:",
                k.key.id,
                o.name,
                k.key.label
            );
            say!("{}", k.token);
        }
        KeyCmd::List { org, json } => {
            let o = find_org(e, &org).await?;
            let keys = e.api_keys.list(&operator(&o)).await?;
            let t = |d: Option<chrono::DateTime<chrono::Utc>>| d.map(|d| d.to_rfc3339());
            if json {
                let v: Vec<_> = keys
                    .iter()
                    .map(|k| json!({"id": k.id.as_str(), "label": k.label, "created": k.created_at.to_rfc3339(), "last_used": t(k.last_used_at), "revoked": t(k.revoked_at)}))
                    .collect();
                print_json(&json!(v));
            } else {
                for k in keys {
                    say!(
                        "{}  {:<28} created {}  last used {}  {}",
                        k.id,
                        k.label,
                        k.created_at.to_rfc3339(),
                        t(k.last_used_at).unwrap_or_else(|| "never".into()),
                        t(k.revoked_at).map(|r| format!("REVOKED {r}")).unwrap_or_else(|| "active".into())
                    );
                }
            }
        }
        KeyCmd::Revoke { org, key_id } => {
            let o = find_org(e, &org).await?;
            e.api_keys.revoke(&operator(&o), &ApiKeyId::new(key_id.clone())).await?;
            say!("API key {key_id} revoked: requests with it now get 401");
        }
    }
    Ok(())
}

pub(crate) async fn users_cmd(e: &Services, org: &str, filter: Option<&str>, json_out: bool) -> anyhow::Result<()> {
    let o = find_org(e, org).await?;
    let filter = filter
        .map(|f| enlist_scim::parse_filter(&USER_RESOURCE, f))
        .transpose()
        .map_err(|err| anyhow!("--filter: {}", err.detail))?;
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let q = ListQuery { filter: filter.clone(), sort: None, page: Page::Cursor { after: cursor, count: 500 } };
        let page = e.users.list(&operator(&o), q, false).await?;
        out.extend(page.items);
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    if json_out {
        let v: Vec<_> = out
            .iter()
            .map(|v| {
                let u = &v.user;
                json!({"id": u.id.as_str(), "userName": u.profile.user_name().as_str(), "email": u.profile.email().as_str(),
                       "active": u.profile.active(), "effectiveRole": u.effective_role.as_str(), "roleSource": u.role_source.as_str(),
                       "externalId": u.profile.external_id()})
            })
            .collect();
        print_json(&json!(v));
    } else {
        for v in &out {
            let u = &v.user;
            say!(
                "{}  {:<32} {:<10} {:<8} {}",
                u.id,
                u.profile.user_name().as_str(),
                u.effective_role,
                u.role_source.as_str(),
                if u.profile.active() { "active" } else { "SUSPENDED" }
            );
        }
        note!("{} user(s)", out.len());
    }
    Ok(())
}

pub(crate) async fn group_role_cmd(e: &Services, cmd: GroupRoleCmd) -> anyhow::Result<()> {
    let (org, group, r) = match cmd {
        GroupRoleCmd::Set { org, group, role: r } => (org, group, Some(role(&r)?)),
        GroupRoleCmd::Clear { org, group } => (org, group, None),
    };
    let o = find_org(e, &org).await?;
    let g = e.groups.find(&operator(&o), &group).await?;
    e.groups.set_role(&operator(&o), &g.id, r).await?;
    say!("group '{}' ({}): role {}", g.display_name, g.id, r.map_or("cleared".to_owned(), |r| r.to_string()));
    Ok(())
}

pub(crate) async fn audit_cmd(
    e: &Services,
    org: &str,
    since: Option<String>,
    limit: u64,
    json: bool,
) -> anyhow::Result<()> {
    let o = find_org(e, org).await?;
    let since = rfc3339(since)?;
    let records = e.organizations.audit(&operator(&o), since, limit).await?;
    if json {
        let v: Vec<_> = records
                    .iter()
                    .map(|r| {
                        json!({"at": r.at.to_rfc3339(), "actor": r.actor, "resource": r.resource.as_str(), "id": r.resource_id,
                               "operation": r.operation.as_str(), "note": r.note,
                               "changes": r.changes.iter().map(|c| json!({"attribute": c.attribute,
                                   "before": c.before.as_ref().map(|v| v.render()), "after": c.after.as_ref().map(|v| v.render())})).collect::<Vec<_>>()})
                    })
                    .collect();
        print_json(&json!(v));
    } else {
        for r in records {
            let attrs: Vec<&str> = r.changes.iter().map(|c| c.attribute.as_str()).collect();
            say!(
                "{}  {:<24} {:<9} {:<12} {}  {}{}",
                r.at.to_rfc3339(),
                r.actor,
                r.operation.as_str(),
                r.resource.as_str(),
                r.resource_id,
                attrs.join(","),
                r.note.map(|n| format!("  ({n})")).unwrap_or_default()
            );
        }
    }
    Ok(())
}

/// `enlist outbox`: counts and the set-aside notifications (with their
/// addresses: the operator fixes them), or `retry ID`.
pub(crate) async fn outbox_cmd(
    db: &enlist_diesel::Database,
    cmd: Option<crate::cli::OutboxCmd>,
    json: bool,
) -> anyhow::Result<()> {
    use enlist_core::ports::{Clock, OutboxQueue};
    if let Some(crate::cli::OutboxCmd::Retry { id }) = cmd {
        if !db.requeue(&id, enlist::system::SystemClock.now()).await? {
            return Err(anyhow!("no set-aside notification with id '{id}'; `enlist outbox` lists them"));
        }
        say!("notification {id} is back in line; the mail worker of `enlist serve` sends it next");
        return Ok(());
    }
    let stats = db.stats().await?;
    let aside = db.set_aside_list(1000).await?;
    if json {
        let items: Vec<_> = aside
            .iter()
            .map(|a| {
                json!({"id": a.notification.id, "organization": a.notification.organization_name,
                       "recipient": a.notification.recipient, "attempts": a.attempts,
                       "set_aside_at": a.at.to_rfc3339(), "error": a.error})
            })
            .collect();
        print_json(&json!({"pending": stats.pending, "set_aside": stats.set_aside, "set_aside_notifications": items}));
        return Ok(());
    }
    say!("{} pending, {} set aside", stats.pending, stats.set_aside);
    for a in &aside {
        say!(
            "{}  {}  {:<24} {} attempt(s)  {}  {}",
            a.at.to_rfc3339(),
            a.notification.id,
            a.notification.organization_name,
            a.attempts,
            a.notification.recipient,
            a.error
        );
    }
    if !aside.is_empty() {
        note!("Fix the address in the identity provider (or the SMTP relay), then: enlist outbox retry ID");
    }
    Ok(())
}

/// `enlist events ORG`: replay for reconciliation. Text: one line per
/// event; `--json`: one JSON object per line (the webhook payload shape).
pub(crate) async fn events_cmd(e: &Services, org: &str, after: u64, limit: u64, json: bool) -> anyhow::Result<()> {
    let o = find_org(e, org).await?;
    let events = e.events.list(&operator(&o), after, limit).await?;
    for ev in &events {
        if json {
            println!("{}", enlist_scim::events::event_json(ev));
        } else {
            say!("{:>8}  {}  {:<28} {}", ev.seq, ev.at.to_rfc3339(), ev.kind.as_str(), ev.actor);
        }
    }
    if let (false, Some(last)) = (json, events.last()) {
        note!("{} event(s); continue with --after {}", events.len(), last.seq);
    }
    Ok(())
}

/// `enlist webhook add|list|remove|test ORG`.
pub(crate) async fn webhook_cmd(enlist: &enlist::Enlist, cmd: crate::cli::WebhookCmd) -> anyhow::Result<()> {
    use crate::cli::WebhookCmd;
    use enlist_core::ports::EventFeed;
    let e = enlist.services();
    match cmd {
        WebhookCmd::Add { org, url, all_organizations, allow_private } => {
            let o = find_org(e, &org).await?;
            let w = enlist.register_webhook(&operator(&o), &url, all_organizations, allow_private).await?;
            say!(
                "webhook {} registered for {}",
                w.id,
                if all_organizations { "every organization" } else { o.name.as_str() }
            );
            say!("Its signing secret is shown once; verify every request with it (Standard Webhooks):");
            say!("{}", w.secret);
        }
        WebhookCmd::List { org, all_organizations, json: as_json } => {
            let o = find_org(e, &org).await?;
            let mut rows = Vec::new();
            for w in e.webhooks.list(&operator(&o), all_organizations).await? {
                let name = w.id.consumer_name();
                let failing = enlist.database().failing_since(&name).await?;
                // An organization's endpoint is behind on that organization's
                // events only; an every-organization one on all of them.
                let lag = if all_organizations {
                    enlist.database().lag(&name).await?
                } else {
                    e.webhooks.standing(&operator(&o), &w.id, enlist.database()).await?.lag()
                };
                rows.push((w, failing, lag));
            }
            if as_json {
                let v: Vec<_> = rows
                    .iter()
                    .map(|(w, failing, lag)| {
                        json!({"id": w.id.as_str(), "url": w.url, "created": w.created_at.to_rfc3339(), "lag": lag,
                               "failing_since": failing.as_ref().map(|f| f.0.to_rfc3339()), "last_error": failing.as_ref().map(|f| f.1.clone()),
                               "disabled_at": w.disabled_at.map(|d| d.to_rfc3339()), "disabled_reason": w.disabled_reason})
                    })
                    .collect();
                print_json(&json!(v));
            } else {
                for (w, failing, lag) in &rows {
                    let state = match (&w.disabled_reason, failing) {
                        (Some(r), _) => format!("DISABLED: {r}"),
                        (None, Some((since, err))) => format!("failing since {} ({err})", since.to_rfc3339()),
                        (None, None) => "ok".to_owned(),
                    };
                    say!("{}  {}  {} event(s) behind  {state}", w.id, w.url, lag);
                }
            }
        }
        WebhookCmd::Remove { org, id } => {
            let o = find_org(e, &org).await?;
            e.webhooks.remove(&operator(&o), &enlist_core::WebhookId::new(id.as_str())).await?;
            say!("webhook {id} removed");
        }
        WebhookCmd::Test { org, id } => {
            let o = find_org(e, &org).await?;
            let id = enlist_core::WebhookId::new(id.as_str());
            let url = e.webhooks.for_test(&operator(&o), &id).await?.url;
            match enlist.test_webhook(&operator(&o), &id).await? {
                Ok(status) => say!("{url} answered HTTP {status}: deliveries will succeed"),
                Err(err) => return Err(anyhow!("{err}; check that the endpoint is up and reachable from this host")),
            }
        }
        WebhookCmd::Replay { org, id, from } => {
            let o = find_org(e, &org).await?;
            let id = enlist_core::WebhookId::new(id.as_str());
            e.webhooks.replay(&operator(&o), &id, from, enlist.database()).await?;
            say!("webhook {id}: events of {} from number {from} on will be delivered again, in order", o.name);
        }
    }
    Ok(())
}

fn rfc3339(t: Option<String>) -> anyhow::Result<Option<chrono::DateTime<chrono::Utc>>> {
    t.map(|t| chrono::DateTime::parse_from_rfc3339(&t).map(|d| d.with_timezone(&chrono::Utc)))
        .transpose()
        .map_err(|_| anyhow!("--since must be RFC 3339, e.g. 2026-11-29T00:00:00Z"))
}

/// `enlist activity ORG`: why a request failed, as the identity provider
/// was told, newest first.
pub(crate) async fn activity_cmd(
    enlist: &enlist::Enlist,
    org: &str,
    failed: bool,
    since: Option<String>,
    user: Option<String>,
    limit: u64,
    json_out: bool,
) -> anyhow::Result<()> {
    let o = find_org(enlist.services(), org).await?;
    let query = enlist_core::ActivityQuery {
        failed_only: failed,
        since: rfc3339(since)?,
        subject: user,
        key_label: None,
        limit,
    };
    let records = enlist.activity(&o.id, query).await?;
    if json_out {
        let v: Vec<_> = records
            .iter()
            .map(|r| {
                json!({"at": r.at.to_rfc3339(), "key": r.key_label, "method": r.method, "route": r.route,
                       "resource": r.resource_id, "subject": r.subject, "status": r.status, "scimType": r.scim_type,
                       "detail": r.detail, "latencyMs": r.latency_ms, "requestId": r.request_id, "sent": r.summary})
            })
            .collect();
        print_json(&json!(v));
        return Ok(());
    }
    for r in &records {
        say!(
            "{}  {:<6} {:<14} {:>3} {:<24} {}",
            r.at.to_rfc3339(),
            r.method,
            r.route,
            r.status,
            r.subject.as_deref().unwrap_or("-"),
            r.key_label,
        );
        if let Some(d) = &r.detail {
            say!("    {d}");
        }
    }
    note!("{} request(s); --json for what was sent and the request ids", records.len());
    Ok(())
}

/// `enlist console-link ORG --email ADMIN`: the link, on its own line.
pub(crate) async fn console_link_cmd(e: &Services, org: &str, email: &str, base: &str) -> anyhow::Result<()> {
    let o = find_org(e, org).await?;
    let email = Email::parse(email).map_err(|err| anyhow!("{err}"))?;
    let token = e.console.link(&operator(&o), &email).await?;
    note!(
        "A one-time console link for {email} in {} (valid {} minutes, single use):",
        o.name,
        enlist_core::service::LINK_MINUTES
    );
    say!("{}/console/login?token={token}", base.trim_end_matches('/'));
    Ok(())
}

/// `enlist backup PATH`: `VACUUM INTO` on a blocking thread, with the
/// copy's size against the database's printed every second.
pub(crate) async fn backup_cmd(db: &enlist_diesel::Database, path: &std::path::Path) -> anyhow::Result<()> {
    let total = db.sqlite_file_size();
    let (dest, copy) = (path.to_owned(), db.clone());
    let started = std::time::Instant::now();
    let mut work = tokio::task::spawn_blocking(move || copy.backup_to(&dest));
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    tick.tick().await;
    let outcome = loop {
        tokio::select! {
            done = &mut work => break done?,
            _ = tick.tick() => {
                let written = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
                match total {
                    Some(t) if t > 0 => note!("backup: {} of about {} MiB", written >> 20, t >> 20),
                    _ => note!("backup: {} MiB", written >> 20),
                }
            }
        }
    };
    outcome?;
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    say!(
        "backup written to {} ({} KiB in {:.1} s); restore: stop Enlist, copy it over the database file (remove its -wal and -shm files), start Enlist",
        path.display(),
        size >> 10,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `enlist org export ORG`: the organization, its users and groups (SCIM
/// JSON, groups with members and roles), page by page with progress.
async fn export_cmd(e: &Services, org: &str, output: Option<&std::path::Path>) -> anyhow::Result<()> {
    let o = find_org(e, org).await?;
    let op = operator(&o);
    let page = |after| ListQuery { filter: None, sort: None, page: Page::Cursor { after, count: 500 } };
    let (mut users, mut cursor) = (Vec::new(), None);
    loop {
        let p = e.users.list(&op, page(cursor), true).await?;
        users.extend(p.items.iter().map(|v| enlist_scim::user_json(v, "")));
        note!("export: {} of {} user(s)", users.len(), p.total);
        cursor = p.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    let (mut groups, mut cursor) = (Vec::new(), None);
    loop {
        let p = e.groups.list(&op, page(cursor), true).await?;
        groups.extend(p.items.iter().map(|v| enlist_scim::group_json(v, "")));
        note!("export: {} of {} group(s)", groups.len(), p.total);
        cursor = p.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    let doc = json!({
        "organization": {"id": o.id.as_str(), "name": o.name, "domains": o.domains.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
                         "scimEnabled": o.scim_enabled, "defaultRole": o.default_role.as_str(), "created": o.created_at.to_rfc3339()},
        "exported": enlist_core::ports::Clock::now(&enlist::system::SystemClock).to_rfc3339(),
        "users": users,
        "groups": groups,
    });
    let text = serde_json::to_string_pretty(&doc)?;
    match output {
        None => println!("{text}"),
        Some(path) => {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(path).map_err(|err| {
                anyhow!("cannot create {}: {err}; choose a new path (an export never overwrites)", path.display())
            })?;
            f.write_all(text.as_bytes())?;
            note!("export written to {}", path.display());
        }
    }
    Ok(())
}
