//! A user's profile as the identity provider sent it, and the rules that
//! validate it once: limits on values, the email the account comes from,
//! no passwords.

use crate::error::{Error, Result};
use crate::schema::ENTERPRISE_USER;
use crate::types::*;
use crate::value::{Complex, Value};

/// Longest value, in bytes of UTF-8, of an attribute that is looked up by
/// index (`displayName` and `externalId` of users and groups): databases
/// limit index entries in bytes, not characters.
pub const MAX_INDEXED_BYTES: usize = 1024;

/// The most values one multi-valued attribute of a user may hold (emails,
/// phoneNumbers, roles, …). Identity providers send a handful; the bound
/// keeps every pass over a profile's values small.
pub const MAX_VALUES: usize = 100;

/// The refusal for a multi-valued attribute over [`MAX_VALUES`].
pub(crate) fn too_many_values(name: &str, n: usize) -> Error {
    Error::invalid(format!(
        "{name} has {n} values; Enlist keeps at most {MAX_VALUES} per attribute. Send fewer values, or remove some first"
    ))
}

/// Refuses an indexed value longer than [`MAX_INDEXED_BYTES`].
///
/// # Errors
/// [`Error::InvalidValue`] naming the attribute and the limit.
pub fn check_indexed(name: &str, value: &str) -> Result<()> {
    if value.len() > MAX_INDEXED_BYTES {
        return Err(Error::invalid(format!(
            "{name} is {} bytes long; Enlist stores at most {MAX_INDEXED_BYTES} bytes (UTF-8) of it. Map a shorter value",
            value.len()
        )));
    }
    Ok(())
}

/// A user's profile as the identity provider sent it, validated: the
/// attributes that the product's rules read are parsed once, here.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    attrs: Complex,
    user_name: UserName,
    email: Email,
    active: bool,
    roles: Vec<Role>,
}

impl Profile {
    /// Validates a profile. `active` defaults to true when absent.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for a missing `userName`, an unknown role,
    /// no usable email, an invalid email, two `primary` values in one
    /// attribute; [`Error::Mutability`] for a `password`.
    pub fn parse(mut attrs: Complex) -> Result<Self> {
        if attrs.contains_key("password") {
            return Err(password_refused());
        }
        let user_name = match attrs.get("userName") {
            Some(Value::String(s)) => UserName::parse(s)?,
            Some(_) => return Err(Error::invalid("userName must be a string")),
            None => UserName::parse("")?,
        };
        for name in ["externalId", "displayName"] {
            if let Some(v) = attrs.get(name).and_then(Value::as_str) {
                check_indexed(name, v)?;
            }
        }
        let active = match attrs.get("active") {
            None => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(Error::invalid("active must be a boolean (true or false)")),
        };
        attrs.insert("active".into(), Value::Bool(active));
        for (name, value) in &attrs {
            if let Value::Multi(elements) = value {
                if elements.len() > MAX_VALUES {
                    return Err(too_many_values(name, elements.len()));
                }
                let primaries = elements
                    .iter()
                    .filter(|e| e.as_complex().and_then(|c| c.get("primary")).and_then(Value::as_bool) == Some(true))
                    .count();
                if primaries > 1 {
                    return Err(Error::invalid(format!(
                        "{name} has {primaries} values marked primary; at most one may be primary"
                    )));
                }
            }
        }
        let mut roles = Vec::new();
        if let Some(v) = attrs.get("roles") {
            for element in v.elements() {
                let value =
                    element.as_complex().and_then(|c| c.get("value")).and_then(Value::as_str).ok_or_else(|| {
                        Error::invalid(concat!(
                            "each element of roles needs a string value: one of ",
                            crate::types::role_names!()
                        ))
                    })?;
                roles.push(Role::parse(value)?);
            }
        }
        let email = derive_email(&attrs, &user_name)?;
        Ok(Self { attrs, user_name, email, active, roles })
    }

    /// A profile read back from storage. It was validated by
    /// [`Profile::parse`] when it was written, so no rule runs again: a rule
    /// tightened later (a length, a role name) must not make stored users
    /// unreadable. What the rules read is derived the same way, leniently:
    /// an unknown role is skipped, a derived email is trusted.
    pub fn from_stored(attrs: Complex) -> Self {
        let user_name = UserName::from_stored(attrs.get("userName").and_then(Value::as_str).unwrap_or_default());
        let active = attrs.get("active").and_then(Value::as_bool).unwrap_or(true);
        let roles = attrs
            .get("roles")
            .map(|v| {
                v.elements()
                    .iter()
                    .filter_map(|e| e.as_complex()?.get("value")?.as_str())
                    .filter_map(|r| Role::parse(r).ok())
                    .collect()
            })
            .unwrap_or_default();
        let email = derive_email(&attrs, &user_name)
            .unwrap_or_else(|_| Email::from_stored(email_candidate(&attrs).unwrap_or(user_name.as_str())));
        Self { attrs, user_name, email, active, roles }
    }

    /// Every attribute, canonical names, extensions nested under their URN.
    pub fn attrs(&self) -> &Complex {
        &self.attrs
    }
    /// Takes the attributes back.
    pub fn into_attrs(self) -> Complex {
        self.attrs
    }
    /// `userName`.
    pub fn user_name(&self) -> &UserName {
        &self.user_name
    }
    /// The account email the profile gives (primary email, else work email,
    /// else an email-shaped `userName`).
    pub fn email(&self) -> &Email {
        &self.email
    }
    /// `active`.
    pub fn active(&self) -> bool {
        self.active
    }
    /// The roles the identity provider assigned.
    pub fn roles(&self) -> &[Role] {
        &self.roles
    }
    /// `externalId`.
    pub fn external_id(&self) -> Option<&str> {
        self.attrs.get("externalId").and_then(Value::as_str)
    }
    /// `displayName`.
    pub fn display_name(&self) -> Option<&str> {
        self.attrs.get("displayName").and_then(Value::as_str)
    }
    /// The manager's user id (Enterprise extension `manager.value`).
    pub fn manager(&self) -> Option<UserId> {
        self.attrs
            .get(ENTERPRISE_USER)
            .and_then(Value::as_complex)
            .and_then(|e| e.get("manager"))
            .and_then(Value::as_complex)
            .and_then(|m| m.get("value"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(UserId::new)
    }
}

pub(crate) fn password_refused() -> Error {
    Error::mutability(
        "Enlist does not accept passwords: people manage their own password or sign in with SSO. \
         Remove password from the request (in Okta, turn off Provisioning > To App > Sync Password).",
    )
}

/// The address the account email comes from, and which rule picked it:
/// the primary email, else the work email.
fn email_source(attrs: &Complex) -> Option<(&'static str, &str)> {
    let emails: Vec<&Complex> =
        attrs.get("emails").map(|v| v.elements().iter().filter_map(Value::as_complex).collect()).unwrap_or_default();
    let pick = |pred: &dyn Fn(&Complex) -> bool| {
        emails.iter().find(|e| pred(e)).and_then(|e| e.get("value")).and_then(Value::as_str)
    };
    let primary = pick(&|e| e.get("primary").and_then(Value::as_bool) == Some(true));
    let work = pick(&|e| e.get("type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("work")));
    primary.map(|a| ("primary email", a)).or(work.map(|a| ("work email", a)))
}

fn email_candidate(attrs: &Complex) -> Option<&str> {
    email_source(attrs).map(|(_, a)| a)
}

fn derive_email(attrs: &Complex, user_name: &UserName) -> Result<Email> {
    if let Some((which, addr)) = email_source(attrs) {
        return Email::parse(addr).map_err(|_| {
            Error::invalid(format!("The {which} '{addr}' is not a valid email address; map a valid address to emails"))
        });
    }
    Email::parse(user_name.as_str()).map_err(|_| {
        Error::invalid(format!(
            "User '{}' has no email address: map the user's mail to emails[type eq \"work\"].value, \
             mark an email primary, or use an email address as userName",
            user_name.as_str()
        ))
    })
}
