//! Guided setup on Integrations: every step of `docs/entra-setup.md` and
//! `docs/okta-setup.md`, with the exact values to paste (the Tenant URL
//! with `?aadOptscim062020`, the role values, the role-mapping expression,
//! Okta's role attribute) behind copy buttons.

use maud::{html, Markup};

/// The four role values, exactly as the identity provider must send them.
const ROLES: [&str; 4] = ["Admin", "FullMember", "FreeMember", "Guest"];

/// A value to paste, with its copy button (`data-copy` names the element).
fn copyable(id: &str, value: &str) -> Markup {
    html! { code id=(id) { (value) } " " button type="button" class="small" data-copy=(id) aria-label={ "Copy " (value) } { "Copy" } }
}

/// The Entra ID and Okta guides for `scim_base` (the organization's SCIM
/// base URL as identity providers reach it).
pub(crate) fn guides(scim_base: &str) -> Markup {
    let entra_url = format!("{scim_base}?aadOptscim062020");
    html! {
        h2 { "Connect your identity provider" }
        details id="setup-entra" {
            summary { "Microsoft Entra ID, step by step (about 20 minutes)" }
            ol {
                li { "Generate an API key below, labelled for instance “Entra ID provisioning”. Keep the page open: the key is shown once." }
                li { "In the Entra admin center: Enterprise applications → New application → Create your own application → "
                     "“Integrate any other application you don't find in the gallery (Non-gallery)”." }
                li { "App registrations → your app → App roles: create four roles, allowed member types Users/Groups, whose Value is exactly:"
                     ul { @for r in ROLES { li { (copyable(&format!("role-{r}"), r)) } } }
                     "Any other value is refused, and Entra ID retries that person every cycle." }
                li { "Enterprise applications → your app → Provisioning → Get started → Provisioning Mode: Automatic." }
                li { "Tenant URL, including the flag that makes Entra ID send standard PATCH requests:"
                     p { (copyable("entra-tenant-url", &entra_url)) } }
                li { "Secret Token: the API key from step 1. Never leave it blank (Entra ID then sends a token that is refused). "
                     "Test Connection, then Save." }
                li { "Mappings → Provision Microsoft Entra ID Users: keep Microsoft's defaults and add a mapping with mapping type "
                     "Expression, target attribute " code { "roles" } ", expression:"
                     p { (copyable("entra-role-expression", "AssertiveAppRoleAssignmentsComplex([appRoleAssignments])")) }
                     "It sends the whole role set on every change, so demotions arrive too. Do not use "
                     code { "AppRoleAssignmentsComplex" } ": it only ever adds roles." }
                li { "Provisioning → Settings → Scope: “Sync only assigned users and groups” (the role expression needs it)." }
                li { "Users and groups → Add user/group: assign people and groups, with a role for each assignment." }
                li { "Try one person with Provision on demand, then set Provisioning Status to On and Save. "
                     "The first cycle starts within minutes; later cycles run about every 40 minutes." }
                li { "Check the keys' state below and the Activity page: every refusal there names its fix." }
            }
        }
        details id="setup-okta" {
            summary { "Okta, step by step (about 20 minutes)" }
            ol {
                li { "Generate an API key below, labelled for instance “Okta provisioning”. It is shown once." }
                li { "Applications → Browse App Catalog → “SCIM 2.0 Test App (Header Auth)” (or your own SSO app for this product: General → Provisioning: SCIM)." }
                li { "Provisioning → Integration: SCIM connector base URL"
                     p { (copyable("okta-base-url", scim_base)) }
                     "Unique identifier field for users: " (copyable("okta-unique-id", "userName")) ". "
                     "Actions: Push New Users, Push Profile Updates, Push Groups. Authentication Mode: HTTP Header, "
                     "with the key alone in Authorization (API Token). Test API Credentials, then Save." }
                li { "Provisioning → To App: enable Create Users, Update User Attributes and Deactivate Users. "
                     strong { "Leave Sync Password off" } ": passwords are never accepted; people use single sign-on." }
                li { "To App → Go to Profile Editor → Add Attribute: data type string, variable name "
                     (copyable("okta-variable", "roles")) ", external name "
                     (copyable("okta-external-name", "roles.^[primary==true].value")) ", external namespace "
                     (copyable("okta-namespace", "urn:ietf:params:scim:schemas:core:2.0:User")) ", enum values exactly "
                     @for (i, r) in ROLES.iter().enumerate() { @if i > 0 { ", " } code { (r) } } "." }
                li { "Assignments: assign people and groups and set the role on each assignment; push groups under Push Groups." }
                li { "Check the keys' state below and the Activity page: a failed push is an Okta task, and the same request here names its fix." }
            }
        }
    }
}
