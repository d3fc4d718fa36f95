//! The parts of a list query after the filter: paging (index or cursor),
//! order and limit, all as parameters.

use super::{Resource, Sql};
use enlist_core::query::{ListQuery, Page};
use enlist_core::{RepoError, Role};

impl Sql {
    /// The parts of a list query: the filter condition (for the count and
    /// the page), the cursor condition, `ORDER BY` and `LIMIT`.
    pub(crate) fn list_parts(&mut self, r: Resource, q: &ListQuery) -> Result<ListParts, RepoError> {
        let cond = match &q.filter {
            Some(f) => format!(" AND {}", self.filter(r, f)?),
            None => String::new(),
        };
        let filter_binds = self.binds.len();
        let seq = if r == Resource::User { "u.seq" } else { "g.seq" };
        let (cursor_cond, order, limit) = match &q.page {
            Page::Index { start_index, count } | Page::Capped { start_index, count, .. } => {
                let order = self.order_by(r, q.sort.as_ref())?;
                // Parameters, not literals: every page of a filter is one
                // statement text, prepared once.
                let offset = clamp(start_index.saturating_sub(1));
                let limit = format!("LIMIT {} OFFSET {}", self.param(clamp(*count)), self.param(offset));
                (String::new(), order, limit)
            }
            Page::Cursor { after, count } => {
                let cc = match after {
                    Some(c) => {
                        let n: i64 = c
                            .parse()
                            .map_err(|_| RepoError::Unsupported(format!("'{c}' is not a cursor this server issued")))?;
                        format!(" AND {seq} > {}", self.param(n))
                    }
                    None => String::new(),
                };
                let limit = format!("LIMIT {}", self.param(clamp(*count)));
                (cc, format!("ORDER BY {seq}"), limit)
            }
        };
        Ok(ListParts { filter: cond, filter_binds, cursor: cursor_cond, order, limit })
    }
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// See [`Sql::list_parts`].
pub(crate) struct ListParts {
    pub(crate) filter: String,
    /// How many of the binds the filter (and the organization) use: the
    /// count query binds only those.
    pub(crate) filter_binds: usize,
    pub(crate) cursor: String,
    pub(crate) order: String,
    pub(crate) limit: String,
}

impl ListParts {
    /// The page: its sequence numbers first, then its rows, so the database
    /// sorts and skips narrow keys, not whole profiles (a broad filter on
    /// 100,000 users sorted every matching profile in memory to return 100
    /// of them).
    pub(crate) fn page_sql(&self, cols: &str, from: &str, alias: &str, in_org: &str) -> String {
        format!(
            "SELECT {cols} FROM {from} WHERE {alias}.seq IN (SELECT {alias}.seq FROM {from} \
             WHERE {in_org}{}{} {} {}) {}",
            self.filter, self.cursor, self.order, self.limit, self.order
        )
    }
}

/// A role's rank, Guest 1 up to Admin 4: `Role`'s own order (its
/// declaration order, lowest first); 0 is left for an unknown value.
pub(super) fn role_rank(r: Role) -> i64 {
    r as i64 + 1
}

/// SQL giving the rank of the role stored in `expr`.
pub(super) fn role_rank_sql(expr: &str) -> String {
    let arms: String = Role::ALL.iter().map(|r| format!(" WHEN '{}' THEN {}", r.as_str(), role_rank(*r))).collect();
    format!("(CASE {expr}{arms} ELSE 0 END)")
}
