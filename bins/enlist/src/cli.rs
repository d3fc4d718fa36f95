//! The command line: every subcommand and flag (clap derive). Flags
//! override `ENLIST_*` environment variables, which override the file.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "enlist", version, about = "Enlist: a SCIM 2.0 service provider for Entra ID and Okta.")]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Args, Clone)]
pub(crate) struct Global {
    /// Database URL: sqlite://PATH (default sqlite://enlist.db) or postgres://USER@HOST/DB.
    #[arg(long, env = "ENLIST_DATABASE_URL", global = true)]
    pub(crate) database: Option<String>,
    /// Optional TOML configuration file (flags and ENLIST_* variables win over it).
    #[arg(long, env = "ENLIST_CONFIG", global = true)]
    pub(crate) config: Option<PathBuf>,
    /// Log format: human or json.
    #[arg(long, env = "ENLIST_LOG_FORMAT", global = true)]
    pub(crate) log_format: Option<String>,
    /// Log level: error, warn, info (default), debug or trace. RUST_LOG,
    /// when set, wins and takes per-module directives (enlist_webhooks=debug).
    #[arg(long, env = "ENLIST_LOG_LEVEL", global = true)]
    pub(crate) log_level: Option<String>,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Run pending migrations, then serve the SCIM endpoint.
    Serve(Box<Serve>),
    /// Run pending migrations and report the schema version.
    Migrate,
    /// Copy the SQLite database to a new file while it serves (consistent:
    /// every write committed before the copy began is in it). Run it before
    /// an upgrade: it does not migrate. PostgreSQL: use pg_dump.
    Backup {
        /// The new file (never overwritten).
        path: PathBuf,
    },
    /// Organizations.
    #[command(subcommand)]
    Org(OrgCmd),
    /// Registered email domains.
    #[command(subcommand)]
    Domain(DomainCmd),
    /// API keys.
    #[command(subcommand, name = "api-key")]
    ApiKey(KeyCmd),
    /// Map a group to a role (all its members hold at least that role).
    #[command(subcommand, name = "group-role")]
    GroupRole(GroupRoleCmd),
    /// Users.
    #[command(subcommand)]
    Users(UsersCmd),
    /// The notification outbox: what waits, and what was set aside as
    /// undeliverable (with `retry ID` to put one back in line).
    Outbox {
        #[command(subcommand)]
        cmd: Option<OutboxCmd>,
        /// Print JSON only.
        #[arg(long)]
        json: bool,
    },
    /// A one-time console sign-in link (15 minutes) for an active Admin.
    #[command(name = "console-link")]
    ConsoleLink {
        /// Organization id or name.
        org: String,
        /// The Admin's email.
        #[arg(long)]
        email: String,
        /// Where `enlist serve` is reached (its --public-url).
        #[arg(long, env = "ENLIST_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
        base: String,
    },
    /// Webhook endpoints that receive an organization's change events.
    #[command(subcommand)]
    Webhook(WebhookCmd),
    /// An organization's change events, for reconciliation: every event
    /// after a sequence number, oldest first.
    Events {
        /// Organization id or name.
        org: String,
        /// Only events after this sequence number (0: from the first kept).
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// At most this many events (up to 1000).
        #[arg(long, default_value_t = 1000)]
        limit: u64,
        /// Print JSON only, one event per line.
        #[arg(long)]
        json: bool,
    },
    /// Provisioning activity: every SCIM request that changed something or
    /// was refused, newest first, with what the identity provider was told.
    Activity {
        /// Organization id or name.
        org: String,
        /// Only refused requests.
        #[arg(long)]
        failed: bool,
        /// Only at or after this time (RFC 3339, e.g. 2026-11-29T00:00:00Z).
        #[arg(long)]
        since: Option<String>,
        /// Only about this person (userName) or group (displayName).
        #[arg(long)]
        user: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 200)]
        limit: u64,
        /// Print JSON only.
        #[arg(long)]
        json: bool,
    },
    /// The audit log of an organization.
    Audit {
        /// Organization id or name.
        org: String,
        /// Only records at or after this time (RFC 3339, e.g. 2026-11-29T00:00:00Z).
        #[arg(long)]
        since: Option<String>,
        /// At most this many records.
        #[arg(long, default_value_t = 1000)]
        limit: u64,
        /// Print JSON only.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum WebhookCmd {
    /// Register an endpoint; prints its signing secret once.
    Add {
        /// Organization id or name.
        org: String,
        /// https://… (http:// only to localhost, for development).
        url: String,
        /// Deliver every organization's events, not only ORG's.
        #[arg(long)]
        all_organizations: bool,
        /// Allow this machine or a private network (and plain http://), for
        /// development or an internal receiver you trust.
        #[arg(long)]
        allow_private: bool,
    },
    /// List endpoints, with whether they are failing or disabled.
    List {
        /// Organization id or name.
        org: String,
        /// The every-organization endpoints instead of ORG's.
        #[arg(long)]
        all_organizations: bool,
        /// Print JSON only.
        #[arg(long)]
        json: bool,
    },
    /// Remove an endpoint.
    Remove {
        /// Organization id or name.
        org: String,
        /// The endpoint id (from `enlist webhook list`).
        id: String,
    },
    /// Send a signed `webhook.test` request now and print the answer.
    Test {
        /// Organization id or name.
        org: String,
        /// The endpoint id.
        id: String,
    },
    /// Deliver ORG's events to an endpoint again, from event number FROM on
    /// (in order; each keeps its webhook-id, so receivers see repeats).
    Replay {
        /// Organization id or name.
        org: String,
        /// The endpoint id.
        id: String,
        /// The first event to deliver again (`enlist webhook list` shows
        /// how far each endpoint got).
        #[arg(long)]
        from: u64,
    },
}

#[derive(Subcommand)]
pub(crate) enum OutboxCmd {
    /// Put a set-aside notification back in line, to be sent at once.
    Retry {
        /// The notification id (from `enlist outbox`).
        id: String,
    },
}

#[derive(Args)]
pub(crate) struct Serve {
    /// Address to listen on.
    #[arg(long, env = "ENLIST_BIND")]
    pub(crate) bind: Option<String>,
    /// Serve /healthz and /metrics on this address only (e.g.
    /// 127.0.0.1:9090), off the public port. Without it they are on --bind.
    #[arg(long, env = "ENLIST_ADMIN_BIND")]
    pub(crate) admin_bind: Option<String>,
    /// Public URL prefix for Location and $ref (e.g. https://enlist.example.com).
    #[arg(long, env = "ENLIST_PUBLIC_URL")]
    pub(crate) public_url: Option<String>,
    /// Database connections per process.
    #[arg(long, env = "ENLIST_POOL_SIZE")]
    pub(crate) pool_size: Option<u32>,
    /// Largest request body in bytes.
    #[arg(long, env = "ENLIST_BODY_LIMIT")]
    pub(crate) body_limit: Option<usize>,
    /// Per-request deadline in seconds.
    #[arg(long, env = "ENLIST_REQUEST_TIMEOUT")]
    pub(crate) request_timeout: Option<u64>,
    /// SMTP server in lettre's URL form: smtp://HOST:PORT, smtp://USER:PASS@HOST:587?tls=required, smtps://HOST.
    #[arg(long, env = "ENLIST_SMTP_URL")]
    pub(crate) smtp_url: Option<String>,
    /// Sender of notification mail.
    #[arg(long, env = "ENLIST_MAIL_FROM")]
    pub(crate) mail_from: Option<String>,
    /// HTTP worker threads.
    #[arg(long, env = "ENLIST_WORKERS")]
    pub(crate) workers: Option<usize>,
    /// Requests handled at once; more wait up to 10 s, then get 503 with Retry-After.
    #[arg(long, env = "ENLIST_MAX_IN_FLIGHT")]
    pub(crate) max_in_flight: Option<usize>,
    /// How long a webhook endpoint's claim lasts without renewal: after a
    /// crash, another process takes its deliveries over this late.
    #[arg(long, env = "ENLIST_WEBHOOK_LEASE_SECS")]
    pub(crate) webhook_lease_secs: Option<u64>,
    /// Ask this name server (UDP, HOST:PORT) for domain proofs and webhook
    /// addresses instead of the system's resolvers (split-horizon DNS).
    #[arg(long, env = "ENLIST_DNS_SERVER")]
    pub(crate) dns_server: Option<String>,
    /// Let organization Admins register webhook endpoints on this machine,
    /// a private network or plain HTTP in the console. Development and
    /// all-internal deployments only: never on a service facing the
    /// internet.
    #[arg(long, env = "ENLIST_WEBHOOKS_ALLOW_PRIVATE")]
    pub(crate) webhooks_allow_private: bool,
    /// Days change events are kept for replay, then pruned.
    #[arg(long, env = "ENLIST_EVENTS_KEEP_DAYS")]
    pub(crate) events_keep_days: Option<u32>,
    /// Serve HTTPS with this certificate chain (PEM, leaf first); needs
    /// --tls-key. Read again on SIGHUP, so a renewed certificate takes
    /// effect without a restart.
    #[arg(long, env = "ENLIST_TLS_CERT", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "ENLIST_TLS_KEY", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
    /// Where the first start writes the trial organization's API key when
    /// stdout is not a terminal (mode 0600). Default: enlist-first-key.txt
    /// in $STATE_DIRECTORY (systemd) or the working directory.
    #[arg(long, env = "ENLIST_FIRST_KEY_FILE")]
    pub(crate) first_key_file: Option<PathBuf>,
    /// Create no trial "Default" organization on an empty database.
    #[arg(long, env = "ENLIST_NO_TRIAL_ORG")]
    pub(crate) no_trial_org: bool,
    /// Print the effective configuration (secrets masked) and exit.
    #[arg(long)]
    pub(crate) print_config: bool,
}

#[derive(Subcommand)]
pub(crate) enum OrgCmd {
    /// Create an organization; prints its id.
    Create {
        /// Unique name.
        name: String,
        /// Email of the owner, created as an active Admin.
        #[arg(long)]
        owner: Option<String>,
        /// Register this email domain at once (repeatable). SCIM works only
        /// while the organization has one.
        #[arg(long)]
        domain: Vec<String>,
        /// Create with the SCIM add-on off.
        #[arg(long)]
        no_scim: bool,
    },
    /// List organizations.
    List {
        /// Print JSON only.
        #[arg(long)]
        json: bool,
    },
    /// Turn the SCIM add-on on or off.
    Scim {
        /// Organization id or name.
        org: String,
        /// on or off.
        state: OnOff,
    },
    /// Set the role of users provisioned without one.
    DefaultRole {
        /// Organization id or name.
        org: String,
        /// Admin, FullMember, FreeMember or Guest.
        role: String,
    },
    /// Offboard an organization in one transaction: its people (accounts
    /// other organizations hold stay), groups, keys, role mappings,
    /// domains, webhooks, activity, events and mail. The audit log stays.
    /// Without --yes, only says what would be removed.
    Delete {
        /// Organization id or name.
        org: String,
        /// Really delete.
        #[arg(long)]
        yes: bool,
    },
    /// The deprovisioning guard: show it (the default), change its
    /// settings (--max, --percent, --window), switch it on or off, or decide
    /// on what it holds (approve: the held removals and the rest of a
    /// window pass; dismiss: nothing approved, counting starts afresh).
    Guard {
        /// Organization id or name.
        org: String,
        /// show, on, off, approve or dismiss.
        #[arg(value_enum, default_value = "show")]
        action: GuardAction,
        /// Removals always allowed per window.
        #[arg(long)]
        max: Option<u32>,
        /// Or this share of active members (0-100), when more.
        #[arg(long)]
        percent: Option<u8>,
        /// The rolling window: 90s, 30m, 1h, 2d (1 minute to 7 days).
        #[arg(long)]
        window: Option<String>,
        /// Print JSON only.
        #[arg(long)]
        json: bool,
    },
    /// Write the organization, its users and its groups (with members and
    /// roles) as JSON, the users and groups as SCIM resources.
    Export {
        /// Organization id or name.
        org: String,
        /// Write to this new file instead of stdout.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum GuardAction {
    Show,
    On,
    Off,
    Approve,
    Dismiss,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum OnOff {
    On,
    Off,
}

#[derive(Subcommand)]
pub(crate) enum DomainCmd {
    /// Register a domain.
    Add { org: String, domain: String },
    /// Remove a registered domain.
    Remove { org: String, domain: String },
    /// List registered domains.
    List {
        org: String,
        /// Print JSON only.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum KeyCmd {
    /// Create a key; the secret is printed once, on the last line.
    Create {
        org: String,
        /// What people see in notification mails and the audit log.
        #[arg(long)]
        label: String,
    },
    /// List keys (never secrets).
    List {
        org: String,
        /// Print JSON only.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key; it stops working at once.
    Revoke { org: String, key_id: String },
}

#[derive(Subcommand)]
pub(crate) enum GroupRoleCmd {
    /// Map GROUP (id or displayName) to ROLE.
    Set { org: String, group: String, role: String },
    /// Remove the mapping.
    Clear { org: String, group: String },
}

#[derive(Subcommand)]
pub(crate) enum UsersCmd {
    /// List users, optionally filtered with a SCIM filter.
    List {
        org: String,
        /// e.g. 'userName eq "ana@contoso.com"'.
        #[arg(long)]
        filter: Option<String>,
        /// Print JSON only.
        #[arg(long)]
        json: bool,
    },
}
