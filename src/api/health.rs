//! `/healthz` (the process is up) and `/readyz` (the database answers and policies are loaded).

use axum::{Json, extract::State};
use serde_json::{Value, json};

use super::ApiError;
use crate::app::AppState;

/// The process is up.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready to serve: the store answers and a policy bundle is in force.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state
        .store()
        .ping()
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    Ok(Json(json!({
        "status": "ready",
        "policy_version": state.bundle().version(),
    })))
}
