//! Substring search over people ("mith" finds Smith). A `co` of at least
//! three characters on the searchable attributes (userName, displayName,
//! emails.value, name.givenName, name.familyName), or an `or` of such,
//! first reads its candidates from a trigram index, then each candidate is
//! checked exactly: the index narrows, never decides. SQLite: the FTS5
//! table `users_search` (migration 16, kept by triggers); PostgreSQL:
//! `pg_trgm` indexes on the two columns and on those value rows
//! (migrations 17 and 18).

use super::{like_escape, or_leaves, Kind, Resource, Sql, Target};
use crate::conn::Backend;
use enlist_core::fold;
use enlist_core::query::{CompareOp, Filter, Literal};

/// The value rows the index holds; literal in the SQL so PostgreSQL can
/// match its partial index's predicate.
const SEARCHABLE_VALUES: &str =
    "((v.attr = 'emails' AND v.sub = 'value') OR (v.attr = 'name' AND v.sub IN ('givenName', 'familyName')))";

/// Trigram indexes find nothing shorter.
const MIN_CHARS: usize = 3;

/// What a search asks: its distinct terms (folded), and whether it asks
/// all five attributes.
pub(super) struct Search {
    terms: Vec<String>,
    all_five: bool,
}

impl Sql {
    /// The organization condition of a list on `alias`: indexed, unless an
    /// index of the filter drives the query ([`Sql::filter`]).
    pub(crate) fn org_condition(&self, alias: &str, org: &str) -> String {
        let plus = if self.index_drives { "+" } else { "" };
        format!("{plus}{alias}.organization_id = {org}")
    }

    /// `f` as a search the index serves (see the module), if it is one.
    pub(super) fn search(&self, r: Resource, f: &Filter) -> Option<Search> {
        if r != Resource::User {
            return None;
        }
        let mut leaves = Vec::new();
        or_leaves(f, &mut leaves);
        let mut terms: Vec<String> = Vec::new();
        let mut covered: Vec<String> = Vec::new();
        for leaf in leaves {
            let Filter::Compare { path, op: CompareOp::Co, value: Literal::String(s) } = leaf else { return None };
            let searchable = match self.target(r, path) {
                Ok(Target::Column(c, Kind::Folded)) => c == "u.user_name_folded" || c == "u.display_name_folded",
                Ok(Target::Values { attr, sub: Some(sub), exact: false }) => {
                    (attr == "emails" && sub == "value")
                        || (attr == "name" && (sub == "givenName" || sub == "familyName"))
                }
                _ => false,
            };
            let term = fold(s);
            if !searchable || term.chars().count() < MIN_CHARS {
                return None;
            }
            covered.push(path.dotted().to_ascii_lowercase());
            if !terms.contains(&term) {
                terms.push(term);
            }
        }
        let all_five = ["username", "displayname", "emails.value", "name.givenname", "name.familyname"]
            .iter()
            .all(|a| covered.iter().any(|c| c == a));
        Some(Search { terms, all_five })
    }

    /// The candidates of `f` as a condition on `u`, when `f` is a search
    /// the index serves; `None` otherwise, and inside a search already
    /// being translated. With it, whether the candidates are the answer:
    /// both indexes hold exactly the five attributes (SQLite's joined by
    /// newlines, PostgreSQL's two columns too), so one term without a
    /// newline searched in all five matches there exactly when it matches
    /// one of them, and the per-row check is skipped (it cost most of a
    /// search that matched the whole roster).
    pub(super) fn search_candidates(&mut self, r: Resource, f: &Filter) -> Option<(String, bool)> {
        if self.searching {
            return None;
        }
        let Search { terms, all_five } = self.search(r, f)?;
        let exact = all_five && terms.len() == 1 && !terms.iter().any(|t| t.contains('\n'));
        Some(match self.backend {
            Backend::Sqlite => {
                // FTS5 phrases: each term quoted (its quotes doubled), any of them.
                let query = terms.iter().map(|t| format!("\"{}\"", t.replace('"', "\"\""))).collect::<Vec<_>>();
                let p = self.param(query.join(" OR "));
                (format!("u.seq IN (SELECT rowid FROM users_search WHERE users_search MATCH {p})"), exact)
            }
            Backend::Postgres => {
                let mut sets = Vec::with_capacity(terms.len() * 2);
                for t in &terms {
                    // PostgreSQL's LIKE escapes with `\` by default.
                    let p = self.param(format!("%{}%", like_escape(t)));
                    sets.push(format!(
                        "SELECT s.id FROM users s WHERE (s.user_name_folded || chr(10) || COALESCE(s.display_name_folded, '')) LIKE {p}"
                    ));
                    sets.push(format!(
                        "SELECT v.user_id FROM user_values v WHERE {SEARCHABLE_VALUES} AND v.folded LIKE {p}"
                    ));
                }
                // Exact as on SQLite: the two columns are joined by a
                // newline, the value rows are each one attribute's.
                // ALL: `IN` needs no duplicates removed first.
                (format!("u.id IN ({})", sets.join(" UNION ALL ")), exact)
            }
        })
    }
}
