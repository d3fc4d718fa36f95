//! List requests: query parameters (GET) and `/.search` bodies (POST) into
//! the core's [`ListQuery`], leniently as Entra and Okta need: parameter
//! names are case-insensitive, unknown ones ignored, `startIndex` < 1 is 1,
//! `count` is clamped to `[0, max]`.

use crate::error::ScimError;
use crate::filter::{parse_filter, resolve_attr};
use crate::resource::Projection;
use enlist_core::query::{ListQuery, Page, Sort};
use enlist_core::schema::ResourceType;
use serde_json::Value as Json;

/// A parsed list request.
#[derive(Debug, Clone, PartialEq)]
pub struct ListRequest {
    /// What to ask the store.
    pub query: ListQuery,
    /// `startIndex` actually used (echoed in the response).
    pub start_index: u64,
    /// `attributes` / `excludedAttributes`.
    pub projection: Projection,
}

/// Raw list parameters, from a query string or a search body.
#[derive(Debug, Default, Clone)]
pub struct ListParams {
    /// `filter`.
    pub filter: Option<String>,
    /// `startIndex`.
    pub start_index: Option<String>,
    /// `count`.
    pub count: Option<String>,
    /// `sortBy`.
    pub sort_by: Option<String>,
    /// `sortOrder`.
    pub sort_order: Option<String>,
    /// `attributes`.
    pub attributes: Option<String>,
    /// `excludedAttributes`.
    pub excluded_attributes: Option<String>,
    /// `cursor` (keyset paging; empty for the first page).
    pub cursor: Option<String>,
}

impl ListParams {
    /// From decoded query pairs (names case-insensitive, unknown ignored).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut p = Self::default();
        for (k, v) in pairs {
            let slot = match k.to_ascii_lowercase().as_str() {
                "filter" => &mut p.filter,
                "startindex" => &mut p.start_index,
                "count" => &mut p.count,
                "sortby" => &mut p.sort_by,
                "sortorder" => &mut p.sort_order,
                "attributes" => &mut p.attributes,
                "excludedattributes" => &mut p.excluded_attributes,
                "cursor" => &mut p.cursor,
                _ => continue,
            };
            *slot = Some(v.to_owned());
        }
        p
    }

    /// From a `POST /.search` body (RFC 7644 §3.4.3).
    ///
    /// # Errors
    /// 400 `invalidSyntax` when the body is not an object.
    pub fn from_search_body(body: &Json) -> Result<Self, ScimError> {
        let obj = body.as_object().ok_or_else(|| ScimError::syntax("a search body must be a JSON object"))?;
        let text = |v: &Json| match v {
            Json::String(s) => Some(s.clone()),
            Json::Number(n) => Some(n.to_string()),
            Json::Array(a) => Some(a.iter().filter_map(Json::as_str).collect::<Vec<_>>().join(",")),
            _ => None,
        };
        let pairs: Vec<(String, String)> = obj.iter().filter_map(|(k, v)| text(v).map(|t| (k.clone(), t))).collect();
        Ok(Self::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
    }

    /// Validates and resolves against `rt`.
    ///
    /// # Errors
    /// 400 `invalidFilter` for a bad filter, `invalidValue` for non-numeric
    /// paging values or an unknown `sortBy`.
    pub fn resolve(&self, rt: &ResourceType, default_count: u64, max_count: u64) -> Result<ListRequest, ScimError> {
        let number = |name: &str, v: &Option<String>| -> Result<Option<i64>, ScimError> {
            match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                None => Ok(None),
                Some(s) => s
                    .parse::<i64>()
                    .map(Some)
                    .map_err(|_| ScimError::value(format!("{name} must be an integer, not '{s}'"))),
            }
        };
        let start_index = number("startIndex", &self.start_index)?.unwrap_or(1).max(1) as u64;
        let count = number("count", &self.count)?.map_or(default_count, |c| c.clamp(0, max_count as i64) as u64);
        let filter = match self.filter.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(f) => Some(parse_filter(rt, f)?),
            None => None,
        };
        let sort = match self.sort_by.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => {
                let path = resolve_attr(rt, None, s)
                    .map_err(ScimError::value)?
                    .ok_or_else(|| ScimError::value(format!("sortBy names an unknown attribute '{s}'")))?;
                let descending = match self.sort_order.as_deref().map(str::to_ascii_lowercase).as_deref() {
                    None | Some("") | Some("ascending") => false,
                    Some("descending") => true,
                    Some(o) => {
                        return Err(ScimError::value(format!("sortOrder must be ascending or descending, not '{o}'")))
                    }
                };
                Some(Sort { path, descending })
            }
        };
        let page = match &self.cursor {
            Some(c) => Page::Cursor { after: Some(c.clone()).filter(|c| !c.is_empty()), count },
            None => Page::Index { start_index, count },
        };
        let projection = Projection::parse(rt, self.attributes.as_deref(), self.excluded_attributes.as_deref());
        Ok(ListRequest { query: ListQuery { filter, sort, page }, start_index, projection })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use enlist_core::schema::{GROUP_RESOURCE, USER_RESOURCE};

    fn req(pairs: &[(&str, &str)]) -> Result<ListRequest, ScimError> {
        ListParams::from_pairs(pairs.iter().copied()).resolve(&USER_RESOURCE, 100, 1000)
    }

    #[test]
    fn paging_is_lenient() {
        type Case<'a> = (&'a [(&'a str, &'a str)], u64, u64);
        let cases: &[Case<'_>] = &[
            (&[], 1, 100),
            (&[("startIndex", "0"), ("count", "5")], 1, 5),
            (&[("STARTINDEX", "-3")], 1, 100),
            (&[("startindex", "101"), ("Count", "100")], 101, 100),
            (&[("count", "5000")], 1, 1000),
            (&[("count", "-1")], 1, 0),
            (&[("aadOptscim062020", ""), ("count", "2")], 1, 2),
        ];
        for (pairs, start, count) in cases {
            let r = req(pairs).unwrap();
            assert_eq!(r.start_index, *start, "{pairs:?}");
            assert_eq!(r.query.page, Page::Index { start_index: *start, count: *count }, "{pairs:?}");
        }
        assert_eq!(req(&[("count", "ten")]).unwrap_err().scim_type, Some("invalidValue"));
    }

    #[test]
    fn filter_sort_projection_and_cursor() {
        let r = req(&[
            ("filter", "userName eq \"a\""),
            ("sortBy", "name.familyName"),
            ("sortOrder", "Descending"),
            ("attributes", "id"),
        ])
        .unwrap();
        assert!(r.query.filter.is_some());
        assert_eq!(
            r.query.sort.as_ref().map(|s| (s.path.dotted(), s.descending)),
            Some(("name.familyName".into(), true))
        );
        assert!(matches!(r.projection, Projection::Only(ref l) if l.len() == 1));
        assert_eq!(req(&[("filter", "nope eq 1")]).unwrap_err().scim_type, Some("invalidFilter"));
        assert_eq!(req(&[("sortBy", "nope")]).unwrap_err().scim_type, Some("invalidValue"));
        assert_eq!(req(&[("cursor", "")]).unwrap().query.page, Page::Cursor { after: None, count: 100 });
        let g =
            ListParams::from_pairs([("excludedAttributes", "members")]).resolve(&GROUP_RESOURCE, 100, 1000).unwrap();
        assert!(!g.projection.wants(&GROUP_RESOURCE, "members"));
    }

    #[test]
    fn search_bodies_take_arrays_for_attribute_lists() {
        let body = serde_json::json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "attributes": ["userName", "id"], "filter": "title pr", "startIndex": 1, "count": 10});
        let r = ListParams::from_search_body(&body).unwrap().resolve(&USER_RESOURCE, 100, 1000).unwrap();
        assert!(matches!(r.projection, Projection::Only(ref l) if l.len() == 2));
        assert_eq!(r.query.page, Page::Index { start_index: 1, count: 10 });
    }
}
