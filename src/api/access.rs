//! Authentication as an extractor, and the role/department checks handlers make.

use axum::{
    extract::FromRequestParts,
    http::{header, request::Parts},
};

use super::ApiError;
use crate::{
    app::AppState,
    auth::{Principal, Role},
};

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let value = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
            ApiError::Unauthorized("missing `Authorization: Bearer` token".to_owned())
        })?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::Unauthorized("expected `Authorization: Bearer <token>`".to_owned())
            })?;
        let principal = state
            .verifier()
            .verify(token, state.clock().now())
            .map_err(|e| ApiError::Unauthorized(format!("invalid token: {e}")))?;
        state.rate_limits().check(&principal)?;
        Ok(principal)
    }
}

/// Access checks on a verified caller.
pub trait Access {
    /// 403 unless the caller has one of `roles`.
    fn require_role(&self, roles: &[Role]) -> Result<(), ApiError>;
    /// 403 unless the caller has one of `roles` in a department of one of `kinds`.
    fn require(&self, state: &AppState, roles: &[Role], kinds: &[&str]) -> Result<(), ApiError>;
}

impl Access for Principal {
    fn require_role(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "role `{}` may not call this endpoint",
                self.role
            )))
        }
    }

    fn require(&self, state: &AppState, roles: &[Role], kinds: &[&str]) -> Result<(), ApiError> {
        self.require_role(roles)?;
        let bundle = state.bundle();
        let kind = bundle.department(&self.dept).map(|d| d.kind.as_str());
        match kind {
            Some(kind) if kinds.contains(&kind) => Ok(()),
            _ => Err(ApiError::Forbidden(format!(
                "department `{}` may not call this endpoint",
                self.dept
            ))),
        }
    }
}
