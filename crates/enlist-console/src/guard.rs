//! The Provisioning guard page: what the deprovisioning guard allows, what
//! it holds (by person), and the Admin's two decisions, approve or dismiss.

use crate::pages::Ctx;
use crate::{base, ctx, detail, form_sender, html, refusal, signed_in, ConsoleState, CsrfForm};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use enlist_core::guard::{GuardPhase, GuardStatus};
use maud::{html, Markup};

pub(crate) async fn page(req: HttpRequest, state: web::Data<ConsoleState>) -> HttpResponse {
    let (session, caller) = match signed_in(&req, &state).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match state.enlist.guard.status(&caller).await {
        Ok(status) => html(actix_web::http::StatusCode::OK, markup(&ctx(&req, &state, &session), &status)),
        Err(e) => refusal(&req, 403, &detail(&e)),
    }
}

pub(crate) async fn approve(
    req: HttpRequest,
    form: web::Form<CsrfForm>,
    state: web::Data<ConsoleState>,
) -> HttpResponse {
    decide(req, form, state, true).await
}

pub(crate) async fn dismiss(
    req: HttpRequest,
    form: web::Form<CsrfForm>,
    state: web::Data<ConsoleState>,
) -> HttpResponse {
    decide(req, form, state, false).await
}

async fn decide(
    req: HttpRequest,
    form: web::Form<CsrfForm>,
    state: web::Data<ConsoleState>,
    yes: bool,
) -> HttpResponse {
    let (_, caller) = match form_sender(&req, &state, &form.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    // Audited by the service, with who decided and whom it concerned.
    let done = if yes { state.enlist.guard.approve(&caller).await } else { state.enlist.guard.dismiss(&caller).await };
    match done {
        Ok(_) => HttpResponse::SeeOther().insert_header((header::LOCATION, format!("{}/guard", base(&req)))).finish(),
        Err(e) => refusal(&req, 409, &detail(&e)),
    }
}

fn when(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_default()
}

fn markup(c: &Ctx, status: &GuardStatus) -> Markup {
    let s = &status.state.settings;
    c.page(
        "Provisioning guard",
        html! {
            p {
                "If your identity provider suddenly deactivates or deletes many people (a narrowed assignment scope, a changed group, "
                "a second tenant using the same key), " (c.brand.product()) " stops the removals and asks you first. "
                "At most " strong { (status.limit) } " people may be removed within " (s.window_words())
                " (the larger of " (s.max) " and " (s.percent) " % of active members; " (status.active) " are active now). "
                "The operator sets these figures."
            }
            @match status.phase {
                GuardPhase::Off => p role="status" { "The guard is switched off by the operator: removals are applied as they come." },
                GuardPhase::Counting => p role="status" { (status.removed) " removed in the current window. Nothing is held." },
                GuardPhase::Approved => p role="status" { "You approved removals: they pass until " (when(status.state.approved_until)) "." },
                GuardPhase::Held => div role="alert" class="fix" {
                    p { strong { "Removals are held since " (when(status.state.held_since)) "." }
                        " Nothing was changed for the people below; the identity provider was told to retry later." }
                    p { "If this was a mistake in the identity provider, fix it there, then dismiss the hold: the people stay. "
                        "If the removals are intended, approve them: the identity provider's retries then apply "
                        "(in Entra ID, restart provisioning to retry at once)." }
                }
            }
            @if status.held.is_empty() {
                @if status.phase == GuardPhase::Held {
                    p { "No request is held any more." }
                }
            } @else {
                h2 { "Held requests (" (status.held.len()) ")" }
                div class="table-wrap" tabindex="0" role="region" aria-label="Held requests" { table {
                    thead { tr { th { "Person" } th { "Asked" } th { "Attempts" } th { "First asked" } th { "By key" } } }
                    tbody {
                        @for h in &status.held {
                            tr {
                                td { (h.email) @if h.user_name != h.email { br; small { (h.user_name) } } }
                                td { @if h.removal == enlist_core::guard::Removal::Delete { "delete" } @else { "deactivate" } }
                                td { (h.attempts) }
                                td { (h.first_at.format("%Y-%m-%d %H:%M:%S")) }
                                td { (h.key_label) }
                            }
                        }
                    }
                } }
            }
            @if status.phase == GuardPhase::Held {
                form method="post" action={ (c.base) "/guard/approve" }
                    data-confirm={ "Approve the removal of " (status.held.len()) " people? They lose access when the identity provider retries." } {
                    input type="hidden" name="csrf" value=(c.s.session.csrf);
                    button type="submit" id="guard-approve" class="primary" { "Approve the removals" }
                }
                form method="post" action={ (c.base) "/guard/dismiss" } {
                    input type="hidden" name="csrf" value=(c.s.session.csrf);
                    button type="submit" id="guard-dismiss" class="danger" { "Dismiss: keep these people" }
                }
            }
        },
    )
}
