//! `GET /v1/me`: who the gateway takes the caller to be — for integrators checking their tokens.

use axum::Json;

use crate::auth::Principal;

/// The verified principal of the caller's token.
pub async fn me(principal: Principal) -> Json<Principal> {
    Json(principal)
}
