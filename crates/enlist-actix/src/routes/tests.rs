//! Tests of the dispatcher: JSON depth, routes against the OpenAPI description.

use super::*;

#[test]
fn every_route_is_described_and_every_described_path_is_a_route() {
    let doc = crate::openapi::document("/scim/v2");
    let described: std::collections::BTreeSet<String> =
        doc["paths"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
    let routes = [
        Route::RootSearch,
        Route::Users,
        Route::UsersSearch,
        Route::User("x"),
        Route::Groups,
        Route::GroupsSearch,
        Route::Group("x"),
        Route::ServiceProviderConfig,
        Route::ResourceTypes,
        Route::ResourceType("User"),
        Route::Schemas,
        Route::Schema("x"),
    ];
    // The route labels (exhaustive over the routes) are the OpenAPI paths.
    let served: std::collections::BTreeSet<String> = routes.into_iter().map(|r| r.label().to_owned()).collect();
    assert_eq!(served, described);
    for path in &described {
        let concrete = path.replace("{id}", "x").replace("{name}", "x");
        let segments: Vec<&str> = concrete.split('/').filter(|s| !s.is_empty()).collect();
        assert_eq!(Route::parse(&segments).map(Route::label), Some(path.as_str()), "{path}");
    }
}

#[test]
fn json_depth_is_checked_outside_strings() {
    assert_eq!(too_deep(br#"{"a":[[[1]]]}"#, 4), None);
    assert_eq!(too_deep(br#"{"a":[[[[[1]]]]]}"#, 4), Some(4));
    assert_eq!(too_deep(br#"{"a":"[[[[[[[[\"["}"#, 2), None);
}
