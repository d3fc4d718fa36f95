//! Discovery documents (RFC 7643 §5–7), generated from the same schema
//! definitions the parsers validate against, so they cannot drift.

use enlist_core::schema::{all_schemas, AttributeDef, ResourceType, SchemaDef, GROUP_RESOURCE, USER_RESOURCE};
use serde_json::{json, Value as Json};

/// The list response URN.
pub const LIST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// What the server supports, for `ServiceProviderConfig`.
#[derive(Debug, Clone, Copy)]
pub struct Capabilities {
    /// Most resources in one page (`filter.maxResults`).
    pub max_results: u64,
}

/// `/ServiceProviderConfig`.
pub fn service_provider_config(base: &str, caps: Capabilities) -> Json {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": caps.max_results},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Enlist API key",
            "description": "Authorization: Bearer <API key>. An organization Admin creates keys; each selects one organization.",
            "primary": true
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")}
    })
}

fn attribute(a: &AttributeDef) -> Json {
    let mut j = json!({
        "name": a.name,
        "type": a.ty.as_str(),
        "multiValued": a.multi_valued,
        "description": a.description,
        "required": a.required,
        "caseExact": a.case_exact,
        "mutability": a.mutability.as_str(),
        "returned": a.returned.as_str(),
        "uniqueness": if a.unique { "server" } else { "none" },
    });
    if let Some(o) = j.as_object_mut() {
        if !a.sub_attributes.is_empty() {
            o.insert("subAttributes".into(), Json::Array(a.sub_attributes.iter().map(attribute).collect()));
        }
        if !a.canonical_values.is_empty() {
            o.insert("canonicalValues".into(), json!(a.canonical_values));
        }
        if !a.reference_types.is_empty() {
            o.insert("referenceTypes".into(), json!(a.reference_types));
        }
    }
    j
}

/// One schema document.
pub fn schema(base: &str, s: &SchemaDef) -> Json {
    // `id` and `meta` are common attributes (RFC 7643 §3.1), not part of a
    // schema's own attribute list.
    let attrs: Vec<Json> = s.attributes.iter().filter(|a| a.name != "id" && a.name != "meta").map(attribute).collect();
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": s.id,
        "name": s.name,
        "description": s.description,
        "attributes": attrs,
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{}", s.id)}
    })
}

/// `/Schemas` as a ListResponse.
pub fn schemas(base: &str) -> Json {
    list(all_schemas().iter().map(|s| schema(base, s)).collect())
}

/// A schema by URN (case-insensitive).
pub fn schema_by_id(base: &str, id: &str) -> Option<Json> {
    all_schemas().into_iter().find(|s| s.id.eq_ignore_ascii_case(id)).map(|s| schema(base, s))
}

/// One resource type document.
pub fn resource_type(base: &str, rt: &ResourceType) -> Json {
    let ext: Vec<Json> = rt.extensions.iter().map(|e| json!({"schema": e.id, "required": false})).collect();
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": rt.name,
        "name": rt.name,
        "endpoint": rt.endpoint,
        "description": rt.description,
        "schema": rt.schema.id,
        "schemaExtensions": ext,
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{}", rt.name)}
    })
}

/// `/ResourceTypes` as a ListResponse.
pub fn resource_types(base: &str) -> Json {
    list(vec![resource_type(base, &USER_RESOURCE), resource_type(base, &GROUP_RESOURCE)])
}

/// A resource type by name (case-insensitive).
pub fn resource_type_by_name(base: &str, name: &str) -> Option<Json> {
    [&USER_RESOURCE, &GROUP_RESOURCE]
        .into_iter()
        .find(|rt| rt.name.eq_ignore_ascii_case(name))
        .map(|rt| resource_type(base, rt))
}

fn list(resources: Vec<Json>) -> Json {
    let n = resources.len();
    json!({"schemas": [LIST_URN], "totalResults": n, "startIndex": 1, "itemsPerPage": n, "Resources": resources})
}

/// A ListResponse page. `totalResults`, `startIndex`, `itemsPerPage` are
/// JSON integers; `Resources` is always present.
pub fn list_response(total: u64, start_index: u64, resources: Vec<Json>, next_cursor: Option<&str>) -> Json {
    let mut j = json!({
        "schemas": [LIST_URN],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    });
    if let (Some(c), Some(o)) = (next_cursor, j.as_object_mut()) {
        o.insert("nextCursor".into(), Json::String(c.to_owned()));
    }
    j
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::parse_filter;

    #[test]
    fn schemas_list_every_schema_and_every_attribute_the_parser_accepts() {
        let doc = schemas("https://h/scim/v2");
        let ids: Vec<&str> = doc["Resources"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
        assert_eq!(
            ids,
            [
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enlist:2.0:User",
                "urn:ietf:params:scim:schemas:core:2.0:Group"
            ]
        );
        // Every simple attribute documented for User is accepted by the filter parser.
        let user = &doc["Resources"][0];
        for a in user["attributes"].as_array().unwrap() {
            let name = a["name"].as_str().unwrap();
            if a["type"] == "complex" || name == "password" {
                continue;
            }
            assert!(parse_filter(&USER_RESOURCE, &format!("{name} pr")).is_ok(), "{name}");
        }
        let roles = user["attributes"].as_array().unwrap().iter().find(|a| a["name"] == "roles").unwrap();
        assert_eq!(roles["multiValued"], true);
        let user_name = user["attributes"].as_array().unwrap().iter().find(|a| a["name"] == "userName").unwrap();
        assert_eq!((user_name["caseExact"].clone(), user_name["uniqueness"].clone()), (json!(false), json!("server")));
    }

    #[test]
    fn service_provider_config_says_what_is_supported() {
        let spc = service_provider_config("https://h/scim/v2", Capabilities { max_results: 1000 });
        assert_eq!(spc["changePassword"]["supported"], false);
        assert_eq!(spc["patch"]["supported"], true);
        assert_eq!(spc["bulk"]["supported"], false);
        assert_eq!(spc["filter"]["maxResults"], 1000);
        assert_eq!(spc["authenticationSchemes"][0]["type"], "oauthbearertoken");
    }

    /// RFC 7643 §5: the members a ServiceProviderConfig may have, and
    /// those of each capability. Strict clients refuse anything else.
    #[test]
    fn service_provider_config_has_only_rfc_7643_members() {
        let spc = service_provider_config("https://h/scim/v2", Capabilities { max_results: 1000 });
        let top = [
            "schemas",
            "documentationUri",
            "patch",
            "bulk",
            "filter",
            "changePassword",
            "sort",
            "etag",
            "authenticationSchemes",
            "meta",
        ];
        let obj = spc.as_object().unwrap();
        for k in obj.keys() {
            assert!(top.contains(&k.as_str()), "ServiceProviderConfig has a non-RFC member {k}");
        }
        let members = |k: &str| -> Vec<&str> {
            match k {
                "bulk" => vec!["supported", "maxOperations", "maxPayloadSize"],
                "filter" => vec!["supported", "maxResults"],
                _ => vec!["supported"],
            }
        };
        for cap in ["patch", "bulk", "filter", "changePassword", "sort", "etag"] {
            let o = obj[cap].as_object().unwrap_or_else(|| panic!("{cap} is an object"));
            for k in o.keys() {
                assert!(members(cap).contains(&k.as_str()), "{cap} has a non-RFC member {k}");
            }
            assert!(o["supported"].is_boolean(), "{cap}.supported");
        }
        for scheme in spc["authenticationSchemes"].as_array().unwrap() {
            for k in scheme.as_object().unwrap().keys() {
                assert!(
                    ["type", "name", "description", "specUri", "documentationUri", "primary"].contains(&k.as_str()),
                    "authenticationSchemes has a non-RFC member {k}"
                );
            }
        }
    }

    #[test]
    fn lookups_are_case_insensitive() {
        assert!(schema_by_id("b", "URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER").is_some());
        assert_eq!(resource_type_by_name("b", "users"), None);
        assert!(resource_type_by_name("b", "user").is_some());
        assert_eq!(resource_types("b")["totalResults"], 2);
    }

    #[test]
    fn list_response_counts_are_integers_and_resources_always_present() {
        let empty = list_response(0, 1, vec![], None);
        assert_eq!(
            empty,
            json!({"schemas": [LIST_URN], "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []})
        );
    }
}
