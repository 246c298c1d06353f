//! `/v1/audit/*` (role `dpo` only): verify the chain, list the signed checkpoints.

use axum::{Json, extract::State};

use super::{Access, ApiError};
use crate::{
    app::AppState,
    audit::{self, CheckpointSet, Verification, checkpoint::public_key},
    auth::{Principal, Role},
};

/// `GET /v1/audit/verify`: recompute the whole chain and check it against the stored checkpoints.
pub async fn verify(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Verification>, ApiError> {
    principal.require_role(&[Role::Dpo])?;
    let keys = [public_key(state.signing_key())];
    let result = audit::verify(state.store(), &keys, None, |_| {}).await?;
    if let Some(bad) = &result.first_bad {
        tracing::warn!(seq = bad.seq, problem = %bad.problem, "audit chain verification failed");
    }
    Ok(Json(result))
}

/// `GET /v1/audit/checkpoints`: every signed checkpoint and the public keys that verify them.
pub async fn checkpoints(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<CheckpointSet>, ApiError> {
    principal.require_role(&[Role::Dpo])?;
    Ok(Json(CheckpointSet {
        checkpoints: audit::all_checkpoints(state.store()).await?,
        public_keys: vec![public_key(state.signing_key())],
    }))
}
