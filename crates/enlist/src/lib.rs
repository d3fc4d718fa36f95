//! Enlist embedded in a Rust service: one builder opens the store (SQLite
//! or PostgreSQL, migrated when asked), and the [`Enlist`] it returns gives
//! a host everything it needs without touching Enlist's tables:
//!
//! - [`Enlist::configure`]: the SCIM endpoint, to mount in the host's
//!   actix-web `App` under any path; [`Enlist::configure_admin`]: `/healthz`
//!   and `/metrics`, to mount where only monitoring reaches;
//! - [`Enlist::services`]: organizations, API keys, users, groups, group
//!   roles, domains and events, for the host's own admin screens;
//! - [`Enlist::read`]: members by id or email with their effective role and
//!   its source, lists by SCIM filter, a user's groups;
//! - [`Enlist::subscribe`]: change events to a host's handler, in order per
//!   organization, at least once;
//! - [`Enlist::start_background`]: the notification mail worker and the
//!   pruning of old events.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let enlist = enlist::Enlist::builder().database("sqlite://enlist.db").migrate(true).build().await?;
//! let app = actix_web::App::new().service(actix_web::web::scope("/idp").configure(enlist.configure()));
//! # let _ = app;
//! # Ok(())
//! # }
//! ```
//!
//! A host depends on this crate alone: every type its calls take or
//! return is re-exported here (`enlist::Caller`, `enlist::Role`,
//! `enlist::Event`, `enlist::Error`, …), mocks and fixtures are
//! `enlist::testing` (feature `mocks`), and features choose what is linked
//! (`sqlite`, `postgres`, `console`, `webhooks`, `smtp`, `tls`).
//! `docs/embedding.md` walks through a host from `cargo add` on.
//!
//! The binary `enlist` (package `enlist-cli`) is a thin user of this crate.

#![warn(missing_docs)]

mod background;
mod health;
mod read;
pub mod system;
mod tenants;
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(feature = "webhooks")]
mod webhooks;

pub use background::{Background, Subscription};
pub use enlist_actix::Config as HttpConfig;
/// Everything of the core, for what the names below leave out.
pub use enlist_core as core;
// The surface a host touches, under this crate's name alone: the services
// and what their calls take and return, ids, events and their handlers,
// errors, and the ports a host may replace. Semver applies to exactly these
// names and `enlist::core` (docs/embedding.md, "Public API and semver").
pub use enlist_core::consumer::{EventHandler, HandlerError};
pub use enlist_core::event::{Event, EventData, EventKind, GroupSnapshot, UserSnapshot};
pub use enlist_core::ports::{Clock, DomainVerifier, IdGenerator, MailError, Mailer, Offboarded, Store};
pub use enlist_core::query::ListPage;
pub use enlist_core::service::{GroupView, NewApiKey, NewGroup, NewOrganization, NewUser, UserView};
pub use enlist_core::{
    ActivityQuery, ActivityRecord, Actor, ApiKey, ApiKeyId, Branding, Caller, DisplayName, DomainName, Email, Error,
    EventId, Group, GroupId, GroupRef, Notification, Organization, OrganizationId, Role, RoleSource, Services,
    Uniqueness, User, UserId, UserName, Webhook, WebhookId,
};
/// Notification mail: the SMTP adapter (feature `smtp`).
#[cfg(feature = "smtp")]
pub mod mail {
    pub use enlist_mail::{MailConfigError, SmtpMailer};
}
/// The admin console's session cookie (feature `console`).
#[cfg(feature = "console")]
pub mod console {
    pub use enlist_console::COOKIE;
}
/// The ports' mocks, the in-memory store and fixtures (feature `mocks`):
/// `enlist::core::testing`, here too so a host's tests name `enlist` alone.
#[cfg(feature = "mocks")]
pub use enlist_core::testing;
pub use enlist_diesel::{Database, PoolOptions};
pub use enlist_jobs::activity::ActivityLimits;
/// The JSON of a change event, as webhooks carry it and `enlist events
/// --json` prints it: for a host that forwards events.
pub use enlist_scim::events::event_json;
pub use health::DatabaseHealth;
pub use read::{Member, Reader};
pub use tenants::Tenants;

use actix_web::web;
use enlist_core::ports::NoDomainVerification;
use enlist_core::Deps;
use std::sync::{Arc, Mutex};

/// Why Enlist could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// No database was given.
    #[error(
        "no database: call .database(\"sqlite://enlist.db\") or .database(\"postgres://USER@HOST/DB\") on the builder"
    )]
    NoDatabase,
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Database(#[from] enlist_diesel::OpenError),
    /// Opening ran on a blocking thread that did not finish.
    #[error("opening the database did not finish: {0}")]
    Interrupted(String),
}

/// How a standalone server listens: plain HTTP is `None`.
enum Listen {
    #[cfg(feature = "tls")]
    Tls(rustls::ServerConfig),
}

/// Which routes a server of [`Enlist`] mounts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mount {
    All,
    Public,
    Admin,
}

/// Builds an [`Enlist`]. Every port has a production default; a host
/// replaces the ones it owns (its own mailer, clock or ids in tests).
pub struct Builder {
    url: Option<String>,
    database: Option<Database>,
    pool: PoolOptions,
    migrate: bool,
    mailer: Option<Arc<dyn Mailer>>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    dns: Option<Arc<dyn DomainVerifier>>,
    http: HttpConfig,
    events_keep_days: u32,
    webhook_lease: std::time::Duration,
    activity_keep_days: u32,
    activity_limits: enlist_jobs::activity::ActivityLimits,
    mail_rate: (u32, u32),
    store: Option<Arc<dyn enlist_core::ports::Store>>,
    branding: enlist_core::Branding,
    webhooks_allow_private: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            url: None,
            database: None,
            pool: PoolOptions::default(),
            migrate: false,
            mailer: None,
            clock: Arc::new(system::SystemClock),
            ids: Arc::new(system::RandomIds),
            dns: None,
            http: HttpConfig::default(),
            events_keep_days: 30,
            webhook_lease: std::time::Duration::from_secs(30),
            activity_keep_days: 30,
            activity_limits: enlist_jobs::activity::ActivityLimits::default(),
            mail_rate: (500, 2000),
            store: None,
            branding: enlist_core::Branding::default(),
            webhooks_allow_private: false,
        }
    }
}

impl Builder {
    /// The database URL: `sqlite://PATH` or `postgres://USER@HOST/DB`. Any
    /// other scheme is refused (a typo never creates an empty SQLite file).
    pub fn database(mut self, url: &str) -> Self {
        self.url = Some(url.to_owned());
        self
    }
    /// An already opened database (for example with the host's pool sizes).
    pub fn database_handle(mut self, db: Database) -> Self {
        self.database = Some(db);
        self
    }
    /// The `Store` the services run their units of work on (default: the
    /// database itself). For a wrapper around [`Database`] (tracing,
    /// metrics, the host's own retry policy): the background work (mail,
    /// events, webhooks) reads the database, so a replaced store must write
    /// to the same one. The database is still required.
    pub fn store(mut self, store: Arc<dyn enlist_core::ports::Store>) -> Self {
        self.store = Some(store);
        self
    }
    /// Pool settings for [`Builder::database`].
    pub fn pool(mut self, pool: PoolOptions) -> Self {
        self.pool = pool;
        self
    }
    /// Runs pending migrations while building (default: no; a host with
    /// its own deploy step runs `enlist migrate` or [`Database::migrate`]).
    pub fn migrate(mut self, yes: bool) -> Self {
        self.migrate = yes;
        self
    }
    /// Sends notification mail (default: none, mail waits in the outbox).
    /// `enlist::mail::SmtpMailer` (feature `smtp`) is the SMTP adapter.
    pub fn mailer(mut self, mailer: Arc<dyn Mailer>) -> Self {
        self.mailer = Some(mailer);
        self
    }
    /// The time (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
    /// Ids and secrets (default: time-ordered UUIDs, version 7, and 256-bit
    /// secrets).
    pub fn ids(mut self, ids: Arc<dyn IdGenerator>) -> Self {
        self.ids = ids;
        self
    }
    /// DNS TXT lookups for Admins proving domains (default: the system
    /// resolver, or none when it cannot be configured).
    pub fn dns(mut self, dns: Arc<dyn DomainVerifier>) -> Self {
        self.dns = Some(dns);
        self
    }
    /// HTTP settings of the SCIM endpoint (limits, public URL).
    pub fn http(mut self, http: HttpConfig) -> Self {
        self.http = http;
        self
    }
    /// How long a webhook endpoint's claim lasts without renewal (default
    /// 30 s): after a process crashes, another takes over its deliveries
    /// this late. One delivery may take at most half of it. Feature
    /// `webhooks`.
    #[cfg(feature = "webhooks")]
    pub fn webhook_lease(mut self, lease: std::time::Duration) -> Self {
        self.webhook_lease = lease.max(std::time::Duration::from_secs(2));
        self
    }
    /// Days provisioning activity is kept (default 30).
    pub fn activity_keep_days(mut self, days: u32) -> Self {
        self.activity_keep_days = days.max(1);
        self
    }
    /// How much unwritten activity the process holds and each organization
    /// may add (default: 16 MiB queued; 1 MiB at once, then 32 KiB a second,
    /// per organization). Records beyond are dropped and counted.
    pub fn activity_limits(mut self, limits: enlist_jobs::activity::ActivityLimits) -> Self {
        self.activity_limits = limits;
        self
    }
    /// How fast each organization's notification mail goes out, per
    /// process: `burst` at once, then `per_hour` (default 500, then 2,000
    /// an hour). Mail past it waits in the outbox, never dropped.
    pub fn mail_rate(mut self, burst: u32, per_hour: u32) -> Self {
        self.mail_rate = (burst.max(1), per_hour.max(1));
        self
    }
    /// Days change events are kept for replay (default 30).
    pub fn events_keep_days(mut self, days: u32) -> Self {
        self.events_keep_days = days.max(1);
        self
    }

    /// The host product's name, logo and accent colour, shown by the
    /// console (default: Enlist's). The notification mail takes the same
    /// value through its mailer (`enlist::mail::SmtpMailer::branding`).
    pub fn branding(mut self, branding: enlist_core::Branding) -> Self {
        self.branding = branding;
        self
    }

    /// Lets organization Admins register webhook endpoints on this
    /// machine, a private network or plain HTTP (the console's Webhooks
    /// page), as only the operator may otherwise. For development and
    /// all-internal deployments only: on a service that faces the
    /// internet an Admin could make Enlist call inside its network.
    pub fn webhooks_allow_private(mut self, yes: bool) -> Self {
        self.webhooks_allow_private = yes;
        self
    }

    /// Asks this one name server (UDP) for domain proofs and webhook
    /// addresses, not the system's resolvers (split-horizon DNS, tests).
    pub fn name_server(mut self, addr: std::net::SocketAddr) -> Self {
        self.dns =
            Some(Arc::new(enlist_dns::HickoryVerifier::with_name_server(addr, std::time::Duration::from_secs(5))));
        self
    }

    /// Opens (and, when asked, migrates) the database and wires the
    /// services. Blocking work runs off the async executor.
    ///
    /// # Errors
    /// [`BuildError`] naming what to fix.
    pub async fn build(self) -> Result<Enlist, BuildError> {
        let (url, pool, migrate, given) = (self.url.clone(), self.pool.clone(), self.migrate, self.database.clone());
        let db = tokio::task::spawn_blocking(move || -> Result<Database, BuildError> {
            let db = match (given, url) {
                (Some(db), _) => db,
                (None, Some(url)) => Database::open(&url, &pool)?,
                (None, None) => return Err(BuildError::NoDatabase),
            };
            if migrate {
                db.migrate(|step| tracing::info!("migrations: {step}"))?;
            }
            Ok(db)
        })
        .await
        .map_err(|e| BuildError::Interrupted(e.to_string()))??;
        let dns: Arc<dyn DomainVerifier> = match self.dns {
            Some(d) => d,
            None => match enlist_dns::HickoryVerifier::from_system_conf() {
                Ok(v) => Arc::new(v),
                Err(e) => {
                    tracing::warn!(error = %e, "no DNS resolver: organization Admins cannot verify domains");
                    Arc::new(NoDomainVerification)
                }
            },
        };
        let mut services = enlist_core::Services::new(Deps {
            store: self.store.clone().unwrap_or_else(|| Arc::new(db.clone())),
            clock: self.clock.clone(),
            ids: self.ids.clone(),
            dns,
        });
        services.webhooks = services.webhooks.clone().allow_private_for_admins(self.webhooks_allow_private);
        let consumers = Arc::new(Mutex::new(Vec::new()));
        // Activity waits here for the writer that start_background runs;
        // beyond this many unwritten records, new ones are dropped and counted.
        let (recorder, activity_rx) = enlist_jobs::activity::Recorder::new(self.activity_limits, self.clock.clone());
        let health = DatabaseHealth {
            db: db.clone(),
            consumers: consumers.clone(),
            services: Some(services.clone()),
            activity: Some(recorder.clone()),
        };
        let state = web::Data::new(
            enlist_actix::HttpState::new(services.clone(), self.http, Arc::new(health), self.ids.clone())
                .with_activity(recorder),
        );
        Ok(Enlist {
            services,
            db,
            state,
            clock: self.clock,
            ids: self.ids,
            mailer: self.mailer,
            events_keep_days: self.events_keep_days,
            webhook_lease: self.webhook_lease,
            activity_keep_days: self.activity_keep_days,
            mail_rate: self.mail_rate,
            activity_rx: Arc::new(Mutex::new(Some(activity_rx))),
            consumers,
            branding: self.branding,
        })
    }
}

/// Enlist, wired: see the crate documentation. Cheap to clone.
#[derive(Clone)]
pub struct Enlist {
    services: enlist_core::Services,
    db: Database,
    state: web::Data<enlist_actix::HttpState>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    mailer: Option<Arc<dyn Mailer>>,
    events_keep_days: u32,
    #[cfg_attr(not(feature = "webhooks"), allow(dead_code))]
    webhook_lease: std::time::Duration,
    activity_keep_days: u32,
    mail_rate: (u32, u32),
    /// The activity queue's receiving end, taken by the first
    /// `start_background`.
    activity_rx: Arc<Mutex<Option<enlist_jobs::activity::ActivityQueue>>>,
    /// Names of this process's consumers, for the lag gauges.
    consumers: Arc<Mutex<Vec<String>>>,
    #[cfg_attr(not(feature = "console"), allow(dead_code))]
    branding: enlist_core::Branding,
}

impl Enlist {
    /// A builder with production defaults.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The use cases, for the host's admin screens. Calls take a
    /// [`Caller`]: the operator, an organization member (the
    /// host's signed-in Admin), or an API key.
    pub fn services(&self) -> &enlist_core::Services {
        &self.services
    }

    /// The database (for migrations and operator tooling).
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Registers the SCIM endpoint (at [`HttpConfig::base_path`], default
    /// `/scim/v2`) on an actix-web app or scope. Mounted in
    /// `web::scope("/idp")`, the SCIM base is `/idp/scim/v2`. The endpoint
    /// authenticates with Enlist API keys itself; the host's own
    /// authentication need not (and should not) wrap it.
    pub fn configure(&self) -> impl FnOnce(&mut web::ServiceConfig) {
        enlist_actix::configure(self.state.clone())
    }

    /// Registers `/healthz` and `/metrics`. They ask for no key and name
    /// internal details (consumer names, queue depths): mount them where
    /// only monitoring reaches, or behind the host's own authentication.
    pub fn configure_admin(&self) -> impl FnOnce(&mut web::ServiceConfig) {
        enlist_actix::configure_admin(self.state.clone())
    }

    /// The admin console under `/console` (feature `console`), in an app or under any scope (its
    /// links, forms, redirects and cookie follow the mount point, read from
    /// each request). Organization Admins sign in with a link
    /// from `enlist console-link` or a session from
    /// [`Enlist::console_session_for`].
    #[cfg(feature = "console")]
    pub fn configure_console(&self) -> impl FnOnce(&mut web::ServiceConfig) {
        let scim_base = self
            .state
            .config
            .public_url
            .as_ref()
            .map(|u| format!("{}{}", u.trim_end_matches('/'), self.state.config.base_path.trim_end_matches('/')));
        enlist_console::configure(web::Data::new(enlist_console::ConsoleState {
            enlist: self.services.clone(),
            activity: Arc::new(self.db.clone()),
            scim_base,
            secure_cookies: true,
            clock: self.clock.clone(),
            feed: Arc::new(self.db.clone()),
            #[cfg(feature = "webhooks")]
            webhooks: Some(Arc::new(self.clone())),
            #[cfg(not(feature = "webhooks"))]
            webhooks: None,
            branding: self.branding.clone(),
        }))
    }

    /// A console session for the host's own signed-in Admin (`caller` is
    /// `Actor::Member`): set the returned token as the
    /// [`enlist::console::COOKIE`](crate::console::COOKIE) cookie (Secure, HttpOnly,
    /// SameSite=Strict, `Path=/`) and send the person to `/console/`.
    ///
    /// # Errors
    /// `Forbidden` unless the caller is an active Admin.
    #[cfg(feature = "console")]
    pub async fn console_session_for(&self, caller: &enlist_core::Caller) -> Result<String, enlist_core::Error> {
        Ok(self.services.console.start_for(caller).await?.0)
    }

    /// A standalone HTTP server of [`Enlist::configure`] and the console
    /// (what `enlist serve` runs): `workers` threads on `bind`, a 30 s grace
    /// period on stop; signals are the caller's.
    ///
    /// # Errors
    /// When `bind` cannot be listened on.
    pub fn http_server(
        &self,
        workers: usize,
        bind: impl std::net::ToSocketAddrs,
    ) -> std::io::Result<(actix_web::dev::Server, Vec<std::net::SocketAddr>)> {
        self.server(workers, bind, Mount::All, None)
    }

    /// Like [`Enlist::http_server`] over HTTPS (feature `tls`), with
    /// `/healthz`, `/readyz` and `/metrics` on it unless `with_admin` is
    /// false (then [`Enlist::admin_server`] serves them elsewhere). Build
    /// `tls` with [`tls::Certificate::server_config`] to reload the
    /// certificate while serving.
    ///
    /// # Errors
    /// When `bind` cannot be listened on.
    #[cfg(feature = "tls")]
    pub fn https_server(
        &self,
        workers: usize,
        bind: impl std::net::ToSocketAddrs,
        tls: rustls::ServerConfig,
        with_admin: bool,
    ) -> std::io::Result<(actix_web::dev::Server, Vec<std::net::SocketAddr>)> {
        self.server(workers, bind, if with_admin { Mount::All } else { Mount::Public }, Some(Listen::Tls(tls)))
    }

    /// Like [`Enlist::http_server`] without `/healthz` and `/metrics`: the
    /// public port when [`Enlist::admin_server`] serves them elsewhere.
    ///
    /// # Errors
    /// When `bind` cannot be listened on.
    pub fn public_server(
        &self,
        workers: usize,
        bind: impl std::net::ToSocketAddrs,
    ) -> std::io::Result<(actix_web::dev::Server, Vec<std::net::SocketAddr>)> {
        self.server(workers, bind, Mount::Public, None)
    }

    /// `/healthz` and `/metrics` alone, on one worker (`enlist serve
    /// --admin-bind`).
    ///
    /// # Errors
    /// When `bind` cannot be listened on.
    pub fn admin_server(
        &self,
        bind: impl std::net::ToSocketAddrs,
    ) -> std::io::Result<(actix_web::dev::Server, Vec<std::net::SocketAddr>)> {
        self.server(1, bind, Mount::Admin, None)
    }

    fn server(
        &self,
        workers: usize,
        bind: impl std::net::ToSocketAddrs,
        mount: Mount,
        listen: Option<Listen>,
    ) -> std::io::Result<(actix_web::dev::Server, Vec<std::net::SocketAddr>)> {
        let this = self.clone();
        let server = actix_web::HttpServer::new(move || {
            let mut app = actix_web::App::new();
            if mount != Mount::Public {
                app = app.configure(this.configure_admin());
            }
            if mount != Mount::Admin {
                #[cfg(feature = "console")]
                {
                    app = app.configure(this.configure_console());
                }
                app = app.configure(this.configure());
            }
            app
        })
        .workers(workers.max(1))
        .shutdown_timeout(30)
        .disable_signals();
        let server = match listen {
            None => server.bind(bind)?,
            #[cfg(feature = "tls")]
            Some(Listen::Tls(config)) => server.bind_rustls_0_23(bind, config)?,
        };
        let addrs = server.addrs();
        Ok((server.run(), addrs))
    }

    /// Tenant administration as the operator: idempotent find-or-create of
    /// an organization with its domains and SCIM on, a key per identity
    /// provider, key rotation, a group's role, offboarding.
    ///
    /// ```no_run
    /// # async fn start(enlist: &enlist::Enlist) -> Result<(), enlist::core::Error> {
    /// use enlist::core::DomainName;
    /// let contoso = DomainName::parse("contoso.com")?;
    /// // Safe at every start: a second run changes nothing.
    /// let org = enlist.tenants().ensure("Contoso", &[contoso], None).await?;
    /// if let Some(key) = enlist.tenants().ensure_key(&org.id, "Entra ID provisioning").await? {
    ///     println!("paste into Entra ID, shown once: {}", key.token);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn tenants(&self) -> Tenants<'_> {
        Tenants::new(&self.services)
    }

    /// Reads for the host: members with their effective role, lists by
    /// SCIM filter, a user's groups.
    pub fn read(&self) -> Reader<'_> {
        Reader::new(&self.services)
    }

    /// An organization's provisioning activity, newest first: every SCIM
    /// request that changed something or was refused, with what the
    /// identity provider was told.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn activity(
        &self,
        org: &enlist_core::OrganizationId,
        query: enlist_core::ActivityQuery,
    ) -> Result<Vec<enlist_core::ActivityRecord>, enlist_core::Error> {
        enlist_core::ports::ActivityLog::list(&self.db, org, query).await
    }

    /// First start: on a database without organizations, creates the
    /// "Default" organization (SCIM on, for trying Enlist out) and an API
    /// key labelled "Default key"; returns them with the key's token,
    /// shown only here. Idempotent when several processes start at once.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn first_start(&self) -> Result<Option<(Organization, String)>, enlist_core::Error> {
        let Some(org) = self.services.organizations.first_start().await? else { return Ok(None) };
        let operator = enlist_core::Caller::operator(&org.id);
        let key = self.services.api_keys.create(&operator, "Default key").await?;
        Ok(Some((org, key.token)))
    }
}
