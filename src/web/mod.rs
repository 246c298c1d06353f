//! The DPO console at `/dpo/`: server-rendered HTML (askama, auto-escaped), no script, no build step.
//!
//! Sign-in is by pasting a DPO token, checked by the same verifier as the API; the browser then
//! holds only a random session id (HttpOnly, Secure, SameSite=Strict, `Path=/dpo`). Every form
//! carries the session's CSRF token, and every response carries the security headers of
//! [`security_headers`]. A CPR number is only ever entered in a POSTed form, never in a URL.

mod login;
mod pages;
mod reports;
mod review;
pub mod session;
pub mod svg;

use std::sync::Arc;

use axum::{
    Router,
    extract::FromRequestParts,
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    middleware,
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};

use crate::app::AppState;
use session::{SESSION_COOKIE, Session, Sessions};

/// The console's state: the gateway's, and the console's sessions.
#[derive(Clone)]
pub struct WebState {
    app: AppState,
    sessions: Arc<Sessions>,
}

/// The console's routes, to be nested at `/dpo`.
pub fn router(app: AppState) -> Router {
    let state = WebState {
        app,
        sessions: Arc::new(Sessions::default()),
    };
    Router::new()
        .route("/", get(pages::search))
        .route("/login", get(login::login_form).post(login::login))
        .route("/logout", post(login::logout))
        .route("/records/{seq}", get(pages::record))
        .route("/chain", get(pages::chain))
        .route("/chain/verify", post(pages::verify_now))
        .route(
            "/subject",
            get(reports::subject_form).post(reports::subject_report),
        )
        .route("/stats", get(reports::stats))
        .route("/review", get(review::queue))
        .route("/review/{seq}", post(review::mark))
        .route("/console.css", get(pages::stylesheet))
        .fallback(pages::not_found)
        .layer(middleware::map_response(security_headers))
        .with_state(state)
}

/// The Content-Security-Policy of every console response: nothing but our own stylesheet, images
/// inline or our own, forms to ourselves, never framed.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the security headers to every console response.
pub async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// The value of cookie `name` in the request, if sent.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value for a console cookie; `None` as value clears it.
pub fn set_cookie(name: &str, value: Option<&str>, max_age_secs: i64) -> String {
    match value {
        Some(v) => format!(
            "{name}={v}; HttpOnly; Secure; SameSite=Strict; Path=/dpo; Max-Age={max_age_secs}"
        ),
        None => format!("{name}=; HttpOnly; Secure; SameSite=Strict; Path=/dpo; Max-Age=0"),
    }
}

/// A page for a request with a live session.
pub struct SignedIn {
    /// The session id (from the cookie).
    pub id: String,
    /// The session.
    pub session: Session,
}

impl FromRequestParts<WebState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState,
    ) -> Result<Self, Self::Rejection> {
        let now = state.app.clock().now();
        cookie(&parts.headers, SESSION_COOKIE)
            .and_then(|id| {
                state.sessions.get(id, now).map(|session| SignedIn {
                    id: id.to_owned(),
                    session,
                })
            })
            .ok_or_else(|| Redirect::to("/dpo/login").into_response())
    }
}

/// A plain HTML error page with `status`.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sluse DPO console</title>\
         <link rel=\"stylesheet\" href=\"/dpo/console.css\"></head><body><main><h1>{}</h1><p>{}</p>\
         <p><a href=\"/dpo/\">Back to the console</a></p></main></body></html>",
        status.canonical_reason().unwrap_or("Error"),
        svg::escape(message)
    );
    (status, Html(body)).into_response()
}
