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

/// What the busy 503 says ([`crate::ApiError::busy`]).
const BUSY_DESCRIPTION: &str = "The database is busy (no connection came free, or a statement \
     ran past its timeout): try again after Retry-After seconds";

/// Adds the busy 503 of the store gate to `responses` (see
/// [`crate::openapi::with_busy_answers`]); an operation's own 503 keeps its body and gets
/// the busy case in its description.
pub(crate) fn add_busy(responses: &mut utoipa::openapi::Responses) {
    match responses.responses.get_mut("503") {
        Some(RefOr::T(own)) => {
            own.description = format!("{}; or: {BUSY_DESCRIPTION}", own.description);
        }
        Some(RefOr::Ref(_)) => {}
        None => {
            let mut busy = error_response("503", BUSY_DESCRIPTION);
            if let Some(RefOr::T(response)) = busy.get_mut("503") {
                let seconds = utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::Integer)
                    .build();
                response.headers.insert(
                    "Retry-After".to_owned(),
                    RefOr::T(
                        utoipa::openapi::header::HeaderBuilder::new()
                            .schema(Some(seconds))
                            .description(Some("Seconds to wait before trying again"))
                            .build(),
                    ),
                );
            }
            responses.responses.extend(busy);
        }
    }
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

    #[test]
    fn every_operation_but_health_documents_the_busy_503() {
        let doc = serde_json::to_value(crate::openapi()).unwrap();
        let mut checked = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let busy = &operation["responses"]["503"];
                if path == "/health" {
                    assert!(busy.is_null(), "{method} {path}");
                    continue;
                }
                let description = busy["description"].as_str().unwrap_or_default();
                assert!(description.contains("database is busy"), "{method} {path}");
                checked += 1;
            }
        }
        assert!(checked > 20, "only {checked} operations");
        // An operation's own 503 keeps its meaning and adds the busy case.
        let users = &doc["paths"]["/api/v1/{tenant}/users"]["get"]["responses"]["503"];
        let text = users["description"].as_str().unwrap();
        assert!(text.starts_with("The server has no users"), "{text}");
    }
}
