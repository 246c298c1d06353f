//! Signing in to the console with a pasted DPO token, and signing out.

use askama::Template;
use axum::{
    Form,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    SignedIn, WebState, cookie, error_page,
    pages::{csrf_ok, render, stale_form},
    session::{self, LOGIN_COOKIE, SESSION_COOKIE, same_secret},
    set_cookie,
};
use crate::{api::Access, auth::Role};

// ---------------------------------------------------------------------------------------------
// Sign-in and sign-out

#[derive(Template)]
#[template(path = "dpo/login.html")]
struct LoginPage {
    csrf: String,
    error: Option<String>,
}

/// A sign-in page with a fresh double-submit token in a cookie and in the form.
fn login_page(status: StatusCode, error: Option<String>) -> Response {
    let Some(csrf) = session::random_token() else {
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "No random token could be made.",
        );
    };
    let mut response = render(&LoginPage {
        csrf: csrf.clone(),
        error,
    });
    *response.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(&set_cookie(LOGIN_COOKIE, Some(&csrf), 600)) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// `GET /dpo/login`.
pub async fn login_form() -> Response {
    login_page(StatusCode::OK, None)
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /dpo/login`: verify the pasted token; a DPO gets a session, anyone else nothing.
pub async fn login(
    State(state): State<WebState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if !same_secret(expected, &form.csrf) {
        return login_page(
            StatusCode::FORBIDDEN,
            Some("The sign-in form expired. Please paste the token again.".to_owned()),
        );
    }
    let now = state.app.clock().now();
    let principal = match state.app.verifier().verify(form.token.trim(), now) {
        Ok(p) => p,
        Err(_) => {
            return login_page(
                StatusCode::UNAUTHORIZED,
                Some("The token is not valid.".to_owned()),
            );
        }
    };
    if principal.require_role(&[Role::Dpo]).is_err() {
        return login_page(
            StatusCode::FORBIDDEN,
            Some("Only the data protection officer (role dpo) may use this console.".to_owned()),
        );
    }
    let Some(id) = state.sessions.start(&principal.sub, &principal.dept, now) else {
        return error_page(StatusCode::SERVICE_UNAVAILABLE, "No session could be made.");
    };
    tracing::info!(sub = %principal.sub, "DPO signed in to the console");
    let mut response = Redirect::to("/dpo/").into_response();
    let max_age = session::ABSOLUTE.as_secs();
    for value in [
        set_cookie(SESSION_COOKIE, Some(&id), max_age),
        set_cookie(LOGIN_COOKIE, None, 0),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

/// A form that carries nothing but the CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub(super) csrf: String,
}

/// `POST /dpo/logout`.
pub async fn logout(
    State(state): State<WebState>,
    signed: SignedIn,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !csrf_ok(&signed, &form.csrf) {
        return stale_form();
    }
    state.sessions.end(&signed.id);
    let mut response = Redirect::to("/dpo/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&set_cookie(SESSION_COOKIE, None, 0)) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}
