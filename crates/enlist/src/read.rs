//! Reads for the host product: a member by id or by email with its
//! effective role and where it comes from, a page of members by SCIM
//! filter, a member's groups. The host never queries Enlist's tables.

use enlist_core::query::{ListPage, ListQuery, Page};
use enlist_core::schema::USER_RESOURCE;
use enlist_core::service::UserView;
use enlist_core::{Caller, Email, Error, GroupRef, OrganizationId, Role, RoleSource, User, UserId};

/// A member as the host needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// The membership: profile, `active`, timestamps.
    pub user: User,
    /// Its groups in the organization.
    pub groups: Vec<GroupRef>,
}

impl Member {
    /// The role the person holds in the organization.
    pub fn role(&self) -> Role {
        self.user.effective_role
    }
    /// Where the role comes from.
    pub fn role_source(&self) -> RoleSource {
        self.user.role_source
    }
    /// Whether the identity provider has suspended the person.
    pub fn active(&self) -> bool {
        self.user.profile.active()
    }

    fn of(v: UserView) -> Self {
        Self { user: v.user, groups: v.groups.unwrap_or_default() }
    }
}

/// The read API; see [`crate::Enlist::read`].
pub struct Reader<'a> {
    services: &'a enlist_core::Services,
}

/// `NotFound` becomes `None`: asking about a stranger is not an error.
fn found<T>(r: Result<T, Error>) -> Result<Option<T>, Error> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

impl<'a> Reader<'a> {
    pub(crate) fn new(services: &'a enlist_core::Services) -> Self {
        Self { services }
    }

    /// A member by SCIM id.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn member(&self, org: &OrganizationId, id: &UserId) -> Result<Option<Member>, Error> {
        Ok(found(self.services.users.get(&Caller::operator(org), id, true).await)?.map(Member::of))
    }

    /// A member by email, in any letter case.
    ///
    /// # Errors
    /// `InvalidValue` for text that is not an email address.
    pub async fn member_by_email(&self, org: &OrganizationId, email: &str) -> Result<Option<Member>, Error> {
        let email = Email::parse(email)?;
        Ok(found(self.services.users.by_email(&Caller::operator(org), &email).await)?.map(Member::of))
    }

    /// A page of members matching a SCIM filter (`None`: all), in creation
    /// order; `start_index` is 1-based. Evaluated by the database.
    ///
    /// # Errors
    /// `InvalidFilter` naming what is wrong with the filter.
    pub async fn members(
        &self,
        org: &OrganizationId,
        filter: Option<&str>,
        start_index: u64,
        count: u64,
    ) -> Result<ListPage<Member>, Error> {
        let filter = match filter {
            Some(f) => Some(
                enlist_scim::parse_filter(&USER_RESOURCE, f).map_err(|e| Error::InvalidFilter { detail: e.detail })?,
            ),
            None => None,
        };
        let query = ListQuery { filter, sort: None, page: Page::Index { start_index: start_index.max(1), count } };
        let page = self.services.users.list(&Caller::operator(org), query, true).await?;
        Ok(ListPage { total: page.total, items: page.items.into_iter().map(Member::of).collect(), next_cursor: None })
    }

    /// The groups a member belongs to (empty for a stranger).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn groups_of(&self, org: &OrganizationId, id: &UserId) -> Result<Vec<GroupRef>, Error> {
        Ok(self.member(org, id).await?.map(|m| m.groups).unwrap_or_default())
    }
}
