//! The OpenAPI 3.1 description of the SCIM endpoint: Users, Groups,
//! search, discovery and errors. Served by the front at
//! `{base}/openapi.json` (no key needed: it holds no data) and kept in
//! `docs/openapi.json`; tests check it against the routes the dispatcher
//! serves and the docs copy against this one, so neither can drift.

use serde_json::{json, Value as Json};

fn error_response(description: &str) -> Json {
    json!({"description": description, "content": {"application/scim+json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn ok(description: &str, schema: &str) -> Json {
    json!({"description": description, "content": {"application/scim+json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
}

fn body(schema: &str) -> Json {
    json!({"required": true, "content": {
        "application/scim+json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}},
        "application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}
    }})
}

/// The errors every authenticated operation may answer.
fn errors(extra: &[(&str, &str)]) -> serde_json::Map<String, Json> {
    let mut m = serde_json::Map::new();
    for (code, what) in [
        ("400", "Bad input: scimType and detail say what to change; nothing was changed"),
        ("401", "No key, an unknown or a revoked key"),
        ("403", "SCIM is switched off for the key's organization"),
        ("406", "Accept excludes application/scim+json and application/json"),
        ("413", "The body is over the limit"),
        ("503", "Overloaded or the database is busy; nothing was changed. Retry after Retry-After"),
    ]
    .iter()
    .chain(extra)
    {
        m.insert((*code).to_owned(), error_response(what));
    }
    m
}

fn responses(success: &[(&str, Json)], extra: &[(&str, &str)]) -> Json {
    let mut m = errors(extra);
    for (code, r) in success {
        m.insert((*code).to_owned(), r.clone());
    }
    Json::Object(m)
}

fn list_params() -> Json {
    json!([
        {"name": "filter", "in": "query", "schema": {"type": "string", "maxLength": 2048}, "description": "RFC 7644 §3.4.2.2 filter, evaluated by the database; at most 8 KiB of UTF-8 (2,048 characters always fit)"},
        {"name": "startIndex", "in": "query", "schema": {"type": "integer", "minimum": 1}},
        {"name": "count", "in": "query", "schema": {"type": "integer", "minimum": 0}, "description": "Page size; 100 by default, at most 1,000"},
        {"name": "cursor", "in": "query", "schema": {"type": "string", "maxLength": 256}, "description": "Cursor paging: empty for the first page, then nextCursor"},
        {"name": "sortBy", "in": "query", "schema": {"type": "string", "maxLength": 256}},
        {"name": "sortOrder", "in": "query", "schema": {"type": "string", "enum": ["ascending", "descending"]}},
        {"name": "attributes", "in": "query", "schema": {"type": "string", "maxLength": 1024}},
        {"name": "excludedAttributes", "in": "query", "schema": {"type": "string", "maxLength": 1024}}
    ])
}

fn projection_params() -> Json {
    json!([
        {"name": "attributes", "in": "query", "schema": {"type": "string", "maxLength": 1024}},
        {"name": "excludedAttributes", "in": "query", "schema": {"type": "string", "maxLength": 1024}}
    ])
}

fn id_param(what: &str) -> Json {
    json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}, "description": format!("The {what}'s id")})
}

fn if_match() -> Json {
    json!({"name": "If-Match", "in": "header", "schema": {"type": "string"}, "description": "A version (ETag); 412 when it is not the current one"})
}

/// One resource type's collection, item and search paths.
fn resource_paths(paths: &mut serde_json::Map<String, Json>, plural: &str, schema: &str, patch_ok: Json) {
    let what = schema.to_lowercase();
    paths.insert(
        format!("/{plural}"),
        json!({
            "get": {"summary": format!("List or filter {plural}"), "operationId": format!("list{plural}"),
                    "parameters": list_params(), "responses": responses(&[("200", ok("A page", "ListResponse"))], &[])},
            "post": {"summary": format!("Create a {what}"), "operationId": format!("create{schema}"),
                     "requestBody": body(schema),
                     "responses": responses(&[("201", ok("Created", schema))], &[("409", "uniqueness: the userName, displayName or email is taken")])}
        }),
    );
    paths.insert(
        format!("/{plural}/.search"),
        json!({"post": {"summary": format!("Search {plural} (POST)"), "operationId": format!("search{plural}"),
                        "requestBody": body("SearchRequest"),
                        "responses": responses(&[("200", ok("A page", "ListResponse"))], &[])}}),
    );
    paths.insert(
        format!("/{plural}/{{id}}"),
        json!({
            "parameters": [id_param(&what)],
            "get": {"summary": format!("Read a {what}"), "operationId": format!("get{schema}"), "parameters": projection_params(),
                    "responses": responses(&[("200", ok(&format!("The {what}"), schema)), ("304", json!({"description": "If-None-Match matched"}))], &[("404", "Not this organization's, or no such id")])},
            "put": {"summary": format!("Replace a {what}"), "operationId": format!("replace{schema}"), "parameters": [if_match()],
                    "requestBody": body(schema),
                    "responses": responses(&[("200", ok(&format!("The {what}"), schema))], &[("404", "No such id"), ("409", "uniqueness or the last active Admin"), ("412", "If-Match is not the current version"), ("429", "Users only: the deprovisioning guard holds this deactivation or deletion; nothing was changed. Retry after Retry-After, which passes once an Admin approves")])},
            "patch": {"summary": format!("Change a {what} (RFC 7644 §3.5.2)"), "operationId": format!("patch{schema}"), "parameters": [if_match()],
                      "requestBody": body("PatchOp"),
                      "responses": responses(&[("200", patch_ok.clone()), ("204", json!({"description": "Changed (groups answer without a body, as Entra ID expects)"}))], &[("404", "No such id"), ("409", "uniqueness or the last active Admin"), ("412", "If-Match is not the current version"), ("429", "Users only: the deprovisioning guard holds this deactivation or deletion; nothing was changed. Retry after Retry-After, which passes once an Admin approves")])},
            "delete": {"summary": format!("Delete a {what}"), "operationId": format!("delete{schema}"), "parameters": [if_match()],
                       "responses": responses(&[("204", json!({"description": "Deleted"}))], &[("404", "No such id"), ("409", "The last active Admin"), ("412", "If-Match is not the current version"), ("429", "Users only: the deprovisioning guard holds this deactivation or deletion; nothing was changed. Retry after Retry-After, which passes once an Admin approves")])}
        }),
    );
}

/// The document, for a SCIM base mounted at `base_path` (`/scim/v2`).
pub fn document(base_path: &str) -> Json {
    let mut paths = serde_json::Map::new();
    resource_paths(&mut paths, "Users", "User", ok("The user", "User"));
    resource_paths(&mut paths, "Groups", "Group", ok("The group", "Group"));
    paths.insert(
        "/.search".into(),
        json!({"post": {"summary": "Search users and groups together", "operationId": "searchAll",
                        "requestBody": body("SearchRequest"), "responses": responses(&[("200", ok("A page", "ListResponse"))], &[])}}),
    );
    for (path, id, what) in [
        ("/ServiceProviderConfig", "getServiceProviderConfig", "What this service provider supports"),
        ("/ResourceTypes", "listResourceTypes", "User and Group"),
        ("/Schemas", "listSchemas", "The schemas of RFC 7643 and the extensions"),
    ] {
        paths.insert(
            path.into(),
            json!({"get": {"summary": what, "operationId": id, "responses": responses(&[("200", json!({"description": what, "content": {"application/scim+json": {"schema": {"type": "object"}}}}))], &[])}}),
        );
    }
    for (path, id, what) in [
        ("/ResourceTypes/{name}", "getResourceType", "One resource type (User or Group)"),
        ("/Schemas/{id}", "getSchema", "One schema, by URN"),
    ] {
        let param = if path.ends_with("{name}") { "name" } else { "id" };
        paths.insert(
            path.into(),
            json!({"parameters": [{"name": param, "in": "path", "required": true, "schema": {"type": "string"}}],
                   "get": {"summary": what, "operationId": id, "responses": responses(&[("200", json!({"description": what, "content": {"application/scim+json": {"schema": {"type": "object"}}}}))], &[("404", "No such resource type or schema")])}}),
        );
    }
    let string = json!({"type": "string"});
    let multi = |item: Json| json!({"type": "array", "maxItems": 100, "items": item});
    let typed_value = json!({"type": "object", "properties": {"value": string, "type": string, "primary": {"type": ["boolean", "string"]}, "display": string}});
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Enlist SCIM 2.0",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "SCIM 2.0 (RFC 7643, RFC 7644) provisioning of one organization's users and groups, authenticated by that organization's API key. Every error is a SCIM Error with scimType and a detail that says what to change; a refused request changes nothing."
        },
        "servers": [{"url": base_path}],
        "security": [{"apiKey": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer", "description": "An Enlist API key, enlist_<id>.<secret>; the bare key is accepted too"}},
            "schemas": {
                "Meta": {"type": "object", "properties": {"resourceType": string, "created": {"type": "string", "format": "date-time"}, "lastModified": {"type": "string", "format": "date-time"}, "location": string, "version": string}},
                // No `required`: a projection (`attributes=emails`) may leave
                // any attribute out of a response; requests are checked by
                // the server, which says what is missing.
                "User": {
                    "type": "object",
                    "description": "userName is required when creating or replacing a user",
                    "properties": {
                        "schemas": {"type": "array", "items": string},
                        "id": {"type": "string", "readOnly": true},
                        "externalId": string,
                        "userName": {"type": "string", "maxLength": 256},
                        "displayName": string,
                        "active": {"type": ["boolean", "string"]},
                        "name": {"type": "object", "properties": {"givenName": string, "familyName": string, "formatted": string}},
                        "title": string,
                        "emails": multi(typed_value.clone()),
                        "phoneNumbers": multi(typed_value.clone()),
                        "roles": multi(typed_value.clone()),
                        "groups": {"type": "array", "readOnly": true, "items": typed_value.clone()},
                        "meta": {"$ref": "#/components/schemas/Meta"}
                    },
                    "additionalProperties": true
                },
                "Group": {
                    "type": "object",
                    "description": "displayName is required when creating or replacing a group",
                    "properties": {
                        "schemas": {"type": "array", "items": string},
                        "id": {"type": "string", "readOnly": true},
                        "externalId": string,
                        "displayName": string,
                        "members": {"type": "array", "items": {"type": "object", "properties": {"value": string, "$ref": string, "display": string, "type": string}}},
                        "meta": {"$ref": "#/components/schemas/Meta"}
                    },
                    "additionalProperties": true
                },
                "ListResponse": {
                    "type": "object", "required": ["schemas", "totalResults"],
                    "properties": {"schemas": {"type": "array", "items": string}, "totalResults": {"type": "integer"}, "startIndex": {"type": "integer"}, "itemsPerPage": {"type": "integer"}, "nextCursor": string, "Resources": {"type": "array", "items": {"type": "object"}}}
                },
                "SearchRequest": {
                    "type": "object",
                    "properties": {"schemas": {"type": "array", "items": string}, "filter": string, "startIndex": {"type": "integer"}, "count": {"type": "integer"}, "sortBy": string, "sortOrder": string, "attributes": {"type": "array", "items": string}, "excludedAttributes": {"type": "array", "items": string}}
                },
                "PatchOp": {
                    "type": "object", "required": ["Operations"],
                    "properties": {
                        "schemas": {"type": "array", "items": string},
                        "Operations": {"type": "array", "maxItems": 1000, "items": {"type": "object", "required": ["op"], "properties": {"op": {"type": "string", "description": "add, replace or remove, in any letter case"}, "path": string, "value": {}}}}
                    }
                },
                "Error": {
                    "type": "object", "required": ["schemas", "status"],
                    "properties": {"schemas": {"type": "array", "items": string}, "status": string, "scimType": string, "detail": string}
                }
            }
        }
    })
}
