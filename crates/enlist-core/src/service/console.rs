//! Signing an organization's Admin into the console: a one-time link the
//! operator issues (valid 15 minutes, single use), or a session a host
//! starts for its own signed-in Admin; every request re-checks that the
//! person is still an active Admin of that organization.

use super::*;
use crate::service::keys::hash_secret;

/// How long a sign-in link works.
pub const LINK_MINUTES: i64 = 15;
/// How long a session lasts.
pub const SESSION_HOURS: i64 = 8;

/// Who a sign-in link signs in, shown before it is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkPreview {
    /// The organization's name.
    pub organization: String,
    /// The Admin's email.
    pub email: Email,
}

/// A current session with the organization and the person it is for, so
/// every page can say who is signed in where.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedIn {
    /// The session.
    pub session: ConsoleSession,
    /// The organization's name.
    pub organization: String,
    /// The signed-in Admin's email.
    pub email: Email,
}

/// The console use cases.
#[derive(Clone)]
pub struct Console {
    deps: Deps,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn token_hash(token: &str) -> String {
    hex(&hash_secret(token))
}

fn refused() -> Error {
    Error::Unauthorized {
        detail: "this console link or session is not valid (used, expired, or not an active Admin's); ask the operator for a new link: enlist console-link ORG --email YOU".into(),
    }
}

impl Console {
    pub(crate) fn new(deps: Deps) -> Self {
        Self { deps }
    }

    /// A one-time sign-in link token for the active Admin of the caller's
    /// organization with this email. Only the operator issues links.
    ///
    /// # Errors
    /// `Forbidden` for anyone but the operator, or when the person is not
    /// an active Admin of the organization.
    pub async fn link(&self, caller: &Caller, email: &Email) -> Result<String> {
        if caller.actor != Actor::Operator {
            return Err(Error::Forbidden {
                detail: "only the operator issues console links (enlist console-link)".into(),
            });
        }
        let (deps, caller, email) = (self.deps.clone(), caller.clone(), email.clone());
        transact(&*self.deps.store, Mode::WriteOnce, move |tx| {
            let org = &caller.organization_id;
            let user = tx
                .accounts()
                .by_email(&email)?
                .map(|a| a.id)
                .and_then(|a| tx.users().by_account(org, &a).ok().flatten());
            let Some(user) = user.filter(User::is_active_admin) else {
                return Err(Error::Forbidden {
                    detail: format!(
                        "{email} is not an active Admin of this organization; console links are for its Admins"
                    ),
                });
            };
            let token = deps.ids.secret();
            let expires = deps.clock.now() + chrono::Duration::minutes(LINK_MINUTES);
            tx.console().insert_link(&token_hash(&token), org, &user.id, expires)?;
            Ok(token)
        })
        .await
    }

    /// Who a link would sign in, without using it: the page a link opens
    /// says "Sign in to ORG as EMAIL" and only its form spends the link, so
    /// a mail scanner that fetches links signs no one in.
    ///
    /// # Errors
    /// `Unauthorized` for a used, expired or unknown link, or a person who
    /// is no longer an active Admin.
    pub async fn preview(&self, link_token: &str) -> Result<LinkPreview> {
        let (deps, hash) = (self.deps.clone(), token_hash(link_token));
        transact(&*self.deps.store, Mode::Read, move |tx| {
            let (org, user) = tx.console().link(&hash, deps.clock.now())?.ok_or_else(refused)?;
            let (organization, email) = identify(tx, &org, &user)?;
            Ok(LinkPreview { organization, email })
        })
        .await
    }

    /// Uses a link once: a new session (token and its CSRF token).
    ///
    /// # Errors
    /// `Unauthorized` for a used, expired or unknown link, or a person who
    /// is no longer an active Admin.
    pub async fn sign_in(&self, link_token: &str) -> Result<(String, ConsoleSession)> {
        let (deps, hash) = (self.deps.clone(), token_hash(link_token));
        transact(&*self.deps.store, Mode::WriteOnce, move |tx| {
            let (org, user) = tx.console().take_link(&hash, deps.clock.now())?.ok_or_else(refused)?;
            start(tx, &deps, &org, &user)
        })
        .await
    }

    /// A session for the host's own signed-in Admin (the caller).
    ///
    /// # Errors
    /// `Forbidden` unless the caller is an active Admin member.
    pub async fn start_for(&self, caller: &Caller) -> Result<(String, ConsoleSession)> {
        let Actor::Member { user } = &caller.actor else {
            return Err(Error::Forbidden { detail: "a console session is for an organization's Admin".into() });
        };
        let (deps, caller, user) = (self.deps.clone(), caller.clone(), user.clone());
        transact(&*self.deps.store, Mode::WriteOnce, move |tx| {
            require_admin(tx, &caller, "use the console")?;
            start(tx, &deps, &caller.organization_id, &user)
        })
        .await
    }

    /// The session behind a token, if it is current and its person still
    /// an active Admin of its organization, with who and where that is.
    ///
    /// # Errors
    /// `Unauthorized` otherwise.
    pub async fn session(&self, token: &str) -> Result<SignedIn> {
        let (deps, hash) = (self.deps.clone(), token_hash(token));
        transact(&*self.deps.store, Mode::Read, move |tx| {
            let session = tx.console().session(&hash, deps.clock.now())?.ok_or_else(refused)?;
            let (organization, email) = identify(tx, &session.organization_id, &session.user_id)?;
            Ok(SignedIn { session, organization, email })
        })
        .await
    }

    /// Deletes expired and used links and expired sessions; how many.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn prune(&self) -> Result<u64> {
        let now = self.deps.clock.now();
        transact(&*self.deps.store, Mode::WriteOnce, move |tx| Ok(tx.console().prune(now)?)).await
    }

    /// Ends a session.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn sign_out(&self, token: &str) -> Result<()> {
        let hash = token_hash(token);
        transact(&*self.deps.store, Mode::WriteOnce, move |tx| Ok(tx.console().delete_session(&hash)?)).await
    }
}

/// The organization's name and the Admin's email, while the person is an
/// active Admin of it.
fn identify(tx: &mut dyn Transaction, org: &OrganizationId, user: &UserId) -> Result<(String, Email)> {
    let email = match tx.users().get(org, user)? {
        Some(u) if u.is_active_admin() => u.profile.email().clone(),
        _ => return Err(refused()),
    };
    Ok((load_org(tx, org)?.name, email))
}

fn start(
    tx: &mut dyn Transaction,
    deps: &Deps,
    org: &OrganizationId,
    user: &UserId,
) -> Result<(String, ConsoleSession)> {
    match tx.users().get(org, user)? {
        Some(u) if u.is_active_admin() => {}
        _ => return Err(refused()),
    }
    let token = deps.ids.secret();
    let session = ConsoleSession {
        organization_id: org.clone(),
        user_id: user.clone(),
        csrf: deps.ids.secret(),
        expires_at: deps.clock.now() + chrono::Duration::hours(SESSION_HOURS),
    };
    tx.console().insert_session(&token_hash(&token), &session)?;
    Ok((token, session))
}
