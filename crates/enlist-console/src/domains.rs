//! The Domains page: the registered domains, and an Admin's self-service
//! proof of a new one (start, publish the TXT record shown, check; a
//! failed check says what DNS holds instead).

use crate::pages::Ctx;
use crate::{base, ctx, detail, form_sender, html, refusal, signed_in, ConsoleState};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use enlist_core::service::DomainChallenge;
use enlist_core::{DomainName, Organization};
use maud::{html, Markup};
use serde::Deserialize;

#[derive(Deserialize)]
pub(crate) struct PageQuery {
    added: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct DomainForm {
    csrf: String,
    domain: String,
}

/// What the page shows besides the list.
#[derive(Default)]
struct Shown {
    challenge: Option<DomainChallenge>,
    error: Option<String>,
    added: Option<String>,
    typed: String,
}

pub(crate) async fn page(req: HttpRequest, q: web::Query<PageQuery>, state: web::Data<ConsoleState>) -> HttpResponse {
    let (session, caller) = match signed_in(&req, &state).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match state.enlist.organizations.find(caller.organization_id.as_str()).await {
        Ok(org) => {
            let shown = Shown { added: q.into_inner().added, ..Shown::default() };
            html(StatusCode::OK, markup(&ctx(&req, &state, &session), &org, &shown))
        }
        Err(e) => refusal(&req, 400, &detail(&e)),
    }
}

/// Starts a proof: the record to publish for the domain typed.
pub(crate) async fn proof(
    req: HttpRequest,
    form: web::Form<DomainForm>,
    state: web::Data<ConsoleState>,
) -> HttpResponse {
    let (session, caller) = match form_sender(&req, &state, &form.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let org = match state.enlist.organizations.find(caller.organization_id.as_str()).await {
        Ok(o) => o,
        Err(e) => return refusal(&req, 400, &detail(&e)),
    };
    let mut shown = Shown { typed: form.domain.clone(), ..Shown::default() };
    let status = match DomainName::parse(&form.domain) {
        Ok(d) if org.domains.contains(&d) => {
            shown.error = Some(format!("{d} is already registered for {}.", org.name));
            StatusCode::BAD_REQUEST
        }
        Ok(d) => {
            shown.challenge = Some(state.enlist.organizations.domain_challenge(&org.id, &d));
            StatusCode::OK
        }
        Err(e) => {
            shown.error = Some(detail(&e));
            StatusCode::BAD_REQUEST
        }
    };
    html(status, markup(&ctx(&req, &state, &session), &org, &shown))
}

/// Checks the published record and registers the domain.
pub(crate) async fn verify(
    req: HttpRequest,
    form: web::Form<DomainForm>,
    state: web::Data<ConsoleState>,
) -> HttpResponse {
    let (session, caller) = match form_sender(&req, &state, &form.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let domain = match DomainName::parse(&form.domain) {
        Ok(d) => d,
        Err(e) => return refusal(&req, 400, &detail(&e)),
    };
    // Audited by the service, like the operator's registration.
    match state.enlist.organizations.verify_domain(&caller, domain.clone()).await {
        Ok(_) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("{}/domains?added={}", base(&req), domain.as_str())))
            .finish(),
        Err(e) => {
            let org = match state.enlist.organizations.find(caller.organization_id.as_str()).await {
                Ok(o) => o,
                Err(e) => return refusal(&req, 400, &detail(&e)),
            };
            let shown = Shown {
                challenge: Some(state.enlist.organizations.domain_challenge(&org.id, &domain)),
                error: Some(detail(&e)),
                typed: domain.as_str().to_owned(),
                added: None,
            };
            let status = match e {
                enlist_core::Error::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
                enlist_core::Error::Uniqueness { .. } => StatusCode::CONFLICT,
                _ => StatusCode::BAD_REQUEST,
            };
            html(status, markup(&ctx(&req, &state, &session), &org, &shown))
        }
    }
}

fn markup(c: &Ctx, org: &Organization, shown: &Shown) -> Markup {
    let csrf = &c.s.session.csrf;
    c.page(
        "Domains",
        html! {
            p { "People's email addresses may change only inside these domains, and only when both the old and the new address are in them. "
                "SCIM provisioning works only while at least one is registered." }
            @if let Some(d) = &shown.added { p role="status" class="done" id="domain-added" { strong { (d) } " is registered for " (org.name) "." } }
            @if org.domains.is_empty() {
                p class="empty" { "No domain is registered yet, so email changes are refused and the identity provider cannot provision. Add the domain your people's addresses use below." }
            } @else {
                ul id="domains" { @for d in &org.domains { li { (d.as_str()) } } }
            }
            h2 { "Add a domain you control" }
            p { "You prove it by publishing one DNS TXT record; " (c.brand.product()) " checks it and registers the domain. The record is bound to "
                (org.name) ": it registers nothing for anyone else." }
            @if let Some(e) = &shown.error { p role="alert" class="err" { (e) } }
            form method="post" action={ (c.base) "/domains/proof" } class="card" {
                input type="hidden" name="csrf" value=(csrf);
                label for="domain" { "Domain (for example contoso.com)" }
                div class="row" {
                    input id="domain" name="domain" required maxlength="253" value=(shown.typed);
                    button type="submit" class="primary" { "Show the DNS record" }
                }
            }
            @if let Some(ch) = &shown.challenge {
                div class="card" {
                h3 { "Publish this record at your DNS host" }
                dl {
                    dt { "Type" } dd { "TXT" }
                    dt { "Name" } dd { code id="txt-name" { (ch.record_name) } " " button type="button" class="small" data-copy="txt-name" { "Copy name" } }
                    dt { "Value" } dd { code id="txt-value" { (ch.record_value) } " " button type="button" class="small" data-copy="txt-value" { "Copy value" } }
                }
                p { "Some DNS hosts add the domain to the name themselves: then enter only " code { "_enlist-challenge" } ". "
                    "A new record is usually visible within minutes." }
                form method="post" action={ (c.base) "/domains/verify" } {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="domain" value=(ch.domain.as_str());
                    button type="submit" id="verify-domain" class="primary" { "Check and register " (ch.domain.as_str()) }
                }
                }
            }
            p { "The people who run this service can also register a domain for you." }
        },
    )
}
