//! The neutral query model the storage ports accept: a filter tree over
//! resolved attribute paths, a sort and a page. `enlist-scim` parses SCIM
//! filter text into it; `enlist-diesel` translates it into SQL. Only the
//! value filters of PATCH paths are evaluated in memory, over the elements
//! of one resource ([`Filter::matches_element`]).

use crate::schema::{AttrPath, AttrType};
use crate::types::fold;
use crate::value::{Complex, Value};
use chrono::{DateTime, Utc};

/// A comparison operator (RFC 7644 §3.4.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// equal
    Eq,
    /// not equal
    Ne,
    /// contains
    Co,
    /// starts with
    Sw,
    /// ends with
    Ew,
    /// greater than
    Gt,
    /// greater than or equal
    Ge,
    /// less than
    Lt,
    /// less than or equal
    Le,
}

impl CompareOp {
    /// The operator's SCIM spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Co => "co",
            Self::Sw => "sw",
            Self::Ew => "ew",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Lt => "lt",
            Self::Le => "le",
        }
    }
    /// `a op b` on text, bytewise (fold both first for case-insensitive
    /// attributes).
    pub fn test_str(self, a: &str, b: &str) -> bool {
        match self {
            Self::Eq => a == b,
            Self::Ne => a != b,
            Self::Co => a.contains(b),
            Self::Sw => a.starts_with(b),
            Self::Ew => a.ends_with(b),
            Self::Gt => a > b,
            Self::Ge => a >= b,
            Self::Lt => a < b,
            Self::Le => a <= b,
        }
    }

    /// Whether it is one of `co`, `sw`, `ew`.
    pub fn is_substring(self) -> bool {
        matches!(self, Self::Co | Self::Sw | Self::Ew)
    }
    /// Whether it is one of `gt`, `ge`, `lt`, `le`.
    pub fn is_ordering(self) -> bool {
        matches!(self, Self::Gt | Self::Ge | Self::Lt | Self::Le)
    }
}

/// A comparison value, already typed for the attribute it is compared with.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// Text (also references and binary).
    String(String),
    /// A boolean.
    Bool(bool),
    /// An integer.
    Integer(i64),
    /// A decimal.
    Decimal(f64),
    /// A dateTime.
    DateTime(DateTime<Utc>),
    /// `null`: `eq null` means absent, `ne null` present.
    Null,
}

/// A filter expression. Paths are resolved; inside a [`Filter::ValuePath`]
/// every path names a sub-attribute of the value path's attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `path op value`.
    Compare {
        /// What is compared.
        path: AttrPath,
        /// How.
        op: CompareOp,
        /// With what.
        value: Literal,
    },
    /// `path pr`.
    Present(AttrPath),
    /// Both.
    And(Box<Filter>, Box<Filter>),
    /// Either.
    Or(Box<Filter>, Box<Filter>),
    /// Not.
    Not(Box<Filter>),
    /// `attr[filter]`: some element of the multi-valued `attr` satisfies
    /// `filter` (every sub-condition on the same element).
    ValuePath {
        /// The multi-valued (or complex) attribute.
        attr: AttrPath,
        /// Condition on one element.
        filter: Box<Filter>,
    },
}

impl Filter {
    /// `a and b`.
    pub fn and(a: Filter, b: Filter) -> Filter {
        Filter::And(Box::new(a), Box::new(b))
    }
    /// `a or b`.
    pub fn or(a: Filter, b: Filter) -> Filter {
        Filter::Or(Box::new(a), Box::new(b))
    }

    /// The `eq` terms of a filter made only of `eq` comparisons joined by
    /// `and`, as (sub-attribute name, literal) pairs; `None` for any other
    /// shape. Used to create the element a filtered PATCH path names.
    pub fn eq_terms(&self) -> Option<Vec<(&'static str, &Literal)>> {
        match self {
            Filter::Compare { path, op: CompareOp::Eq, value } => Some(vec![(path.target().name, value)]),
            Filter::And(a, b) => {
                let mut v = a.eq_terms()?;
                v.extend(b.eq_terms()?);
                Some(v)
            }
            _ => None,
        }
    }

    /// Evaluates a value filter against one element of a multi-valued
    /// attribute (paths name its sub-attributes).
    pub fn matches_element(&self, element: &Complex) -> bool {
        match self {
            Filter::And(a, b) => a.matches_element(element) && b.matches_element(element),
            Filter::Or(a, b) => a.matches_element(element) || b.matches_element(element),
            Filter::Not(a) => !a.matches_element(element),
            Filter::Present(p) => element.get(p.target().name).is_some_and(|v| !v.is_empty()),
            Filter::Compare { path, op, value } => {
                let def = path.target();
                let actual = element.get(def.name);
                compare_value(actual, *op, value, def.case_exact, def.ty)
            }
            // Nested value paths do not occur inside an element.
            Filter::ValuePath { .. } => false,
        }
    }
}

/// Compares a stored value with a literal under SCIM's rules.
fn compare_value(actual: Option<&Value>, op: CompareOp, lit: &Literal, case_exact: bool, ty: AttrType) -> bool {
    let Some(actual) = actual else {
        return matches!((op, lit), (CompareOp::Eq, Literal::Null)) || (op == CompareOp::Ne && *lit != Literal::Null);
    };
    match (actual, lit) {
        (_, Literal::Null) => op == CompareOp::Ne,
        (Value::Bool(a), Literal::Bool(b)) => match op {
            CompareOp::Eq => a == b,
            CompareOp::Ne => a != b,
            _ => false,
        },
        (Value::String(a), Literal::String(b)) => {
            if case_exact || ty == AttrType::Binary {
                op.test_str(a, b)
            } else {
                op.test_str(&fold(a), &fold(b))
            }
        }
        (Value::Integer(a), Literal::Integer(b)) => ord(op, a.cmp(b)),
        (Value::Decimal(a), Literal::Decimal(b)) => a.partial_cmp(b).is_some_and(|o| ord(op, o)),
        _ => false,
    }
}

fn ord(op: CompareOp, o: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op {
        CompareOp::Eq => o == Equal,
        CompareOp::Ne => o != Equal,
        CompareOp::Gt => o == Greater,
        CompareOp::Ge => o != Less,
        CompareOp::Lt => o == Less,
        CompareOp::Le => o != Greater,
        _ => false,
    }
}

/// Sort order.
#[derive(Debug, Clone, PartialEq)]
pub struct Sort {
    /// The attribute sorted by.
    pub path: AttrPath,
    /// Descending instead of ascending.
    pub descending: bool,
}

/// Which slice of the result to return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    /// RFC 7644 §3.4.2.4: 1-based `startIndex` and `count`.
    Index {
        /// 1-based.
        start_index: u64,
        /// At most this many.
        count: u64,
    },
    /// Like [`Page::Index`], for a person browsing: the total is counted
    /// only up to `total_up_to` (the list says "more than N"), since
    /// counting every match of a broad search costs more than finding the
    /// page. [`ListPage::total`] is then at most `total_up_to + 1`.
    Capped {
        /// 1-based.
        start_index: u64,
        /// At most this many.
        count: u64,
        /// Count no further than this.
        total_up_to: u64,
    },
    /// Keyset paging for large exports: resources after the opaque cursor,
    /// in the stable default order.
    Cursor {
        /// The cursor returned with the previous page; `None` for the first.
        after: Option<String>,
        /// At most this many.
        count: u64,
    },
}

/// A list request.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    /// Only resources matching this.
    pub filter: Option<Filter>,
    /// In this order; `None` is the stable creation order.
    pub sort: Option<Sort>,
    /// This slice.
    pub page: Page,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage<T> {
    /// Matching resources in all pages (with [`Page::Capped`], counted up
    /// to its bound plus one).
    pub total: u64,
    /// This page.
    pub items: Vec<T>,
    /// The cursor for the next page, in cursor paging, when there is one.
    pub next_cursor: Option<String>,
}
