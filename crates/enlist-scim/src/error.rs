//! SCIM error responses (RFC 7644 §3.12): the `scimType` of each core error
//! kind, and the body. The HTTP status travels in the body as RFC 7644
//! requires; `enlist-actix` uses the same number for the response line.

use enlist_core::Error;
use serde_json::{json, Value};

/// The SCIM error message URN.
pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A SCIM error: status, `scimType`, and a detail a person can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    /// HTTP status.
    pub status: u16,
    /// RFC 7644 `scimType`, where one applies.
    pub scim_type: Option<&'static str>,
    /// What went wrong and what to do.
    pub detail: String,
    /// For a 500 only: the underlying cause, for the server's log (with the
    /// request id). Never sent to the client.
    pub cause: Option<String>,
    /// `Retry-After`, in seconds, where the answer names one.
    pub retry_after: Option<u32>,
}

impl ScimError {
    /// A 400 with a `scimType`.
    pub fn bad_request(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self { status: 400, scim_type: Some(scim_type), detail: detail.into(), cause: None, retry_after: None }
    }
    /// 400 `invalidSyntax`.
    pub fn syntax(detail: impl Into<String>) -> Self {
        Self::bad_request("invalidSyntax", detail)
    }
    /// 400 `invalidValue`.
    pub fn value(detail: impl Into<String>) -> Self {
        Self::bad_request("invalidValue", detail)
    }
    /// 400 `invalidFilter`.
    pub fn filter(detail: impl Into<String>) -> Self {
        Self::bad_request("invalidFilter", detail)
    }
    /// 400 `invalidPath`.
    pub fn path(detail: impl Into<String>) -> Self {
        Self::bad_request("invalidPath", detail)
    }
    /// 400 `mutability`.
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::bad_request("mutability", detail)
    }
    /// Any status without a `scimType`.
    pub fn status(status: u16, detail: impl Into<String>) -> Self {
        Self { status, scim_type: None, detail: detail.into(), cause: None, retry_after: None }
    }
    /// The RFC 7644 body; `status` is a string.
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_URN],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let (Some(t), Some(map)) = (self.scim_type, body.as_object_mut()) {
            map.insert("scimType".into(), Value::String(t.into()));
        }
        body
    }
}

impl std::fmt::Display for ScimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.scim_type.unwrap_or("-"), self.detail)
    }
}

impl std::error::Error for ScimError {}

impl From<Error> for ScimError {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound { detail } => Self::status(404, detail),
            Error::Uniqueness { detail, .. } => Self { status: 409, scim_type: Some("uniqueness"), detail, cause: None, retry_after: None },
            Error::Conflict { detail } => Self::status(409, detail),
            Error::InvalidValue { detail } => Self::value(detail),
            Error::Mutability { detail } => Self::mutability(detail),
            Error::InvalidFilter { detail } => Self::filter(detail),
            Error::InvalidPath { detail } => Self::path(detail),
            Error::NoTarget { detail } => Self::bad_request("noTarget", detail),
            Error::PreconditionFailed { detail } => Self::status(412, detail),
            Error::Unauthorized { detail } => Self::status(401, detail),
            Error::Forbidden { detail } => Self::status(403, detail),
            Error::Retry => Self::status(409, "a concurrent change won the race; retry the request"),
            Error::Unavailable { detail } => Self::status(503, detail),
            // Okta retries a 429 by itself when it names a delay; Entra ID
            // retries the person on a later cycle (docs/entra-setup.md).
            Error::Held { detail, retry_after_secs } => {
                Self { retry_after: Some(retry_after_secs), ..Self::status(429, detail) }
            }
            // No internals in the detail: they go to the log, keyed by the
            // request id the HTTP front adds.
            Error::Unexpected(cause) => Self {
                cause: Some(cause.to_string()),
                ..Self::status(500, "Enlist failed unexpectedly; the request changed nothing. Retry later; if it persists, give the operator the X-Request-Id of this response.")
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unexpected_error_keeps_its_cause_for_the_log_but_not_the_body() {
        let e = ScimError::from(Error::Unexpected("stored users.profile of row u1 cannot be read".into()));
        assert_eq!(e.status, 500);
        assert_eq!(e.cause.as_deref(), Some("stored users.profile of row u1 cannot be read"));
        assert!(!e.to_json().to_string().contains("users.profile"), "the client never sees the cause");
        assert_eq!(ScimError::from(Error::InvalidValue { detail: "x".into() }).cause, None);
    }
}
