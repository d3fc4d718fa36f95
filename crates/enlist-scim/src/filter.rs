//! RFC 7644 §3.4.2.2 filters and PATCH paths, parsed into the core's query
//! model with every attribute resolved against the resource schema.
//!
//! Grammar (precedence `not` > `and` > `or`; names and operators are
//! case-insensitive):
//!
//! ```text
//! filter    = or
//! or        = and *("or" and)
//! and       = unary *("and" unary)
//! unary     = "not" "(" filter ")" / atom
//! atom      = "(" filter ")"
//!           / attrPath "[" filter "]" ["." subAttr [compare]]   ; value path, Entra's form
//!           / attrPath "pr"
//!           / attrPath compareOp literal
//! patchPath = attrPath ["[" filter "]" ["." subAttr]]
//! ```
//!
//! Hostile input costs little: the text is at most [`MAX_LEN`] bytes and
//! nesting at most [`MAX_DEPTH`] levels, so recursion is bounded.

use crate::error::ScimError;
use enlist_core::change::PatchPath;
use enlist_core::query::{CompareOp, Filter, Literal};
use enlist_core::schema::{AttrPath, AttrType, ResourceType};

/// Longest filter or path accepted, in bytes.
pub const MAX_LEN: usize = 8 * 1024;
/// Deepest nesting of parentheses, `not` and value paths.
pub const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Str(String),
    Word(String),
}

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, String> {
    let mut out = Vec::new();
    let bytes = src.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'(' => {
                out.push((Tok::LParen, i));
                i += 1
            }
            b')' => {
                out.push((Tok::RParen, i));
                i += 1
            }
            b'[' => {
                out.push((Tok::LBracket, i));
                i += 1
            }
            b']' => {
                out.push((Tok::RBracket, i));
                i += 1
            }
            b'"' => {
                let start = i;
                let mut j = i + 1;
                let mut escaped = false;
                loop {
                    let Some(&b) = bytes.get(j) else {
                        return Err(format!("the string starting at position {start} is not closed with a '\"'"));
                    };
                    if escaped {
                        escaped = false;
                    } else if b == b'\\' {
                        escaped = true;
                    } else if b == b'"' {
                        break;
                    }
                    j += 1;
                }
                // JSON string escapes (RFC 7644 uses JSON string literals).
                let text: String = serde_json::from_str(&src[start..=j])
                    .map_err(|_| format!("the string at position {start} has an invalid escape"))?;
                if text.contains('\0') {
                    return Err(format!("the string at position {start} contains a NUL character"));
                }
                out.push((Tok::Str(text), start));
                i = j + 1;
            }
            _ => {
                let start = i;
                while i < bytes.len()
                    && !matches!(bytes[i], b' ' | b'\t' | b'\n' | b'\r' | b'(' | b')' | b'[' | b']' | b'"')
                {
                    i += 1;
                }
                out.push((Tok::Word(src[start..i].to_owned()), start));
            }
        }
    }
    Ok(out)
}

/// Resolves attribute-path text (`userName`, `name.familyName`,
/// `urn:…:enterprise:2.0:User:manager.value`, the old `urn:…:User.manager`)
/// in `rt`, or relative to `parent` inside a value filter. `Ok(None)` when
/// the text is well-formed but names no attribute of the schema.
pub fn resolve_attr(rt: &ResourceType, parent: Option<AttrPath>, text: &str) -> Result<Option<AttrPath>, String> {
    let lower = text.to_ascii_lowercase();
    let (urn, rest) = if lower.starts_with("urn:") {
        let schema = rt.schemas().filter(|s| {
            let id = s.id.to_ascii_lowercase();
            lower.len() > id.len() && lower.starts_with(&id) && matches!(lower.as_bytes()[id.len()], b':' | b'.')
        });
        // The longest matching URN wins (a URN may prefix another).
        match schema.max_by_key(|s| s.id.len()) {
            Some(s) => (Some(s.id), &text[s.id.len() + 1..]),
            None => return Ok(None),
        }
    } else {
        (None, text)
    };
    let mut parts = rest.split('.');
    let first = parts.next().unwrap_or_default();
    let second = parts.next();
    if parts.next().is_some() || first.is_empty() || second.is_some_and(str::is_empty) {
        return Err(format!("'{text}' is not an attribute path (attribute, attribute.subAttribute or URN:attribute)"));
    }
    let valid = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'$'));
    if !valid(first) || !second.is_none_or(valid) {
        return Err(format!("'{text}' is not an attribute path"));
    }
    if let Some(parent) = parent {
        if urn.is_none() {
            return Ok(match second {
                None => parent.with_sub(first),
                Some(sub) if first.eq_ignore_ascii_case(parent.attr.name) => parent.with_sub(sub),
                Some(_) => None,
            });
        }
    }
    Ok(rt.resolve(urn, first, second))
}

struct Parser<'a> {
    rt: &'a ResourceType,
    toks: Vec<(Tok, usize)>,
    pos: usize,
    depth: usize,
    src: &'a str,
}

fn err(detail: String) -> ScimError {
    ScimError::filter(detail)
}

impl<'a> Parser<'a> {
    fn new(rt: &'a ResourceType, src: &'a str) -> Result<Self, ScimError> {
        if src.len() > MAX_LEN {
            return Err(err(format!("the filter is {} bytes long; at most {MAX_LEN} are accepted", src.len())));
        }
        if src.contains('\0') {
            return Err(err("the filter contains a NUL character".into()));
        }
        let toks = lex(src).map_err(|e| err(format!("invalid filter: {e}")))?;
        Ok(Self { rt, toks, pos: 0, depth: 0, src })
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }
    fn at(&self) -> String {
        match self.toks.get(self.pos) {
            Some((_, p)) => format!("at position {p} ('{}')", snippet(self.src, *p)),
            None => "at the end of the filter".to_owned(),
        }
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|(t, _)| t.clone());
        self.pos += 1;
        t
    }
    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
    }
    fn expect(&mut self, want: Tok, what: &str) -> Result<(), ScimError> {
        if self.peek() == Some(&want) {
            self.pos += 1;
            Ok(())
        } else {
            Err(err(format!("expected {what} {}", self.at())))
        }
    }
    fn enter(&mut self) -> Result<(), ScimError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(err(format!("the filter nests deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    fn or(&mut self, parent: Option<AttrPath>) -> Result<Filter, ScimError> {
        let mut left = self.and(parent)?;
        while self.keyword("or") {
            self.pos += 1;
            left = Filter::or(left, self.and(parent)?);
        }
        Ok(left)
    }
    fn and(&mut self, parent: Option<AttrPath>) -> Result<Filter, ScimError> {
        let mut left = self.unary(parent)?;
        while self.keyword("and") {
            self.pos += 1;
            left = Filter::and(left, self.unary(parent)?);
        }
        Ok(left)
    }
    fn unary(&mut self, parent: Option<AttrPath>) -> Result<Filter, ScimError> {
        if self.keyword("not") && self.toks.get(self.pos + 1).map(|(t, _)| t) == Some(&Tok::LParen) {
            self.pos += 2;
            self.enter()?;
            let inner = self.or(parent)?;
            self.expect(Tok::RParen, "')' closing 'not ('")?;
            self.depth -= 1;
            return Ok(Filter::Not(Box::new(inner)));
        }
        self.atom(parent)
    }
    fn atom(&mut self, parent: Option<AttrPath>) -> Result<Filter, ScimError> {
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            self.enter()?;
            let inner = self.or(parent)?;
            self.expect(Tok::RParen, "')'")?;
            self.depth -= 1;
            return Ok(inner);
        }
        let at = self.at();
        let Some(Tok::Word(name)) = self.next() else {
            return Err(err(format!("expected an attribute name {at}")));
        };
        let path = resolve_attr(self.rt, parent, &name).map_err(|e| err(format!("{e} ({at})")))?.ok_or_else(|| {
            err(format!("unknown attribute '{name}' {at}; see /Schemas for the attributes of {}", self.rt.name))
        })?;
        if self.peek() == Some(&Tok::LBracket) {
            if parent.is_some() || path.sub.is_some() || path.attr.ty != AttrType::Complex {
                return Err(err(format!("'{name}' cannot take a value filter {at}: only complex attributes can")));
            }
            self.pos += 1;
            self.enter()?;
            let inner = self.or(Some(path))?;
            self.expect(Tok::RBracket, "']' closing the value filter")?;
            self.depth -= 1;
            // Entra's matching filter: emails[type eq "work"].value eq "x"
            if let Some(Tok::Word(w)) = self.peek() {
                if let Some(sub) = w.strip_prefix('.') {
                    let sub_path = path.with_sub(sub).ok_or_else(|| {
                        err(format!("'{}' has no sub-attribute '{sub}' {}", path.dotted(), self.at()))
                    })?;
                    self.pos += 1;
                    let cmp = self.comparison(sub_path)?;
                    return Ok(Filter::ValuePath { attr: path, filter: Box::new(Filter::and(inner, cmp)) });
                }
            }
            return Ok(Filter::ValuePath { attr: path, filter: Box::new(inner) });
        }
        self.comparison(path)
    }

    fn comparison(&mut self, mut path: AttrPath) -> Result<Filter, ScimError> {
        let at = self.at();
        let Some(Tok::Word(op)) = self.next() else {
            return Err(err(format!("expected an operator (eq ne co sw ew gt ge lt le pr) {at}")));
        };
        if op.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(path));
        }
        let op = parse_op(&op)
            .ok_or_else(|| err(format!("unknown operator '{op}' {at}; use eq ne co sw ew gt ge lt le pr")))?;
        // `manager eq "x"`, `members eq "u"`: a complex attribute with a
        // `value` sub-attribute compares its value.
        if path.sub.is_none() && path.attr.ty == AttrType::Complex {
            path = path.with_sub("value").ok_or_else(|| {
                err(format!(
                    "'{}' is complex: compare one of its sub-attributes, e.g. '{}.{}' {at}",
                    path.dotted(),
                    path.attr.name,
                    path.attr.sub_attributes.first().map(|s| s.name).unwrap_or("value")
                ))
            })?;
        }
        let at = self.at();
        let lit = match self.next() {
            Some(Tok::Str(s)) => Raw::Str(s),
            Some(Tok::Word(w)) if w.starts_with('\'') => {
                return Err(err(format!(
                    "the value {w} {at} is in single quotes; SCIM filters quote strings with double quotes: \"{}\"",
                    w.trim_matches('\'')
                )))
            }
            Some(Tok::Word(w)) => Raw::Word(w),
            _ => return Err(err(format!("expected a value after '{}' {at}", op.as_str()))),
        };
        let value = typed_literal(path, op, lit).map_err(|e| err(format!("{e} {at}")))?;
        Ok(Filter::Compare { path, op, value })
    }
}

fn snippet(src: &str, at: usize) -> String {
    src.get(at..).unwrap_or_default().chars().take(24).collect()
}

fn parse_op(s: &str) -> Option<CompareOp> {
    Some(match s.to_ascii_lowercase().as_str() {
        "eq" => CompareOp::Eq,
        "ne" => CompareOp::Ne,
        "co" => CompareOp::Co,
        "sw" => CompareOp::Sw,
        "ew" => CompareOp::Ew,
        "gt" => CompareOp::Gt,
        "ge" => CompareOp::Ge,
        "lt" => CompareOp::Lt,
        "le" => CompareOp::Le,
        _ => return None,
    })
}

enum Raw {
    Str(String),
    Word(String),
}

/// Types a literal for the attribute it is compared with, refusing
/// comparisons that make no sense for the type.
fn typed_literal(path: AttrPath, op: CompareOp, raw: Raw) -> Result<Literal, String> {
    let def = path.target();
    let name = path.dotted();
    if let Raw::Word(w) = &raw {
        if w.eq_ignore_ascii_case("null") {
            return if matches!(op, CompareOp::Eq | CompareOp::Ne) {
                Ok(Literal::Null)
            } else {
                Err(format!("null can only be compared with eq or ne, not {}", op.as_str()))
            };
        }
    }
    match def.ty {
        AttrType::Boolean => {
            if !matches!(op, CompareOp::Eq | CompareOp::Ne) {
                return Err(format!("{name} is a boolean: use eq, ne or pr, not {}", op.as_str()));
            }
            let text = match &raw {
                Raw::Str(s) | Raw::Word(s) => s,
            };
            match text.to_ascii_lowercase().as_str() {
                "true" => Ok(Literal::Bool(true)),
                "false" => Ok(Literal::Bool(false)),
                _ => Err(format!("{name} is a boolean: compare it with true or false, not '{text}'")),
            }
        }
        AttrType::Integer | AttrType::Decimal => {
            if op.is_substring() {
                return Err(format!("{name} is a number: {} does not apply", op.as_str()));
            }
            let text = match &raw {
                Raw::Str(s) | Raw::Word(s) => s,
            };
            if def.ty == AttrType::Integer {
                text.parse().map(Literal::Integer).map_err(|_| format!("{name} is an integer; '{text}' is not"))
            } else {
                text.parse().map(Literal::Decimal).map_err(|_| format!("{name} is a decimal; '{text}' is not"))
            }
        }
        AttrType::DateTime => {
            if op.is_substring() {
                return Err(format!("{name} is a dateTime: {} does not apply", op.as_str()));
            }
            let (Raw::Str(text) | Raw::Word(text)) = &raw;
            chrono::DateTime::parse_from_rfc3339(text)
                .map(|d| Literal::DateTime(d.with_timezone(&chrono::Utc)))
                .map_err(|_| format!("{name} is a dateTime; '{text}' is not RFC 3339 (e.g. \"2026-01-31T12:00:00Z\")"))
        }
        AttrType::Complex => Err(format!("{name} is complex and cannot be compared")),
        AttrType::String | AttrType::Reference | AttrType::Binary => match raw {
            Raw::Str(s) => Ok(Literal::String(s)),
            // Older docs show unquoted values (`externalId eq alice`).
            Raw::Word(w) if w.eq_ignore_ascii_case("true") || w.eq_ignore_ascii_case("false") => {
                Err(format!("{name} is a string; quote the value (\"{w}\")"))
            }
            Raw::Word(w) => Ok(Literal::String(w)),
        },
    }
}

/// Parses a filter for resources of type `rt`.
///
/// ```
/// use enlist_core::schema::USER_RESOURCE;
/// let f = enlist_scim::parse_filter(&USER_RESOURCE, r#"emails[type eq "work"].value ew "@contoso.com""#).unwrap();
/// // Entra's form becomes one value filter over the same element.
/// assert_eq!(enlist_scim::render_filter(&f), r#"emails[(type eq "work" and value ew "@contoso.com")]"#);
/// let e = enlist_scim::parse_filter(&USER_RESOURCE, "userName eq 'ana'").unwrap_err();
/// assert_eq!(e.scim_type, Some("invalidFilter"));
/// ```
///
/// # Errors
/// 400 `invalidFilter` with a detail that points at the position.
pub fn parse_filter(rt: &ResourceType, src: &str) -> Result<Filter, ScimError> {
    let mut p = Parser::new(rt, src)?;
    if p.toks.is_empty() {
        return Err(err("the filter is empty".into()));
    }
    let f = p.or(None)?;
    if p.pos < p.toks.len() {
        return Err(err(format!("unexpected text {}; join conditions with 'and' or 'or'", p.at())));
    }
    Ok(f)
}

/// Parses a PATCH path. `Ok(None)` when the path is well-formed but names
/// an attribute Enlist does not define (such operations are ignored).
///
/// # Errors
/// 400 `invalidPath` for malformed paths, including a bad value filter
/// inside one.
pub fn parse_path(rt: &ResourceType, src: &str) -> Result<Option<PatchPath>, ScimError> {
    let perr = |d: String| ScimError::path(d);
    let mut p = Parser::new(rt, src).map_err(|e| perr(e.detail))?;
    let Some(Tok::Word(name)) = p.next() else {
        return Err(perr(format!("'{src}' is not a PATCH path: it must start with an attribute name")));
    };
    let Some(target) = resolve_attr(rt, None, &name).map_err(perr)? else {
        return Ok(None);
    };
    let mut path = PatchPath { target, filter: None };
    if p.peek() == Some(&Tok::LBracket) {
        if target.sub.is_some() || target.attr.ty != AttrType::Complex {
            return Err(perr(format!("'{name}' cannot take a value filter: only complex attributes can")));
        }
        p.pos += 1;
        p.enter().map_err(|e| perr(e.detail))?;
        path.filter =
            Some(p.or(Some(target)).map_err(|e| perr(format!("in the value filter of '{src}': {}", e.detail)))?);
        p.expect(Tok::RBracket, "']' closing the value filter").map_err(|e| perr(e.detail))?;
        if let Some(Tok::Word(w)) = p.peek() {
            let Some(sub) = w.strip_prefix('.') else {
                return Err(perr(format!("unexpected '{w}' after the value filter in '{src}'")));
            };
            let Some(t) = target.with_sub(sub) else {
                return Ok(None);
            };
            path.target = t;
            p.pos += 1;
        }
    }
    if p.pos < p.toks.len() {
        return Err(perr(format!("unexpected text {} in PATCH path '{src}'", p.at())));
    }
    Ok(Some(path))
}

#[cfg(test)]
mod tests;

/// Renders a filter as canonical SCIM text (canonical names, quoted
/// literals, full parentheses): for logs, audit and round-trip tests.
pub fn render_filter(f: &Filter) -> String {
    fn lit(l: &Literal) -> String {
        match l {
            Literal::String(s) => serde_json::Value::String(s.clone()).to_string(),
            Literal::Bool(b) => b.to_string(),
            Literal::Integer(i) => i.to_string(),
            Literal::Decimal(d) => d.to_string(),
            Literal::DateTime(d) => format!("\"{}\"", d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
            Literal::Null => "null".into(),
        }
    }
    fn inner(f: &Filter, rel: bool) -> String {
        let name = |p: &AttrPath| {
            if rel {
                p.sub.map(|s| s.name.to_owned()).unwrap_or_else(|| p.dotted())
            } else {
                p.dotted()
            }
        };
        match f {
            Filter::Compare { path, op, value } => format!("{} {} {}", name(path), op.as_str(), lit(value)),
            Filter::Present(p) => format!("{} pr", name(p)),
            Filter::And(a, b) => format!("({} and {})", inner(a, rel), inner(b, rel)),
            Filter::Or(a, b) => format!("({} or {})", inner(a, rel), inner(b, rel)),
            Filter::Not(a) => format!("not ({})", inner(a, rel)),
            Filter::ValuePath { attr, filter } => format!("{}[{}]", attr.dotted(), inner(filter, true)),
        }
    }
    inner(f, false)
}
