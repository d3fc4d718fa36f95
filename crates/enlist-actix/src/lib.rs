//! The HTTP front: will hold the actix-web SCIM routes, bearer-key
//! authentication, content types, limits and error mapping. Not built yet
//! (issue 5); nothing here works.
