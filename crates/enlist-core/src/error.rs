//! The core's error kinds: what went wrong, in words an administrator can act
//! on. The HTTP front maps each kind to a status and `enlist-scim` to a
//! `scimType`; nothing here knows either.

use std::fmt;

/// Which uniqueness rule a conflicting write broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    /// `userName` is unique per organization, case-insensitively.
    UserName,
    /// One account per email address across all organizations.
    AccountEmail,
    /// One membership of an account per organization.
    Membership,
    /// Group `displayName` is unique per organization, case-insensitively.
    GroupDisplayName,
    /// A domain belongs to one organization at most.
    Domain,
    /// Organization names are unique.
    OrganizationName,
}

impl Uniqueness {
    /// The attribute or rule, as a person would name it.
    pub fn attribute(self) -> &'static str {
        match self {
            Self::UserName => "userName",
            Self::AccountEmail => "email",
            Self::Membership => "email",
            Self::GroupDisplayName => "displayName",
            Self::Domain => "domain",
            Self::OrganizationName => "name",
        }
    }
}

/// Every way a use case of the core can fail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The resource does not exist in the caller's organization (or at all).
    #[error("{detail}")]
    NotFound {
        /// Says what was not found.
        detail: String,
    },
    /// A uniqueness rule would be broken.
    #[error("{detail}")]
    Uniqueness {
        /// Which rule.
        rule: Uniqueness,
        /// Says what clashed and what to do.
        detail: String,
    },
    /// A product rule forbids the change in the current state (e.g. the last
    /// active Admin).
    #[error("{detail}")]
    Conflict {
        /// Says why and what to do first.
        detail: String,
    },
    /// A value is not acceptable (unknown role, refused email change, …).
    #[error("{detail}")]
    InvalidValue {
        /// Says which value and what is allowed.
        detail: String,
    },
    /// An attempt to change something that cannot be changed this way
    /// (passwords, read-only attributes).
    #[error("{detail}")]
    Mutability {
        /// Says what cannot be changed and why.
        detail: String,
    },
    /// A filter cannot be evaluated.
    #[error("{detail}")]
    InvalidFilter {
        /// Points at the problem.
        detail: String,
    },
    /// A change path does not name something that can be changed.
    #[error("{detail}")]
    InvalidPath {
        /// Points at the problem.
        detail: String,
    },
    /// A filtered change path matched nothing and cannot create its target.
    #[error("{detail}")]
    NoTarget {
        /// Points at the problem.
        detail: String,
    },
    /// The caller's version (ETag) is not the current one.
    #[error("{detail}")]
    PreconditionFailed {
        /// Says which version is current.
        detail: String,
    },
    /// The credentials are missing, unknown or revoked.
    #[error("{detail}")]
    Unauthorized {
        /// Says what to fix.
        detail: String,
    },
    /// The caller is known but not allowed to do this.
    #[error("{detail}")]
    Forbidden {
        /// Says who may.
        detail: String,
    },
    /// A concurrent write won a race; the services re-run the unit of work
    /// and callers see this only from a port.
    #[error("a concurrent change won the race; retry")]
    Retry,
    /// Enlist cannot take this request now (the database is busy with
    /// other writes, or the work ran past its deadline). Nothing was
    /// changed; the same request may be sent again.
    #[error("{detail}")]
    Unavailable {
        /// Says what happened and when to retry.
        detail: String,
    },
    /// The deprovisioning guard holds this removal: too many members were
    /// deactivated or deleted in its window. Nothing was changed; the
    /// identity provider may send it again once an Admin approves.
    #[error("{detail}")]
    Held {
        /// Says what was held, why, and what the Admin does.
        detail: String,
        /// When to ask again, in seconds (`Retry-After`).
        retry_after_secs: u32,
    },
    /// Storage or another dependency failed; not the caller's fault.
    #[error("unexpected failure: {0}")]
    Unexpected(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    pub(crate) fn not_found(what: impl fmt::Display) -> Self {
        Self::NotFound { detail: format!("{what} not found") }
    }
    pub(crate) fn invalid(detail: impl Into<String>) -> Self {
        Self::InvalidValue { detail: detail.into() }
    }
    pub(crate) fn mutability(detail: impl Into<String>) -> Self {
        Self::Mutability { detail: detail.into() }
    }
    pub(crate) fn path(detail: impl Into<String>) -> Self {
        Self::InvalidPath { detail: detail.into() }
    }
}

/// What a repository adapter may report. Adapters translate their driver's
/// errors into these; the core turns them into [`Error`]s with details.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// A unique constraint rejected the write.
    #[error("unique constraint violated: {0:?}")]
    Unique(Uniqueness),
    /// An optimistic version check failed: the row changed since it was read.
    #[error("the row changed since it was read")]
    VersionConflict,
    /// A referenced row does not exist (e.g. a deleted user in a member add).
    #[error("a referenced row does not exist")]
    MissingReference,
    /// The query asks for something this store cannot evaluate (e.g. a
    /// filter on an attribute it does not index); the detail says what.
    #[error("{0}")]
    Unsupported(String),
    /// Anything else; not the caller's fault.
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync>),
}

impl RepoError {
    /// Wraps any error as [`RepoError::Other`].
    pub fn other(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Other(Box::new(e))
    }
}

impl From<RepoError> for Error {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::Unique(rule) => Error::Uniqueness {
                rule,
                detail: format!(
                    "{} is already in use; choose another value or update the existing resource",
                    rule.attribute()
                ),
            },
            RepoError::VersionConflict => Error::Retry,
            RepoError::MissingReference => {
                Error::InvalidValue { detail: "a referenced user or group no longer exists".into() }
            }
            RepoError::Unsupported(detail) => Error::InvalidFilter { detail },
            RepoError::Other(e) => Error::Unexpected(e),
        }
    }
}

/// Result of the core's use cases.
pub type Result<T, E = Error> = std::result::Result<T, E>;
