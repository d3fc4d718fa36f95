//! Profile values (`user_values`) in filters: which attributes have index
//! entries, and the queries that read through them.

use super::{Kind, Resource, Sql, Target};
use crate::conn::Bind;
use enlist_core::fold;
use enlist_core::query::{CompareOp, Filter, Literal};
use enlist_core::RepoError;

/// The profile attributes whose value rows are indexed for filters
/// (`user_values_filtered`, migration 19): those identity providers match
/// on. Each is an index entry at a random place per value row, so the rest
/// (28 rows of an Entra-sized user against 4 of these) are not indexed;
/// a filter on them reads the organization's users' rows.
pub(crate) const FILTERED_ATTRS: [&str; 2] =
    ["emails", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"];

/// The index's predicate on alias `v`, spelled as the migration spells it:
/// both databases use a partial index only for a query whose conditions
/// include its predicate, and a bound `v.attr = $1` proves nothing.
pub(super) fn filtered_values(v: &str) -> String {
    format!("{v}.attr IN ('{}', '{}')", FILTERED_ATTRS[0], FILTERED_ATTRS[1])
}

/// A comparison the values index answers: attribute, sub-attribute,
/// case-exact, operator, literal.
pub(super) type IndexedTerm = (String, Option<String>, bool, CompareOp, Literal);

impl Sql {
    /// `SELECT user_id` of the profile values of `attr`(`.sub`) that
    /// compare true, read through `user_values_filtered`: only for
    /// [`FILTERED_ATTRS`] (elsewhere it would read every tenant's rows).
    pub(super) fn values_ids(
        &mut self,
        attr: String,
        sub: Option<String>,
        exact: bool,
        op: CompareOp,
        lit: &Literal,
    ) -> Result<String, RepoError> {
        let v = self.alias("v");
        let a = self.param(attr);
        let mut of_attr = format!("{v}.attr = {a} AND {}", filtered_values(&v));
        if let Some(sub) = sub {
            let s = self.param(sub);
            of_attr.push_str(&format!(" AND {v}.sub = {s}"));
        }
        let (expr, kind) =
            if exact { (format!("{v}.value"), Kind::Exact) } else { (format!("{v}.folded"), Kind::Folded) };
        let mut c = self.compare(&expr, kind, op, lit)?;
        if exact && op == CompareOp::Eq {
            c = format!("{} AND {c}", self.folded_eq(&v, lit));
        }
        Ok(format!("SELECT {v}.user_id FROM user_values {v} WHERE {of_attr} AND {c}"))
    }

    /// `v.folded = fold(lit)`: an exact equality implies it, and it lets
    /// the folded index find the rows (there is no index on the exact
    /// value: it doubled the index writes of every profile for the few
    /// case-exact attributes).
    pub(super) fn folded_eq(&mut self, v: &str, lit: &Literal) -> String {
        let text = match lit {
            Literal::String(s) => s.clone(),
            Literal::Bool(b) => b.to_string(),
            Literal::Integer(i) => i.to_string(),
            Literal::Decimal(d) => d.to_string(),
            Literal::DateTime(d) => d.to_rfc3339(),
            Literal::Null => return "1 = 1".into(),
        };
        let p = self.param(Bind::Text(fold(&text)));
        format!("{v}.folded = {p}")
    }

    /// Whether every match of `f` has a value the values index finds: one
    /// of its `and` terms is such a comparison or value path.
    pub(super) fn values_drive(&self, r: Resource, f: &Filter) -> bool {
        match f {
            Filter::And(a, b) => self.values_drive(r, a) || self.values_drive(r, b),
            Filter::ValuePath { attr, filter } => {
                matches!(self.target(r, attr), Ok(Target::Values { .. })) && self.indexed_term(r, filter).is_some()
            }
            compare => self.indexed_term(r, compare).is_some(),
        }
    }

    /// A comparison among the `and` terms of a value path's filter that
    /// the values index can answer (a positive comparison on a
    /// sub-attribute of one of [`FILTERED_ATTRS`]): every match has an
    /// element with it. Of several, an equality on `value` (what tells
    /// people apart; `type eq "work"` matches nearly everyone).
    pub(super) fn indexed_term(&self, r: Resource, f: &Filter) -> Option<IndexedTerm> {
        let mut terms = Vec::new();
        self.indexed_terms(r, f, &mut terms);
        let rank = |t: &IndexedTerm| (t.1.as_deref() != Some("value"), t.3 != CompareOp::Eq);
        terms.into_iter().min_by_key(rank)
    }

    fn indexed_terms(&self, r: Resource, f: &Filter, out: &mut Vec<IndexedTerm>) {
        match f {
            Filter::And(a, b) => {
                self.indexed_terms(r, a, out);
                self.indexed_terms(r, b, out);
            }
            Filter::Compare { path, op, value } if *op != CompareOp::Ne && *value != Literal::Null => {
                if let Ok(Target::Values { attr, sub, exact }) = self.target(r, path) {
                    if FILTERED_ATTRS.contains(&attr.as_str()) {
                        let sub = Some(sub.unwrap_or_else(|| "value".to_owned()));
                        out.push((attr, sub, exact, *op, value.clone()));
                    }
                }
            }
            _ => {}
        }
    }
}
