//! The core's filter tree, sort and page as SQL with bound parameters.
//! Identity attributes map to indexed columns; every other attribute is
//! reached through `user_values`, so any filter the grammar accepts runs in
//! the database. Case-insensitive attributes compare the folded value
//! against a folded literal (folding happens in Rust, identically for both
//! backends); ordering comparisons use bytewise collation on both.

use crate::conn::{Backend, Bind};
use enlist_core::fold;
use enlist_core::query::{CompareOp, Filter, Literal, Sort};
use enlist_core::schema::{AttrPath, AttrType, ENLIST_USER, ENTERPRISE_USER, GROUP, USER};
use enlist_core::{RepoError, Role};

/// Collects SQL text and its parameters.
pub(crate) struct Sql {
    pub(crate) backend: Backend,
    pub(crate) binds: Vec<Bind>,
    aliases: usize,
    /// The placeholder of the organization a user list is scoped to, when
    /// the caller has one: an `or` of indexed terms becomes a union of id
    /// lookups within it.
    pub(crate) org: Option<String>,
    /// Inside a search's exact check (`search.rs`): no second index read.
    searching: bool,
    /// The filter's index matches (a search's, or profile values') drive
    /// the query, not the organization's index (SQLite).
    index_drives: bool,
}

/// How a column compares.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// Text compared as stored.
    Exact,
    /// Text holding a folded value: compare with the folded literal.
    Folded,
    /// A boolean column.
    Bool,
    /// Microseconds since the epoch.
    Time,
    /// A role name in canonical spelling.
    Role,
}

/// Where a filter's attribute lives.
enum Target {
    Column(String, Kind),
    /// A `user_values` attribute key and sub-attribute.
    Values {
        attr: String,
        sub: Option<String>,
        exact: bool,
    },
    /// Group memberships of the user (`groups.value`, `groups.display`).
    UserGroups(Option<&'static str>),
    /// Members of the group (`members.value`, `members.display`).
    GroupMembers(Option<&'static str>),
    /// A constant (`meta.resourceType`, `groups.type`).
    Constant(&'static str),
}

/// The resource a filter is about.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Resource {
    User,
    Group,
}

fn unsupported(p: &AttrPath) -> RepoError {
    RepoError::Unsupported(format!("filtering on {} is not supported", p.dotted()))
}

/// Escapes LIKE wildcards; `\` is the escape character.
pub(crate) fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The terms of an `or` chain, in order.
fn or_leaves<'f>(f: &'f Filter, out: &mut Vec<&'f Filter>) {
    match f {
        Filter::Or(a, b) => {
            or_leaves(a, out);
            or_leaves(b, out);
        }
        leaf => out.push(leaf),
    }
}

/// The least string greater than every string that starts with `prefix`
/// (bytewise, which is code-point order in UTF-8); `None` when there is
/// none (the prefix is empty or all U+10FFFF).
pub(crate) fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last as u32 {
            0xD7FF => Some('\u{E000}'),
            c => char::from_u32(c + 1),
        };
        if let Some(n) = next {
            chars.push(n);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

impl Sql {
    pub(crate) fn new(backend: Backend) -> Self {
        Self { backend, binds: Vec::new(), aliases: 0, org: None, searching: false, index_drives: false }
    }

    /// Adds a parameter; its placeholder.
    pub(crate) fn param(&mut self, b: impl Into<Bind>) -> String {
        self.binds.push(b.into());
        format!("${}", self.binds.len())
    }

    fn alias(&mut self, prefix: &str) -> String {
        self.aliases += 1;
        format!("{prefix}{}", self.aliases)
    }

    /// Bytewise text ordering on both backends.
    fn collate(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => " COLLATE \"C\"",
            Backend::Sqlite => "",
        }
    }

    fn target(&self, r: Resource, p: &AttrPath) -> Result<Target, RepoError> {
        let sub = p.sub.map(|s| s.name);
        let col = |c: &str, k: Kind| Ok(Target::Column(c.to_owned(), k));
        let alias = if r == Resource::User { "u" } else { "g" };
        match (p.schema.id, p.attr.name, sub) {
            (USER | GROUP, "id", None) => col(&format!("{alias}.id"), Kind::Exact),
            (USER | GROUP, "externalId", None) => col(&format!("{alias}.external_id"), Kind::Exact),
            (USER | GROUP, "displayName", None) => col(&format!("{alias}.display_name_folded"), Kind::Folded),
            (USER | GROUP, "meta", Some("created")) => col(&format!("{alias}.created_at"), Kind::Time),
            (USER | GROUP, "meta", Some("lastModified")) => col(&format!("{alias}.updated_at"), Kind::Time),
            (USER, "meta", Some("resourceType")) => Ok(Target::Constant("User")),
            (GROUP, "meta", Some("resourceType")) => Ok(Target::Constant("Group")),
            (USER, "userName", None) => col("u.user_name_folded", Kind::Folded),
            (USER, "active", None) => col("u.active", Kind::Bool),
            (USER, "groups", Some("value")) => Ok(Target::UserGroups(Some("value"))),
            (USER, "groups", Some("display")) => Ok(Target::UserGroups(Some("display"))),
            (USER, "groups", Some("type")) => Ok(Target::Constant("direct")),
            (USER, "groups", None) => Ok(Target::UserGroups(None)),
            (ENTERPRISE_USER, "manager", Some("value")) => col("u.manager_id", Kind::Exact),
            (ENLIST_USER, "effectiveRole", None) => col("u.effective_role", Kind::Role),
            (ENLIST_USER, "roleSource", None) => col("u.role_source", Kind::Folded),
            (GROUP, "members", Some("value")) => Ok(Target::GroupMembers(Some("value"))),
            (GROUP, "members", Some("display")) => Ok(Target::GroupMembers(Some("display"))),
            (GROUP, "members", Some("type")) => Ok(Target::Constant("User")),
            (GROUP, "members", None) => Ok(Target::GroupMembers(None)),
            (USER, "meta", _) | (USER, "password", _) | (GROUP, _, _) => Err(unsupported(p)),
            _ => Ok(Target::Values {
                attr: p.parent().dotted(),
                sub: sub.map(str::to_owned),
                exact: p.target().case_exact || p.target().ty == AttrType::Binary,
            }),
        }
    }

    /// A condition on one text/bool/time expression.
    fn compare(&mut self, expr: &str, kind: Kind, op: CompareOp, lit: &Literal) -> Result<String, RepoError> {
        if *lit == Literal::Null {
            return Ok(match op {
                CompareOp::Eq => format!("{expr} IS NULL"),
                _ => format!("{expr} IS NOT NULL"),
            });
        }
        type Pattern = Option<fn(&str) -> String>;
        let (sql_op, pattern): (&str, Pattern) = match op {
            CompareOp::Eq => ("=", None),
            CompareOp::Ne => ("<>", None),
            CompareOp::Gt => (">", None),
            CompareOp::Ge => (">=", None),
            CompareOp::Lt => ("<", None),
            CompareOp::Le => ("<=", None),
            CompareOp::Co => ("LIKE", Some(|s| format!("%{}%", like_escape(s)))),
            CompareOp::Sw => ("LIKE", Some(|s| format!("{}%", like_escape(s)))),
            CompareOp::Ew => ("LIKE", Some(|s| format!("%{}", like_escape(s)))),
        };
        let bind: Bind = match (kind, lit) {
            (Kind::Bool, Literal::Bool(b)) => Bind::Bool(*b),
            (Kind::Time, Literal::DateTime(d)) => Bind::Int(d.timestamp_micros()),
            (Kind::Role, Literal::String(s)) => match Role::parse(s) {
                // Roles order by rank (Admin > FullMember > FreeMember >
                // Guest), not by their names' spelling.
                Ok(r) if op.is_ordering() => {
                    let rank = self.param(Bind::Int(role_rank(r)));
                    return Ok(format!("{} {sql_op} {rank}", role_rank_sql(expr)));
                }
                Ok(r) => Bind::Text(r.as_str().to_owned()),
                // No user holds an unknown role.
                Err(_) if op == CompareOp::Ne => return Ok("1 = 1".into()),
                Err(_) => return Ok("1 = 0".into()),
            },
            (Kind::Exact, Literal::String(s)) => Bind::Text(s.clone()),
            (Kind::Folded, Literal::String(s)) => Bind::Text(fold(s)),
            (Kind::Exact | Kind::Folded, Literal::Bool(b)) => Bind::Text(b.to_string()),
            (Kind::Exact | Kind::Folded, Literal::Integer(i)) => Bind::Text(i.to_string()),
            (Kind::Exact | Kind::Folded, Literal::Decimal(d)) => Bind::Text(d.to_string()),
            (Kind::Exact | Kind::Folded, Literal::DateTime(d)) => Bind::Text(d.to_rfc3339()),
            _ => return Err(RepoError::Unsupported(format!("cannot compare {expr} with {lit:?}"))),
        };
        if let (CompareOp::Sw, Backend::Sqlite, Bind::Text(prefix)) = (op, self.backend, &bind) {
            // A prefix as a bytewise range: SQLite serves it from the
            // column's index whatever its LIKE optimisation decides about a
            // bound pattern, so a text search stays fast at any roster size.
            let lo = self.param(prefix.clone());
            let mut cond = format!("({expr} >= {lo}");
            if let Some(hi) = prefix_successor(prefix) {
                let hi = self.param(hi);
                cond.push_str(&format!(" AND {expr} < {hi}"));
            }
            cond.push(')');
            return Ok(cond);
        }
        let bind = match (pattern, bind) {
            (Some(f), Bind::Text(s)) => Bind::Text(f(&s)),
            (Some(_), _) => return Err(RepoError::Unsupported(format!("{} applies to text only", op.as_str()))),
            (None, b) => b,
        };
        let p = self.param(bind);
        let collate = if op.is_ordering() && matches!(kind, Kind::Exact | Kind::Folded) { self.collate() } else { "" };
        Ok(match (op, pattern) {
            (_, Some(_)) => format!("{expr} LIKE {p} ESCAPE '\\'"),
            (CompareOp::Ne, _) => format!("({expr} IS NULL OR {expr} <> {p})"),
            _ => format!("{expr}{collate} {sql_op} {p}"),
        })
    }

    /// Translates a user or group filter into a condition on alias `u`/`g`.
    pub(crate) fn filter(&mut self, r: Resource, f: &Filter) -> Result<String, RepoError> {
        // A whole filter that is a search, or that requires a value the
        // values index finds: on SQLite the index's matches drive the
        // query, not a scan of the organization. Without statistics SQLite
        // takes an organization for a few rows and walks all of them (3x
        // slower for a search, and Entra ID's email match query grew with
        // the roster).
        self.index_drives = self.backend == Backend::Sqlite && (self.search(r, f).is_some() || self.values_drive(r, f));
        self.node(r, f, None)
    }

    /// `elem`: inside a value path, the alias of the element's row.
    fn node(&mut self, r: Resource, f: &Filter, elem: Option<&Elem>) -> Result<String, RepoError> {
        if elem.is_none() {
            if let Some((candidates, exact)) = self.search_candidates(r, f) {
                if exact {
                    return Ok(candidates);
                }
                self.searching = true;
                let exact = self.node(r, f, elem);
                self.searching = false;
                return Ok(format!("({candidates} AND {})", exact?));
            }
        }
        Ok(match f {
            Filter::And(a, b) => format!("({} AND {})", self.node(r, a, elem)?, self.node(r, b, elem)?),
            Filter::Or(a, b) => match (r, elem, self.org.clone()) {
                (Resource::User, None, Some(org)) if self.is_id_set(r, a) && self.is_id_set(r, b) => {
                    // `a OR b OR …` over indexed terms as one union of id
                    // lookups: the database reads the matches through the
                    // indexes instead of testing every user of the
                    // organization (what made a text search grow with the
                    // roster).
                    let mut leaves = Vec::new();
                    or_leaves(f, &mut leaves);
                    let mut sets = Vec::with_capacity(leaves.len());
                    for leaf in leaves {
                        sets.push(self.id_set(r, leaf, &org)?);
                    }
                    format!("u.id IN ({})", sets.join(" UNION "))
                }
                _ => format!("({} OR {})", self.node(r, a, elem)?, self.node(r, b, elem)?),
            },
            Filter::Not(a) => format!("NOT ({})", self.node(r, a, elem)?),
            Filter::Present(p) => self.leaf(r, p, None, elem)?,
            Filter::Compare { path, op, value } => self.leaf(r, path, Some((*op, value)), elem)?,
            Filter::ValuePath { attr, filter } => self.value_path(r, attr, filter)?,
        })
    }

    /// Whether `f` (an `or` chain, or one comparison) can be read as a set
    /// of user ids through an index: `eq` or `sw` on an indexed text column
    /// or on profile values.
    fn is_id_set(&self, r: Resource, f: &Filter) -> bool {
        match f {
            Filter::Or(a, b) => self.is_id_set(r, a) && self.is_id_set(r, b),
            Filter::Compare { path, op: CompareOp::Eq | CompareOp::Sw, value: Literal::String(_) } => {
                let indexed = match self.target(r, path) {
                    Ok(Target::Column(_, Kind::Exact | Kind::Folded)) => true,
                    Ok(Target::Values { attr, .. }) => FILTERED_ATTRS.contains(&attr.as_str()),
                    _ => false,
                };
                indexed && path.attr.name != "id"
            }
            _ => false,
        }
    }

    /// The ids of the organization's users a comparison accepted by
    /// [`Sql::is_id_set`] matches, as a `SELECT`.
    fn id_set(&mut self, r: Resource, f: &Filter, org: &str) -> Result<String, RepoError> {
        let Filter::Compare { path, op, value } = f else {
            return Err(RepoError::Unsupported("not a comparison".into()));
        };
        match self.target(r, path)? {
            Target::Column(expr, kind) => {
                let c = self.compare(&expr, kind, *op, value)?;
                Ok(format!("SELECT u.id FROM users u WHERE u.organization_id = {org} AND {c}"))
            }
            Target::Values { attr, sub, exact } => self.values_ids(attr, sub, exact, *op, value),
            _ => Err(unsupported(path)),
        }
    }

    fn value_path(&mut self, r: Resource, attr: &AttrPath, inner: &Filter) -> Result<String, RepoError> {
        match self.target(r, attr)? {
            Target::UserGroups(_) => {
                let a = self.alias("gm");
                let g = self.alias("ug");
                let cond = self.node(r, inner, Some(&Elem::Groups { gm: a.clone(), g: g.clone() }))?;
                Ok(format!(
                    "EXISTS (SELECT 1 FROM group_members {a} JOIN groups {g} ON {g}.id = {a}.group_id WHERE {a}.user_id = u.id AND {cond})"
                ))
            }
            Target::GroupMembers(_) => {
                let a = self.alias("gm");
                let m = self.alias("mu");
                let cond = self.node(r, inner, Some(&Elem::Members { gm: a.clone(), u: m.clone() }))?;
                Ok(format!(
                    "EXISTS (SELECT 1 FROM group_members {a} JOIN users {m} ON {m}.id = {a}.user_id WHERE {a}.group_id = g.id AND {cond})"
                ))
            }
            Target::Values { attr: key, .. } => {
                // `emails[type eq "work" and value eq "x"]` (Entra ID's
                // match query): the index finds the users with some email
                // `x`, and each is checked for an element with both;
                // without it every user of the organization was tested.
                let candidates = match self.indexed_term(r, inner) {
                    Some((attr, sub, exact, op, lit)) => {
                        format!("u.id IN ({}) AND ", self.values_ids(attr, sub, exact, op, &lit)?)
                    }
                    None => String::new(),
                };
                let e = self.alias("e");
                let k = self.param(key);
                let cond = self.node(r, inner, Some(&Elem::Values(e.clone())))?;
                Ok(format!(
                    "({candidates}EXISTS (SELECT 1 FROM user_values {e} WHERE {e}.user_id = u.id AND {e}.attr = {k} AND {cond}))"
                ))
            }
            _ => Err(unsupported(attr)),
        }
    }

    fn leaf(
        &mut self,
        r: Resource,
        p: &AttrPath,
        cmp: Option<(CompareOp, &Literal)>,
        elem: Option<&Elem>,
    ) -> Result<String, RepoError> {
        // Inside a value path, sub-attributes are read from the element.
        if let Some(elem) = elem {
            let sub = p.sub.map(|s| s.name).unwrap_or("value");
            return match elem {
                Elem::Values(e) => {
                    let v = self.alias("v");
                    let s = self.param(sub);
                    let exact = p.target().case_exact;
                    let head = format!(
                        "SELECT 1 FROM user_values {v} WHERE {v}.user_id = {e}.user_id AND {v}.attr = {e}.attr AND {v}.idx = {e}.idx AND {v}.sub = {s}"
                    );
                    self.exists(&head, &v, exact, cmp)
                }
                Elem::Groups { gm, g } => {
                    let (expr, kind) = match sub {
                        "value" => (format!("{gm}.group_id"), Kind::Exact),
                        "display" => (format!("{g}.display_name_folded"), Kind::Folded),
                        _ => return self.constant("direct", cmp),
                    };
                    self.present_or_compare(&expr, kind, cmp)
                }
                Elem::Members { gm, u } => {
                    let (expr, kind) = match sub {
                        "value" => (format!("{gm}.user_id"), Kind::Exact),
                        "display" => (format!("{u}.user_name_folded"), Kind::Folded),
                        _ => return self.constant("User", cmp),
                    };
                    self.present_or_compare(&expr, kind, cmp)
                }
            };
        }
        match self.target(r, p)? {
            Target::Column(expr, kind) => self.present_or_compare(&expr, kind, cmp),
            Target::Constant(c) => self.constant(c, cmp),
            Target::Values { attr, sub, exact } => match cmp {
                // A positive comparison as `u.id IN (…)`: the values index
                // finds the matching users directly.
                Some((op, lit))
                    if op != CompareOp::Ne && *lit != Literal::Null && FILTERED_ATTRS.contains(&attr.as_str()) =>
                {
                    Ok(format!("u.id IN ({})", self.values_ids(attr, sub, exact, op, lit)?))
                }
                _ => {
                    let v = self.alias("v");
                    let a = self.param(attr);
                    let mut head = format!("SELECT 1 FROM user_values {v} WHERE {v}.user_id = u.id AND {v}.attr = {a}");
                    if let Some(sub) = sub {
                        let s = self.param(sub);
                        head.push_str(&format!(" AND {v}.sub = {s}"));
                    }
                    self.exists(&head, &v, exact, cmp)
                }
            },
            Target::UserGroups(sub) => {
                let a = self.alias("gm");
                let g = self.alias("ug");
                let head = format!(
                    "SELECT 1 FROM group_members {a} JOIN groups {g} ON {g}.id = {a}.group_id WHERE {a}.user_id = u.id"
                );
                let (expr, kind) = match sub {
                    Some("display") => (format!("{g}.display_name_folded"), Kind::Folded),
                    _ => (format!("{a}.group_id"), Kind::Exact),
                };
                self.exists_on(&head, &expr, kind, cmp)
            }
            Target::GroupMembers(sub) => {
                let a = self.alias("gm");
                let m = self.alias("mu");
                let head = format!(
                    "SELECT 1 FROM group_members {a} JOIN users {m} ON {m}.id = {a}.user_id WHERE {a}.group_id = g.id"
                );
                let (expr, kind) = match sub {
                    Some("display") => (format!("{m}.user_name_folded"), Kind::Folded),
                    _ => (format!("{a}.user_id"), Kind::Exact),
                };
                self.exists_on(&head, &expr, kind, cmp)
            }
        }
    }

    fn present_or_compare(
        &mut self,
        expr: &str,
        kind: Kind,
        cmp: Option<(CompareOp, &Literal)>,
    ) -> Result<String, RepoError> {
        match cmp {
            None if matches!(kind, Kind::Exact | Kind::Folded) => Ok(format!("({expr} IS NOT NULL AND {expr} <> '')")),
            None => Ok(format!("{expr} IS NOT NULL")),
            Some((op, lit)) => self.compare(expr, kind, op, lit),
        }
    }

    fn constant(&mut self, value: &str, cmp: Option<(CompareOp, &Literal)>) -> Result<String, RepoError> {
        let truth = match cmp {
            None => true,
            Some((op, Literal::String(s))) => op.test_str(&fold(value), &fold(s)),
            Some((CompareOp::Ne, Literal::Null)) => true,
            Some(_) => false,
        };
        Ok(if truth { "1 = 1" } else { "1 = 0" }.into())
    }

    /// `EXISTS (head AND cmp on value/folded)`; `ne` is "no value equals".
    fn exists(
        &mut self,
        head: &str,
        v: &str,
        exact: bool,
        cmp: Option<(CompareOp, &Literal)>,
    ) -> Result<String, RepoError> {
        let (expr, kind) =
            if exact { (format!("{v}.value"), Kind::Exact) } else { (format!("{v}.folded"), Kind::Folded) };
        match cmp {
            Some((CompareOp::Eq | CompareOp::Ne, lit)) if exact && *lit != Literal::Null => {
                let head = format!("{head} AND {}", self.folded_eq(v, lit));
                self.exists_on(&head, &expr, kind, cmp)
            }
            _ => self.exists_on(head, &expr, kind, cmp),
        }
    }

    fn exists_on(
        &mut self,
        head: &str,
        expr: &str,
        kind: Kind,
        cmp: Option<(CompareOp, &Literal)>,
    ) -> Result<String, RepoError> {
        match cmp {
            None => Ok(format!("EXISTS ({head})")),
            Some((CompareOp::Eq, Literal::Null)) => Ok(format!("NOT EXISTS ({head})")),
            Some((CompareOp::Ne, Literal::Null)) => Ok(format!("EXISTS ({head})")),
            Some((CompareOp::Ne, lit)) => {
                let c = self.compare(expr, kind, CompareOp::Eq, lit)?;
                Ok(format!("NOT EXISTS ({head} AND {c})"))
            }
            Some((op, lit)) => {
                let c = self.compare(expr, kind, op, lit)?;
                Ok(format!("EXISTS ({head} AND {c})"))
            }
        }
    }

    /// `ORDER BY` for a sort (nulls last in both directions on both
    /// backends), always ending with the creation sequence so pages are
    /// stable.
    pub(crate) fn order_by(&mut self, r: Resource, sort: Option<&Sort>) -> Result<String, RepoError> {
        let seq = if r == Resource::User { "u.seq" } else { "g.seq" };
        let Some(sort) = sort else { return Ok(format!("ORDER BY {seq}")) };
        let dir = if sort.descending { "DESC" } else { "ASC" };
        let mut collate = self.collate();
        let expr = match self.target(r, &sort.path)? {
            Target::Column(e, Kind::Role) => {
                collate = "";
                role_rank_sql(&e)
            }
            // Numbers and booleans take no collation (PostgreSQL refuses it).
            Target::Column(e, Kind::Time | Kind::Bool) => {
                collate = "";
                e
            }
            Target::Column(e, _) => e,
            Target::Values { attr, sub, exact } => {
                let a = self.param(attr);
                let col = if exact { "value" } else { "folded" };
                let sub_cond = match sub {
                    Some(s) => format!(" AND sv.sub = {}", self.param(s)),
                    None => String::new(),
                };
                format!(
                    "(SELECT MIN(sv.{col}) FROM user_values sv WHERE sv.user_id = u.id AND sv.attr = {a}{sub_cond})"
                )
            }
            _ => return Err(RepoError::Unsupported(format!("sorting by {} is not supported", sort.path.dotted()))),
        };
        Ok(format!("ORDER BY ({expr} IS NULL), {expr}{collate} {dir}, {seq}"))
    }
}

enum Elem {
    Values(String),
    Groups { gm: String, g: String },
    Members { gm: String, u: String },
}

mod list;
use list::{role_rank, role_rank_sql};
mod search;
mod values;
use values::FILTERED_ATTRS;

#[cfg(test)]
mod tests;
