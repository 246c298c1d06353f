//! `GET /openapi.json`: the OpenAPI 3 document of every endpoint, kept by hand next to the handlers
//! (a test checks that every route is documented).

use axum::{
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};

/// The document, as shipped.
pub const DOCUMENT: &str = include_str!("openapi.json");

/// Serves the document.
pub async fn openapi() -> Response {
    let mut response = DOCUMENT.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
