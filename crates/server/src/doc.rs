//! OpenAPI pieces many operations share: the error responses that do not depend on the
//! route. Each is named once here and listed by name in an operation's `responses(...)`,
//! so its annotation shows only what is particular to it. The types are uninhabited: they
//! exist for the document, never as values.
//!
//! Path parameters stay written out per operation: utoipa merges those with what it reads
//! off the handler's `Path` extractor, and would list a shared parameter type twice.

use std::collections::BTreeMap;

use utoipa::IntoResponses;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

/// Declares uninhabited types whose [`IntoResponses`] is one error status with an
/// [`ErrorBody`](crate::schema::ErrorBody).
macro_rules! error_responses {
    ($($(#[$meta:meta])* $name:ident: $status:literal, $description:literal;)*) => {$(
        $(#[$meta])*
        pub(crate) enum $name {}

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                error_response($status, $description)
            }
        }
    )*};
}

error_responses! {
    /// Every route behind authentication.
    Unauthorized: "401", "No or wrong credentials";
    /// The identity routes, which need a user directory.
    NoUsers: "503", "The server has no users (server.basic-auth unset)";
    /// The secret routes, which need a secret service.
    NoSecretService: "503", "No secret service configured";
}

fn error_response(status: &str, description: &str) -> BTreeMap<String, RefOr<Response>> {
    let body = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("ErrorBody")))
        .build();
    let response = ResponseBuilder::new()
        .description(description)
        .content("application/json", body)
        .build();
    BTreeMap::from([(status.to_owned(), RefOr::T(response))])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_responses_reference_the_error_body() {
        let responses = Unauthorized::responses();
        let json = serde_json::to_value(&responses).unwrap();
        assert_eq!(
            json["401"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody"
        );
        assert_eq!(json["401"]["description"], "No or wrong credentials");
    }
}
