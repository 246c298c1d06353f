//! `ApiJson<T>`: the JSON body extractor every handler uses. Unlike `axum::Json` it answers with a
//! problem that names the offending field, and it never echoes input values (they may be CPR numbers).

use axum::{
    body::Bytes,
    extract::{FromRequest, Request, rejection::BytesRejection},
    http::{HeaderMap, header},
};
use serde::de::DeserializeOwned;

use super::problem::ApiError;

/// A JSON request body, deserialized with the field path of any error recorded.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        require_json(req.headers())?;
        let bytes = Bytes::from_request(req, state).await.map_err(|e| match e {
            BytesRejection::FailedToBufferBody(inner)
                if inner.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE =>
            {
                ApiError::PayloadTooLarge
            }
            other => ApiError::BadRequest {
                field: None,
                detail: format!("could not read the request body: {}", other.body_text()),
            },
        })?;
        parse(&bytes).map(ApiJson)
    }
}

/// 415 unless the request says its body is JSON.
pub fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim();
            mime.eq_ignore_ascii_case("application/json")
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        });
    if is_json {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(
            "the body must be `application/json`".to_owned(),
        ))
    }
}

/// Deserializes `bytes`, turning a failure into a 400 that names the field.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(field_error)
}

/// Deserializes a body already parsed into a [`serde_json::Value`] (one parse when the handler
/// also needs the value itself), with the same problems as [`parse`].
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(field_error)
}

/// The 400 for a body that does not deserialize, naming the field where serde stopped.
fn field_error(error: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = error.path().to_string();
    let inner = error.into_inner();
    let detail = describe(&inner);
    // serde_path_to_error's path already ends at the unknown field itself.
    let is_data_error = inner.classify() == serde_json::error::Category::Data;
    // A missing field is reported at its parent: name the field itself.
    let missing = inner
        .to_string()
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name.to_owned());
    let field = match (is_data_error, missing) {
        (true, Some(name)) if path == "." => Some(name),
        (true, Some(name)) => Some(format!("{path}.{name}")),
        (true, None) => (path != ".").then_some(path),
        (false, _) => None,
    };
    match &field {
        Some(f) => ApiError::bad_field(f.clone(), format!("`{f}`: {detail}")),
        None => ApiError::BadRequest {
            field: None,
            detail,
        },
    }
}

/// serde_json's message without the position suffix, and with quoted input values removed.
fn describe(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let message = error.to_string();
    let message = message
        .rsplit_once(" at line ")
        .map_or(message.as_str(), |(head, _)| head);
    match error.classify() {
        Category::Syntax | Category::Eof => format!("malformed JSON: {message}"),
        Category::Io => "could not read the request body".to_owned(),
        // `invalid type: string "0102031234", expected u32` quotes the value: keep only the shape.
        Category::Data => match message.split_once(": string \"") {
            Some((head, rest)) => match rest.rsplit_once("\", ") {
                Some((_, tail)) => format!("{head}: a string, {tail}"),
                None => format!("{head}: a string"),
            },
            None => message.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        subject: String,
        inner: Inner,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        count: u32,
    }

    fn field_of(e: ApiError) -> Option<String> {
        match e {
            ApiError::BadRequest { field, .. } => field,
            _ => None,
        }
    }

    #[test]
    fn unknown_field_is_named_with_its_path() {
        let e = parse::<Body>(br#"{"subject":"x","inner":{"count":1,"extra":2}}"#).unwrap_err();
        assert_eq!(field_of(e).as_deref(), Some("inner.extra"));
        let e = parse::<Body>(br#"{"subject":"x","bogus":1,"inner":{"count":1}}"#).unwrap_err();
        assert_eq!(field_of(e).as_deref(), Some("bogus"));
    }

    #[test]
    fn wrong_type_names_the_field_and_does_not_echo_the_value() {
        let e = parse::<Body>(br#"{"subject":"x","inner":{"count":"0102031234"}}"#).unwrap_err();
        let detail = e.to_string();
        assert!(!detail.contains("0102031234"), "{detail}");
        assert_eq!(field_of(e).as_deref(), Some("inner.count"));
    }

    #[test]
    fn a_missing_field_is_named() {
        let e = parse::<Body>(br#"{"inner":{"count":1}}"#).unwrap_err();
        assert_eq!(field_of(e).as_deref(), Some("subject"));
        let e = parse::<Body>(br#"{"subject":"x","inner":{}}"#).unwrap_err();
        assert_eq!(field_of(e).as_deref(), Some("inner.count"));
    }

    #[test]
    fn a_parsed_value_gets_the_same_problems_as_its_bytes() {
        for body in [
            &br#"{"subject":"x","inner":{"count":1,"extra":2}}"#[..],
            br#"{"subject":"x","inner":{"count":"0102031234"}}"#,
            br#"{"subject":"x","inner":{}}"#,
        ] {
            let value: serde_json::Value = parse(body).unwrap();
            let from_bytes = parse::<Body>(body).unwrap_err();
            let from_value = from_value::<Body>(value).unwrap_err();
            assert!(
                !from_value.to_string().contains("0102031234"),
                "{from_value}"
            );
            assert_eq!(field_of(from_value), field_of(from_bytes));
        }
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        let e = parse::<Body>(b"{not json").unwrap_err();
        assert!(e.to_string().starts_with("malformed JSON"), "{e}");
    }
}
