//! The Webhooks page: the organization's endpoints with where each stands
//! (last event delivered, how far behind, its latest failures with what
//! the receiver answered, why it was disabled), and the Admin's actions:
//! add (the signing secret shown once), send a test, replay from an event,
//! remove.

use crate::pages::Ctx;
use crate::{base, ctx, detail, form_sender, html, refusal, signed_in, ConsoleState, CsrfForm};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use enlist_core::ports::Standing;
use enlist_core::{Caller, Error, Webhook, WebhookId};
use maud::{html, Markup};
use serde::Deserialize;

#[derive(Deserialize)]
pub(crate) struct AddForm {
    csrf: String,
    url: String,
}

#[derive(Deserialize)]
pub(crate) struct ReplayForm {
    csrf: String,
    from: String,
}

/// What the page says above the list after an action.
enum Said {
    Nothing,
    Added(Webhook),
    Tested { url: String, answer: Result<u16, String> },
    Replayed { url: String, from: u64 },
    Refused(String),
}

pub(crate) async fn page(req: HttpRequest, state: web::Data<ConsoleState>) -> HttpResponse {
    let (session, caller) = match signed_in(&req, &state).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    show(&req, &state, &session, &caller, Said::Nothing, "").await
}

async fn show(
    req: &HttpRequest,
    state: &ConsoleState,
    session: &enlist_core::service::SignedIn,
    caller: &Caller,
    said: Said,
    typed: &str,
) -> HttpResponse {
    let hooks = match state.enlist.webhooks.list(caller, false).await {
        Ok(h) => h,
        Err(e) => return refusal(req, 403, &detail(&e)),
    };
    let mut rows = Vec::with_capacity(hooks.len());
    for w in hooks {
        let standing = state.enlist.webhooks.standing(caller, &w.id, &*state.feed).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, webhook = %w.id, "webhook standing could not be read");
            Standing::default()
        });
        rows.push((w, standing));
    }
    let status = match said {
        Said::Refused(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    html(status, markup(&ctx(req, state, session), &rows, &said, typed, state.webhooks.is_some()))
}

pub(crate) async fn add(req: HttpRequest, form: web::Form<AddForm>, state: web::Data<ConsoleState>) -> HttpResponse {
    let (session, caller) = match form_sender(&req, &state, &form.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(tools) = &state.webhooks else {
        return refusal(&req, 404, NOT_HERE);
    };
    // Audited by the service, like every configuration change.
    match tools.register(&caller, form.url.trim()).await {
        Ok(w) => show(&req, &state, &session, &caller, Said::Added(w), "").await,
        Err(e) => show(&req, &state, &session, &caller, Said::Refused(detail(&e)), form.url.trim()).await,
    }
}

pub(crate) async fn test(
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
    state: web::Data<ConsoleState>,
) -> HttpResponse {
    let (session, caller) = match form_sender(&req, &state, &form.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(tools) = &state.webhooks else {
        return refusal(&req, 404, NOT_HERE);
    };
    let id = WebhookId::new(path.into_inner());
    let url = url_of(&state, &caller, &id).await;
    match tools.test(&caller, &id).await {
        Ok(answer) => show(&req, &state, &session, &caller, Said::Tested { url, answer }, "").await,
        Err(e) => show(&req, &state, &session, &caller, Said::Refused(detail(&e)), "").await,
    }
}

pub(crate) async fn replay(
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<ReplayForm>,
    state: web::Data<ConsoleState>,
) -> HttpResponse {
    let (session, caller) = match form_sender(&req, &state, &form.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let id = WebhookId::new(path.into_inner());
    let Ok(from) = form.from.trim().parse::<u64>() else {
        let said =
            Said::Refused(format!("“{}” is not an event number; type a whole number such as 1", form.from.trim()));
        return show(&req, &state, &session, &caller, said, "").await;
    };
    let url = url_of(&state, &caller, &id).await;
    match state.enlist.webhooks.replay(&caller, &id, from, &*state.feed).await {
        Ok(()) => show(&req, &state, &session, &caller, Said::Replayed { url, from }, "").await,
        Err(e) => show(&req, &state, &session, &caller, Said::Refused(detail(&e)), "").await,
    }
}

pub(crate) async fn remove(
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
    state: web::Data<ConsoleState>,
) -> HttpResponse {
    let (_, caller) = match form_sender(&req, &state, &form.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match state.enlist.webhooks.remove(&caller, &WebhookId::new(path.into_inner())).await {
        Ok(()) => {
            HttpResponse::SeeOther().insert_header((header::LOCATION, format!("{}/webhooks", base(&req)))).finish()
        }
        Err(e @ Error::NotFound { .. }) => refusal(&req, 404, &detail(&e)),
        Err(e) => refusal(&req, 403, &detail(&e)),
    }
}

const NOT_HERE: &str = "Webhooks are not part of this deployment; ask the people who run your service to enable them.";

async fn url_of(state: &ConsoleState, caller: &Caller, id: &WebhookId) -> String {
    let hooks = state.enlist.webhooks.list(caller, false).await.unwrap_or_default();
    hooks.into_iter().find(|w| w.id == *id).map(|w| w.url).unwrap_or_else(|| id.to_string())
}

fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn markup(c: &Ctx, rows: &[(Webhook, Standing)], said: &Said, typed: &str, can_add: bool) -> Markup {
    c.page(
        "Webhooks",
        html! {
            p { "Your systems can receive every change " (c.brand.product()) " makes in this organization (people and groups created, "
                "changed, suspended, removed) as signed HTTPS requests, in order, each at least once "
                "(Standard Webhooks: verify the " code { "webhook-signature" } " header with the endpoint's secret)." }
            @match said {
                Said::Nothing => {}
                Said::Added(w) => div role="status" class="card" {
                    p class="done" { strong { "Endpoint added: " } (w.url) }
                    p { "Its signing secret is shown only now; store it where your receiver reads it:" }
                    p class="secret" id="new-secret" { (w.secret) }
                    button type="button" data-copy="new-secret" { "Copy secret" }
                }
                Said::Tested { url, answer: Ok(status) } => p role="status" class="done" id="test-result" {
                    "Test sent to " (url) ": it answered HTTP " (status) ". Deliveries will succeed."
                }
                Said::Tested { url, answer: Err(e) } => p role="alert" class="err" id="test-result" {
                    "Test sent to " (url) " failed: " (e) ". Check that the endpoint is up, reachable from the internet "
                    "over HTTPS, and answers 2xx to a correctly signed request."
                }
                Said::Replayed { url, from } => p role="status" class="done" {
                    "Events from number " (from) " on will be delivered again to " (url) ", in order, starting now."
                }
                Said::Refused(e) => p role="alert" class="err" { (e) }
            }
            @if can_add {
                form method="post" action={ (c.base) "/webhooks" } class="card" {
                    input type="hidden" name="csrf" value=(c.s.session.csrf);
                    label for="webhook-url" { "Endpoint URL (https://…, reachable from the internet)" }
                    div class="row" {
                        input id="webhook-url" name="url" type="url" required maxlength="2000" class="wide"
                            placeholder="https://hooks.example.com/enlist" value=(typed);
                        button type="submit" class="primary" { "Add endpoint" }
                    }
                }
            } @else {
                p class="empty" { (NOT_HERE) }
            }
            @if rows.is_empty() {
                p class="empty" { "No endpoint yet. Add one above; " (c.brand.product()) " then sends it this organization's changes "
                    "from the next one on, and you can replay older ones." }
            } @else {
                div class="table-wrap" tabindex="0" role="region" aria-label="Webhook endpoints" {
                    table {
                        thead { tr { th { "Endpoint" } th { "State" } th { "Deliveries" } th { "Latest failures" } th { "Actions" } } }
                        tbody { @for (w, st) in rows { (row(c, w, st, can_add)) } }
                    }
                }
            }
        },
    )
}

fn row(c: &Ctx, w: &Webhook, st: &Standing, can_test: bool) -> Markup {
    html! {
        tr {
            td { code { (w.url) } br; small { "added " (when(w.created_at)) } }
            td {
                @if let Some(reason) = &w.disabled_reason {
                    span class="badge bad" { "Disabled" }
                    p { small { (reason) } }
                    p { small { "Add the endpoint again once it works; replay then sends what it missed." } }
                } @else if let Some(since) = st.failing_since {
                    span class="badge failing" { "Failing" }
                    p { small { "since " (when(since)) ", " (st.attempts) " attempt(s) at event " (st.delivered + 1) }
                        @if let Some(next) = st.retry_at { br; small { "next attempt " (when(next)) } } }
                } @else if st.lag() > 0 {
                    span class="badge waiting" { "Delivering" }
                } @else {
                    span class="badge healthy" { "Up to date" }
                }
            }
            td {
                "Last delivered: event " strong { (st.delivered) } " of " (st.newest)
                br;
                @if st.lag() == 0 { small { "nothing waiting" } } @else { small { (st.lag()) " waiting" } }
            }
            td {
                @if st.failures.is_empty() {
                    small { "none" }
                } @else {
                    @for f in st.failures.iter().take(5) {
                        p { small { (when(f.at)) " · event " (f.seq) } br; q { (f.error) } }
                    }
                }
            }
            td {
                @if can_test && w.disabled_reason.is_none() {
                    form method="post" action={ (c.base) "/webhooks/" (w.id) "/test" } {
                        input type="hidden" name="csrf" value=(c.s.session.csrf);
                        button type="submit" class="small" aria-label={ "Send a test event to " (w.url) } { "Send test" }
                    }
                }
                form method="post" action={ (c.base) "/webhooks/" (w.id) "/replay" } {
                    input type="hidden" name="csrf" value=(c.s.session.csrf);
                    label for={ "from-" (w.id) } class="visually-hidden" { "Replay " (w.url) " from event number" }
                    input id={ "from-" (w.id) } name="from" inputmode="numeric" size="6" placeholder="from #" required;
                    " " button type="submit" class="small" { "Replay" }
                }
                form method="post" action={ (c.base) "/webhooks/" (w.id) "/remove" }
                    data-confirm="Remove this endpoint? It receives nothing more." {
                    input type="hidden" name="csrf" value=(c.s.session.csrf);
                    button type="submit" class="small danger" aria-label={ "Remove " (w.url) } { "Remove" }
                }
            }
        }
    }
}
