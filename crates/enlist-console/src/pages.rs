//! The console's pages (maud): one layout, labelled forms, readable on a
//! phone, and for every refused request the fix in the admin's terms.

use enlist_core::query::ListPage;
use enlist_core::service::UserView;
use enlist_core::service::{LinkPreview, SignedIn};
use enlist_core::{ActivityRecord, ApiKey, Branding, Organization};
use maud::{html, Markup, DOCTYPE};

/// The console's stylesheet, served at `{base}/assets/console.css`: the
/// CSP allows no inline style or script. The product's accent colour comes
/// from `{base}/assets/brand.css` (custom properties), loaded first.
pub(crate) const STYLE: &str = include_str!("../assets/console.css");

/// The console's script, served at `{base}/assets/console.js`: copy
/// buttons (`data-copy="ID"`), confirmations (`data-confirm="…"` on a
/// form), and the wait for a new key's first request (`data-wait-key`:
/// polls its health every 3 s, at most 200 times), bound here rather than
/// in inline handlers.
pub(crate) const SCRIPT: &str = include_str!("../assets/console.js");

/// Where the console is mounted (`/console`, or under a host's prefix),
/// the product it presents, and who is signed in where: every link and
/// form is built from it.
pub(crate) struct Ctx<'a> {
    pub(crate) base: String,
    pub(crate) brand: &'a Branding,
    pub(crate) s: &'a SignedIn,
}

impl Ctx<'_> {
    fn csrf(&self) -> &str {
        &self.s.session.csrf
    }

    /// A page for the signed-in Admin.
    pub(crate) fn page(&self, title: &str, body: Markup) -> Markup {
        layout(title, &self.base, self.brand, Some(self.s), body)
    }
}

/// The pages in the navigation: title and path under the base.
const NAV: [(&str, &str); 7] = [
    ("Integrations", "/"),
    ("People", "/people"),
    ("Groups", "/groups"),
    ("Activity", "/activity"),
    ("Domains", "/domains"),
    ("Webhooks", "/webhooks"),
    ("Provisioning guard", "/guard"),
];

/// Every page: the product's mark, the organization and the signed-in
/// Admin with sign-out, the navigation (the current page marked), a skip
/// link to the content.
pub(crate) fn layout(title: &str, base: &str, brand: &Branding, who: Option<&SignedIn>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (brand.product()) }
                link rel="stylesheet" href={ (base) "/assets/brand.css" };
                link rel="stylesheet" href={ (base) "/assets/console.css" };
                script src={ (base) "/assets/console.js" } defer {}
            }
            body {
                a class="skip" href="#content" { "Skip to content" }
                header class="top" {
                    div class="brand" {
                        @if let Some(logo) = brand.logo_url() {
                            img src=(logo) alt="" height="28";
                        }
                        span class="product" { (brand.product()) }
                        span class="console-name" { "admin console" }
                    }
                    @if let Some(w) = who {
                        div class="who" {
                            span id="signed-in-as" {
                                span class="org" { (w.organization) }
                                span class="email" { (w.email.as_str()) }
                            }
                            form method="post" action={ (base) "/logout" } {
                                input type="hidden" name="csrf" value=(w.session.csrf);
                                button type="submit" class="ghost" { "Sign out" }
                            }
                        }
                    }
                }
                @if who.is_some() {
                    nav class="tabs" aria-label="Console" {
                        @for (name, path) in NAV {
                            @if name == title {
                                a href={ (base) (path) } aria-current="page" { (name) }
                            } @else {
                                a href={ (base) (path) } { (name) }
                            }
                        }
                    }
                }
                main id="content" { h1 { (title) } (body) }
            }
        }
    }
}

/// What a sign-in link opens: who it signs in where, and the one button
/// that uses it. A session already open in this browser is named, never
/// replaced without the person seeing it.
pub(crate) fn confirm_sign_in(
    base: &str,
    brand: &Branding,
    token: &str,
    to: &LinkPreview,
    current: Option<&SignedIn>,
) -> Markup {
    layout(
        "Sign in",
        base,
        brand,
        None,
        html! {
            p id="sign-in-to" { "Sign in to " strong { (to.organization) } " as " strong { (to.email.as_str()) } "?" }
            @if let Some(c) = current {
                p role="alert" class="fix" id="replaces" {
                    "This browser is signed in to " strong { (c.organization) } " as " strong { (c.email.as_str()) }
                    ". Signing in here signs that session out."
                }
            }
            p { "Continue only if you asked for this link. It works once, for 15 minutes." }
            form method="post" action={ (base) "/login" } {
                input type="hidden" name="token" value=(token);
                button type="submit" id="sign-in" class="primary" { "Sign in" }
            }
        },
    )
}

/// A refusal: why, and what to do.
pub(crate) fn refused(base: &str, brand: &Branding, message: &str) -> Markup {
    layout("Not signed in", base, brand, None, html! { p role="alert" class="err" { (message) } })
}

pub(crate) fn signed_out(base: &str, brand: &Branding) -> Markup {
    layout(
        "Signed out",
        base,
        brand,
        None,
        html! { p { "You are signed out. A new console link signs you in again." } },
    )
}

/// Integrations: the SCIM URL, set-up checklists, the keys.
pub(crate) fn integrations(
    c: &Ctx,
    scim_base: &str,
    keys: &[ApiKey],
    health: &[crate::health::KeyHealth],
    created: Option<Result<(String, String, enlist_core::ApiKeyId), String>>,
) -> Markup {
    c.page(
        "Integrations",
        html! {
            h2 { "SCIM endpoint" }
            p { "Tenant URL: " code id="scim-url" { (scim_base) } " " button type="button" class="small" data-copy="scim-url" { "Copy" } }
            (crate::setup::guides(scim_base))
            h2 { "API keys" }
            @match &created {
                Some(Ok((label, token, id))) => {
                    div role="status" class="card" {
                        p { strong { "Key “" (label) "” created." } " Copy it now: it is shown only once." }
                        p class="secret" id="new-key" { (token) }
                        button type="button" data-copy="new-key" { "Copy key" }
                        p { "People provisioned with this key see its label, “" (label) "”, in their notification email." }
                        p id="first-request" class="badge waiting" data-wait-key=(id) data-base=(c.base) data-product=(c.brand.product()) aria-live="polite" {
                            "Waiting for your identity provider's first request with this key (in Entra ID: Test Connection)…"
                        }
                    }
                }
                Some(Err(e)) => { p role="alert" class="err" { (e) } }
                None => {}
            }
            form method="post" action={ (c.base) "/keys" } class="card" {
                input type="hidden" name="csrf" value=(c.csrf());
                label for="label" { "Label (what provisioned people see, e.g. “Entra ID provisioning”)" }
                div class="row" {
                    input id="label" name="label" required maxlength="100" class="wide";
                    button type="submit" class="primary" { "Generate API key" }
                }
            }
            p { "Rotate gives a new key with the same label while the old one keeps working: put the new one in the identity provider, then revoke the old one." }
            @if keys.is_empty() {
                p class="empty" { "No API key yet. Generate one above and paste it into your identity provider as its secret token." }
            }
            div class="table-wrap" tabindex="0" role="region" aria-label="API keys" { table {
                thead { tr { th { "Label" } th { "Connection" } th { "Last 24 hours" } th { "Created" } th { "Actions" } } }
                tbody {
                    @for (i, k) in keys.iter().enumerate() {
                        tr {
                            td { (k.label) }
                            td {
                                @if let Some(h) = health.get(i) {
                                    span class={ "badge " (h.state.as_str()) } { (h.state.words()) }
                                    br;
                                    small {
                                        "Last request: " @match h.last_request { Some(t) => (t.format("%Y-%m-%d %H:%M UTC")), None => "never" }
                                        br;
                                        "Last success: " @match h.last_success { Some(t) => (t.format("%Y-%m-%d %H:%M UTC")), None => "none in 24 h" }
                                    }
                                } @else {
                                    "Last used: " @match k.last_used_at { Some(t) => (t.format("%Y-%m-%d %H:%M UTC")), None => "never" }
                                }
                            }
                            td {
                                @if let Some(h) = health.get(i) {
                                    (h.requests) @if h.requests == 1 { " request, " } @else { " requests, " } (h.refusals) " refused"
                                    @if let Some((d, n, fix)) = &h.top_refusal {
                                        p { small { "Most frequent refusal (" (n) "×): " q { (d) } } }
                                        @if let Some(fix) = fix { p class="fix" { strong { "Fix: " } (fix) } }
                                    }
                                }
                            }
                            td { (k.created_at.format("%Y-%m-%d %H:%M UTC")) }
                            td {
                                @if let Some(r) = k.revoked_at {
                                    "revoked " (r.format("%Y-%m-%d"))
                                } @else {
                                    form method="post" action={ (c.base) "/keys/" (k.id) "/revoke" }
                                        data-confirm="Revoke this key? Requests with it fail at once." {
                                        input type="hidden" name="csrf" value=(c.csrf());
                                        button type="submit" class="small danger" aria-label={ "Revoke " (k.label) } { "Revoke" }
                                    }
                                    form method="post" action={ (c.base) "/keys/" (k.id) "/rotate" } {
                                        input type="hidden" name="csrf" value=(c.csrf());
                                        button type="submit" class="small" aria-label={ "Rotate " (k.label) } { "Rotate" }
                                    }
                                }
                            }
                        }
                    }
                }
            } }
        },
    )
}

/// What the People page was asked.
pub(crate) struct PeopleSearch {
    pub(crate) q: String,
    pub(crate) filter: String,
}

impl PeopleSearch {
    /// The query string of page `n` of this search, so paging keeps it.
    fn query(&self, n: u64) -> String {
        let mut out = format!("page={n}");
        for (name, value) in [("q", &self.q), ("filter", &self.filter)] {
            if !value.is_empty() {
                out.push_str(&format!("&{name}={}", percent(value)));
            }
        }
        out
    }
}

/// Percent-encodes a query value (everything but unreserved characters).
fn percent(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub(crate) fn people(
    c: &Ctx,
    search: &PeopleSearch,
    list: Option<(&ListPage<UserView>, u64, u64)>,
    error: Option<&str>,
) -> Markup {
    c.page(
        "People",
        html! {
            form method="get" action={ (c.base) "/people" } {
                label for="q" { "Search by name, userName or email: any part of it (e.g. " code { "smit" } " finds Joan Smith and asmith@contoso.com)" }
                input id="q" name="q" value=(search.q);
                label for="filter" { "or a SCIM filter, e.g. " code { "urn:ietf:params:scim:schemas:extension:enlist:2.0:User:effectiveRole eq \"Admin\"" } }
                input id="filter" name="filter" value=(search.filter) size="60";
                " " button type="submit" class="primary" { "Search" }
            }
            @if let Some(e) = error { p role="alert" class="err" { (e) } }
            @if let Some((page, n, per)) = list {
                @if page.total > n * per + crate::people::COUNTED_AHEAD {
                    p { "More than " (n * per + crate::people::COUNTED_AHEAD) " people" }
                } @else {
                    p { (page.total) @if page.total == 1 { " person" } @else { " people" } }
                }
                @if page.total == 0 && search.q.is_empty() && search.filter.is_empty() {
                    p class="empty" { "Nobody is provisioned yet. People appear here as your identity provider creates them: "
                        "connect it on Integrations, assign people to the app, and start provisioning." }
                } @else if page.items.is_empty() {
                    p class="empty" { "Nobody matches this search." }
                }
                div class="table-wrap" tabindex="0" role="region" aria-label="People" { table {
                    thead { tr { th { "Email" } th { "Name" } th { "Role" } th { "Source" } th { "State" } th { "Groups" } th { "Last change" } } }
                    tbody {
                        @for v in &page.items {
                            tr {
                                td { (v.user.profile.email().as_str()) }
                                td { (v.user.profile.display_name().unwrap_or(v.user.profile.user_name().as_str())) }
                                td { (v.user.effective_role.as_str()) }
                                td { (v.user.role_source.as_str()) }
                                td { @if v.user.profile.active() { "active" } @else { "suspended" } }
                                td { @for g in v.groups.iter().flatten() { (g.display_name) " " } }
                                td { (v.user.updated_at.format("%Y-%m-%d %H:%M")) }
                            }
                        }
                    }
                } }
                nav class="pages" aria-label="Pages" {
                    @if n > 1 { a href={ (c.base) "/people?" (search.query(n - 1)) } { "Previous" } " " }
                    @if n * per < page.total { a href={ (c.base) "/people?" (search.query(n + 1)) } { "Next" } }
                }
            }
        },
    )
}

/// The fix for a refused request, in the admin's terms, where there is one.
pub(crate) fn fix_for(r: &ActivityRecord, org: &Organization) -> Option<String> {
    let d = r.detail.as_deref()?;
    let quoted = |prefix: &str| d.split(prefix).nth(1).and_then(|rest| rest.split('\'').nth(1)).map(str::to_owned);
    Some(if d.contains("Unknown role") {
        let role = quoted("Unknown role").unwrap_or_else(|| "the role".into());
        format!("Add the app role '{role}' in Entra ID (or the role value in Okta), or fix the role mapping: the roles are Admin, FullMember, FreeMember and Guest.")
    } else if d.contains("Email change refused") {
        let domains = if org.domains.is_empty() { "none".to_owned() } else { org.domain_list() };
        format!("Email changes are allowed only inside this organization's registered domains ({domains}). Register another domain you control on the Domains page (you publish one DNS TXT record).")
    } else if d.contains("last active Admin") {
        "Give another person the Admin role first, then retry in the identity provider.".to_owned()
    } else if d.contains("does not accept passwords") {
        "Turn off password sync (Okta: Provisioning → To App → Sync Password).".to_owned()
    } else if r.scim_type.as_deref() == Some("uniqueness") {
        "Two people share this userName or email: correct the source data in the identity provider.".to_owned()
    } else if d.contains("not enabled for organization") {
        "SCIM is switched off for this organization: ask the people who run this service to switch it on \
         (it needs a registered domain; see Domains)."
            .to_owned()
    } else if d.contains("API key was revoked") {
        "The identity provider still uses a revoked key: generate a new one on Integrations and put it in the identity provider.".to_owned()
    } else if d.contains("deprovisioning guard") {
        "This removal was held because many people were removed at once. Check the identity provider's scope and \
         groups, then approve or dismiss on the Provisioning guard page."
            .to_owned()
    } else if d.contains("no email address") {
        "Map the user's mail to emails[type eq \"work\"].value in the attribute mappings.".to_owned()
    } else {
        return None;
    })
}

pub(crate) fn activity(
    c: &Ctx,
    org: &Organization,
    records: &[ActivityRecord],
    failed: bool,
    user: Option<&str>,
) -> Markup {
    c.page(
        "Activity",
        html! {
            form method="get" action={ (c.base) "/activity" } {
                label { input type="checkbox" name="failed" value="1" checked[failed]; " Refused requests only" }
                label for="user" { "Person or group (userName or displayName)" }
                input id="user" name="user" value=(user.unwrap_or(""));
                " " button type="submit" class="primary" { "Filter" }
            }
            div class="table-wrap" tabindex="0" role="region" aria-label="Activity" { table {
                thead { tr { th { "When" } th { "Request" } th { "About" } th { "Key" } th { "Outcome" } } }
                tbody {
                    @for r in records {
                        tr {
                            td { (r.at.format("%Y-%m-%d %H:%M:%S")) }
                            td { (r.method) " " (r.route) }
                            td { (r.subject.as_deref().unwrap_or("-")) }
                            td { (r.key_label) }
                            td {
                                (r.status)
                                @if let Some(d) = &r.detail {
                                    p { "The identity provider was told: " q { (d) } }
                                    @if let Some(fix) = fix_for(r, org) { p class="fix" { strong { "Fix: " } (fix) } }
                                    p { small { "Request id " code { (r.request_id) } } }
                                }
                            }
                        }
                    }
                }
            } }
            @if records.is_empty() {
                p class="empty" { "Nothing recorded for this selection. Every SCIM request that changes something or is refused "
                    "appears here within seconds, with what the identity provider was told." }
            }
        },
    )
}

pub(crate) fn groups(
    c: &Ctx,
    list: &ListPage<enlist_core::service::GroupView>,
    counts: &[(enlist_core::GroupId, u64)],
    page: u64,
    per: u64,
    error: Option<&str>,
) -> Markup {
    let count = |id: &enlist_core::GroupId| counts.iter().find(|(g, _)| g == id).map_or(0, |(_, n)| *n);
    c.page(
        "Groups",
        html! {
            p { "A group mapped to a role gives every member at least that role. Changes are recorded in the audit log." }
            @if let Some(e) = error { p role="alert" class="err" { (e) } }
            @if list.total == 0 {
                p class="empty" { "No group yet. Groups appear here when your identity provider pushes them "
                    "(Entra ID: assign groups to the app; Okta: Push Groups); then you can map each to a role." }
            }
            div class="table-wrap" tabindex="0" role="region" aria-label="Groups" { table {
                thead { tr { th { "Group" } th { "Members" } th { "Role" } } }
                tbody {
                    @for v in &list.items {
                        tr {
                            td { (v.group.display_name) }
                            td { (count(&v.group.id)) }
                            td {
                                form method="post" action={ (c.base) "/groups/" (v.group.id) "/role" } {
                                    input type="hidden" name="csrf" value=(c.csrf());
                                    label for={ "role-" (v.group.id) } class="visually-hidden" { "Role of " (v.group.display_name) }
                                    select id={ "role-" (v.group.id) } name="role" {
                                        option value="" selected[v.group.role.is_none()] { "none" }
                                        @for r in enlist_core::Role::ALL {
                                            option value=(r.as_str()) selected[v.group.role == Some(r)] { (r.as_str()) }
                                        }
                                    }
                                    " " button type="submit" class="small" { "Set" }
                                }
                            }
                        }
                    }
                }
            } }
            nav class="pages" aria-label="Pages" {
                @if page > 1 { a href={ (c.base) "/groups?page=" (page - 1) } { "Previous" } " " }
                @if page * per < list.total { a href={ (c.base) "/groups?page=" (page + 1) } { "Next" } }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_known_refusal_has_a_fix_in_the_admins_terms() {
        let org = Organization {
            id: enlist_core::OrganizationId::new("o"),
            name: "Contoso".into(),
            domains: vec![enlist_core::DomainName::parse("contoso.com").unwrap_or_else(|_| unreachable!())],
            scim_enabled: true,
            default_role: enlist_core::Role::FreeMember,
            created_at: chrono::DateTime::from_timestamp(0, 0).unwrap_or_default(),
        };
        let record = |detail: &str, scim_type: Option<&str>| ActivityRecord {
            id: "a".into(),
            organization_id: org.id.clone(),
            at: org.created_at,
            key_label: "k".into(),
            method: "POST".into(),
            route: "/Users".into(),
            resource_id: None,
            subject: None,
            status: 400,
            scim_type: scim_type.map(str::to_owned),
            detail: Some(detail.into()),
            latency_ms: 0,
            request_id: "r".into(),
            summary: String::new(),
        };
        for (detail, scim_type, words) in [
            ("Unknown role 'Owner' in roles.", None, "Add the app role 'Owner'"),
            ("Email change refused for a -> b", None, "contoso.com"),
            ("Cannot deactivate x: they are the last active Admin", None, "another person the Admin role"),
            ("Enlist does not accept passwords: …", Some("mutability"), "Sync Password"),
            ("userName taken", Some("uniqueness"), "source data"),
            ("SCIM provisioning … is not enabled for organization 'Contoso'", None, "people who run this service"),
            ("This API key was revoked: …", None, "generate a new one"),
            (
                "Enlist held the deactivation of a@contoso.com: this organization's deprovisioning guard …",
                None,
                "Provisioning guard page",
            ),
        ] {
            let fix = fix_for(&record(detail, scim_type), &org).unwrap_or_default();
            assert!(fix.contains(words), "{detail}: {fix}");
        }
        assert_eq!(fix_for(&record("something else", None), &org), None);
    }
}
