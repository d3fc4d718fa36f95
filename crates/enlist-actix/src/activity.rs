//! What the activity log learns of a request: the [`Draft`] a route fills
//! in (whose key, which resource, the refusal), and the redacted summary
//! of what was sent. The record it becomes goes to the process's
//! `enlist_jobs::activity::Recorder`, whose writer job stores it.

use enlist_core::{Caller, OrganizationId};
use enlist_scim::ScimError;
use serde_json::Value as Json;

/// What a request learns about itself while it is handled: the front
/// creates it, authentication, the body read and the route fill it in, and
/// the front turns it into the activity record.
#[derive(Debug, Clone, Default)]
pub(crate) struct Draft {
    pub(crate) org: Option<OrganizationId>,
    pub(crate) key_id: Option<enlist_core::ApiKeyId>,
    pub(crate) key_label: String,
    pub(crate) resource_id: Option<String>,
    pub(crate) subject: Option<String>,
    pub(crate) summary: String,
    pub(crate) scim_type: Option<String>,
    pub(crate) detail: Option<String>,
}

impl Draft {
    /// The key (and its organization) the request came with.
    pub(crate) fn by(&mut self, caller: &Caller) {
        self.org = Some(caller.organization_id.clone());
        self.key_label = caller.actor.label();
        if let enlist_core::Actor::ApiKey { id, .. } = &caller.actor {
            self.key_id = Some(id.clone());
        }
    }
    /// The refusal the client got.
    pub(crate) fn refused(&mut self, e: &ScimError) {
        self.scim_type = e.scim_type.map(str::to_owned);
        self.detail = Some(e.detail.clone());
    }
}

/// Most characters of a summary.
const SUMMARY_MAX: usize = 2000;

/// What was sent, for a person: attribute names and short values, with
/// passwords and anything token-like replaced by `***`.
///
/// Names are matched as the SCIM parser matches them, in any letter case:
/// a member named like a secret (`password`, `PASSWORD`,
/// `urn:…:User:Password`) and the `value` of any operation whose `path`
/// names one (`{"Path": "PASSWORD", "Value": …}`), at every depth. The
/// parser refuses such a request; its refusal is still recorded, so the
/// secret must go here.
pub(crate) fn summarize(body: &Json) -> String {
    fn redact(key: &str) -> bool {
        let k = key.to_lowercase();
        k.contains("password") || k.contains("secret") || k.contains("token")
    }
    fn walk(v: &Json, depth: usize) -> Json {
        match v {
            Json::Object(m) if depth < 6 => {
                let secret_path =
                    m.iter().any(|(k, v)| k.eq_ignore_ascii_case("path") && v.as_str().is_some_and(redact));
                Json::Object(
                    m.iter()
                        .map(|(k, v)| {
                            let hide = redact(k) || (secret_path && k.eq_ignore_ascii_case("value"));
                            (k.clone(), if hide { Json::String("***".into()) } else { walk(v, depth + 1) })
                        })
                        .collect(),
                )
            }
            Json::Array(a) if depth < 6 => {
                let mut out: Vec<Json> = a.iter().take(20).map(|x| walk(x, depth + 1)).collect();
                if a.len() > 20 {
                    out.push(Json::String(format!("… {} more", a.len() - 20)));
                }
                Json::Array(out)
            }
            Json::String(s) if s.chars().count() > 120 => {
                Json::String(format!("{}…", s.chars().take(120).collect::<String>()))
            }
            Json::Object(_) | Json::Array(_) => Json::String("…".into()),
            other => other.clone(),
        }
    }
    let s = walk(body, 0).to_string();
    if s.chars().count() > SUMMARY_MAX {
        format!("{}…", s.chars().take(SUMMARY_MAX).collect::<String>())
    } else {
        s
    }
}

/// The userName or displayName a body names, if any.
pub(crate) fn subject_of(body: &Json) -> Option<String> {
    let obj = body.as_object()?;
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("userName") || k.eq_ignore_ascii_case("displayName"))
        .and_then(|(_, v)| v.as_str())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Every shape the PATCH parser accepts a password in, each with its
    /// own secret: none may reach the summary.
    #[test]
    fn passwords_and_tokens_never_reach_the_summary_in_any_casing_or_shape() {
        let cases = [
            json!({"userName": "ana@contoso.com", "password": "s1"}),
            json!({"PASSWORD": "s2"}),
            json!({"urn:ietf:params:scim:schemas:core:2.0:User:password": "s3"}),
            json!({"urn:ietf:params:scim:schemas:core:2.0:User": {"Password": "s4"}}),
            json!({"Operations": [{"op": "replace", "path": "password", "value": "s5"}]}),
            json!({"operations": [{"op": "replace", "path": "password", "value": "s6"}]}),
            json!({"OPERATIONS": [{"Op": "Replace", "Path": "PASSWORD", "Value": "s7"}]}),
            json!({"Operations": [{"op": "replace", "value": {"PASSWORD": "s8"}}]}),
            json!({"Operations": [{"op": "add", "path": "urn:ietf:params:scim:schemas:core:2.0:User:Password", "value": "s9"}]}),
            json!({"Operations": [{"op": "replace", "value": {"urn:ietf:params:scim:schemas:core:2.0:User:passWord": "s10"}}]}),
            json!({"Operations": [{"op": "replace", "path": "password", "value": {"nested": "s11"}}]}),
            json!({"x_api_token": "s12", "clientSecret": "s13"}),
        ];
        for (i, body) in cases.iter().enumerate() {
            let s = summarize(body);
            let secret = format!("s{}", i + 1);
            assert!(!s.contains(&format!("\"{secret}\"")), "case {}: {secret} leaked: {s}", i + 1);
        }
        // What is not a secret stays readable.
        let s = summarize(&cases[0]);
        assert!(s.contains("ana@contoso.com"), "{s}");
        let s = summarize(&json!({"Operations": [{"op": "replace", "path": "displayName", "value": "Ana"}]}));
        assert!(s.contains("Ana"), "{s}");
    }

    #[test]
    fn summaries_stay_short() {
        let many: Vec<Json> = (0..1000).map(|i| json!({"value": format!("user-{i}")})).collect();
        let s = summarize(&json!({"members": many, "displayName": "x".repeat(500)}));
        assert!(s.chars().count() <= SUMMARY_MAX + 1, "{}", s.len());
        assert!(s.contains("980 more"), "{s}");
        assert_eq!(subject_of(&json!({"DisplayName": "Sales"})).as_deref(), Some("Sales"));
    }
}
