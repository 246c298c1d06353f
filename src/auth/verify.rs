//! Bearer-token verification (API.md §2): a JWT becomes a [`Principal`] or an [`AuthError`].
//!
//! The order is fixed: size, cache, header, the unverified `iss` to choose the issuer, that issuer's
//! key by `kid`, the key's algorithms, the signature, then the claims against `now`. Time is a
//! parameter: jsonwebtoken's own `exp`/`nbf` checks read the system clock, so they are turned off
//! and done here.

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde_json::Value;

use super::cache::{CacheStats, TokenCache, token_digest};
use super::{Jwks, Principal, Role, jwt_ring};

/// Tokens longer than this are refused before any parsing (8 KiB; real tokens are well under 2 KiB).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Clock skew allowed on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECONDS: i64 = 30;
/// How many verified tokens are cached by default.
pub const DEFAULT_CACHE_CAPACITY: usize = 10_000;

/// One trusted issuer: its `iss`, the audience its tokens must name for us, and its keys.
#[derive(Debug, Clone)]
pub struct IssuerKeys {
    /// The exact `iss` value.
    pub issuer: String,
    /// The value `aud` must contain.
    pub audience: String,
    /// The issuer's public keys.
    pub keys: Jwks,
}

/// Why a bearer token was refused. Every variant means HTTP 401; none carries token content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No bearer token was presented (for the caller's extractor).
    #[error("missing bearer token")]
    MissingToken,
    /// The token exceeds [`MAX_TOKEN_BYTES`].
    #[error("token too large")]
    TooLarge,
    /// Not a JWS compact serialization with a JSON header and payload.
    #[error("malformed token")]
    Malformed,
    /// `iss` names no configured issuer.
    #[error("unknown issuer")]
    UnknownIssuer,
    /// The header has no `kid`.
    #[error("missing key id")]
    MissingKeyId,
    /// The `kid` is not one of the issuer's keys.
    #[error("unknown key id")]
    UnknownKeyId,
    /// The header's `alg` is not one the key is for (this covers `none` and HS* on public keys).
    #[error("algorithm not allowed for key")]
    AlgorithmNotAllowed,
    /// The signature does not verify.
    #[error("invalid signature")]
    InvalidSignature,
    /// `aud` does not contain our audience.
    #[error("audience not accepted")]
    WrongAudience,
    /// `exp` has passed (beyond the leeway).
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("token not yet valid")]
    NotYetValid,
    /// A required claim is absent or empty.
    #[error("missing claim `{0}`")]
    MissingClaim(&'static str),
    /// A claim has the wrong JSON type.
    #[error("invalid claim `{0}`")]
    InvalidClaim(&'static str),
    /// `dept` is not a known department.
    #[error("unknown department")]
    UnknownDepartment,
    /// `role` is not one of the roles of API.md §2.
    #[error("unknown role")]
    UnknownRole,
}

impl AuthError {
    /// The HTTP status for every authentication failure: 401 (API.md §2).
    pub const fn http_status(self) -> u16 {
        401
    }

    /// A stable snake-case code for logs and metrics.
    pub const fn code(self) -> &'static str {
        match self {
            AuthError::MissingToken => "missing_token",
            AuthError::TooLarge => "token_too_large",
            AuthError::Malformed => "malformed_token",
            AuthError::UnknownIssuer => "unknown_issuer",
            AuthError::MissingKeyId => "missing_key_id",
            AuthError::UnknownKeyId => "unknown_key_id",
            AuthError::AlgorithmNotAllowed => "algorithm_not_allowed",
            AuthError::InvalidSignature => "invalid_signature",
            AuthError::WrongAudience => "wrong_audience",
            AuthError::Expired => "token_expired",
            AuthError::NotYetValid => "token_not_yet_valid",
            AuthError::MissingClaim(_) => "missing_claim",
            AuthError::InvalidClaim(_) => "invalid_claim",
            AuthError::UnknownDepartment => "unknown_department",
            AuthError::UnknownRole => "unknown_role",
        }
    }
}

/// Verifies bearer tokens against the configured issuers, with a cache of verified tokens.
#[derive(Debug)]
pub struct TokenVerifier {
    issuers: Vec<IssuerKeys>,
    departments: HashSet<String>,
    cache: TokenCache,
}

impl TokenVerifier {
    /// A verifier for these issuers and departments, caching up to [`DEFAULT_CACHE_CAPACITY`]
    /// tokens. If two entries name the same issuer, the first one is used (config checking should
    /// refuse duplicates). Installs the ring JWT provider if none is installed yet.
    pub fn new(issuers: Vec<IssuerKeys>, departments: HashSet<String>) -> Self {
        // jsonwebtoken panics on the first decode without a provider; make sure there is one.
        jwt_ring::install_or_warn();
        TokenVerifier {
            issuers,
            departments,
            cache: TokenCache::new(DEFAULT_CACHE_CAPACITY),
        }
    }

    /// The same verifier with room for `capacity` cached tokens (`0` turns caching off).
    pub fn with_cache_capacity(mut self, capacity: usize) -> Self {
        self.cache = TokenCache::new(capacity);
        self
    }

    /// Cache hit/miss counters, for metrics.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// Verifies `token` (without the `Bearer ` prefix) as of `now`.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<Principal, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::TooLarge);
        }
        let now = now.as_second();
        let digest = token_digest(token);
        if let Some(principal) = digest.as_ref().and_then(|d| self.cache.get(d, now)) {
            return Ok(principal);
        }
        let (principal, exp) = self.verify_uncached(token, now)?;
        if let Some(digest) = digest {
            self.cache.insert(digest, principal.clone(), exp, now);
        }
        Ok(principal)
    }

    /// Full verification; returns the principal and the token's `exp`.
    fn verify_uncached(&self, token: &str, now: i64) -> Result<(Principal, i64), AuthError> {
        let (header, payload, _signature) = split(token)?;
        let header: PeekHeader = decode_json(header)?;
        // `none`, or a name jsonwebtoken does not know, can never be a key's algorithm.
        let algorithm: Algorithm = header
            .alg
            .parse()
            .map_err(|_| AuthError::AlgorithmNotAllowed)?;

        // The issuer is chosen from the unverified payload; the signature is then checked with that
        // issuer's keys only, so a key of another issuer can never vouch for this `iss`.
        let unverified: PeekIssuer = decode_json(payload)?;
        let iss = string_claim(unverified.iss, "iss")?;
        let issuer = self
            .issuers
            .iter()
            .find(|i| i.issuer == iss)
            .ok_or(AuthError::UnknownIssuer)?;
        let kid = header.kid.ok_or(AuthError::MissingKeyId)?;
        let key = issuer.keys.get(&kid).ok_or(AuthError::UnknownKeyId)?;
        if !key.allows(algorithm) {
            return Err(AuthError::AlgorithmNotAllowed);
        }

        let claims =
            jsonwebtoken::decode::<Claims>(token, key.decoding_key(), &signature_only(algorithm))
                .map_err(|err| match err.kind() {
                    ErrorKind::InvalidSignature => AuthError::InvalidSignature,
                    ErrorKind::InvalidAlgorithm
                    | ErrorKind::InvalidKeyFormat
                    | ErrorKind::UnsupportedAlgorithm => AuthError::AlgorithmNotAllowed,
                    _ => AuthError::Malformed,
                })?
                .claims;
        self.check_claims(issuer, claims, now)
    }

    fn check_claims(
        &self,
        issuer: &IssuerKeys,
        claims: Claims,
        now: i64,
    ) -> Result<(Principal, i64), AuthError> {
        if string_claim(claims.iss, "iss")? != issuer.issuer {
            return Err(AuthError::UnknownIssuer);
        }
        let audience_ok = match claims.aud {
            None => return Err(AuthError::MissingClaim("aud")),
            Some(Value::String(aud)) => aud == issuer.audience,
            Some(Value::Array(auds)) => auds
                .iter()
                .any(|a| a.as_str() == Some(issuer.audience.as_str())),
            Some(_) => return Err(AuthError::InvalidClaim("aud")),
        };
        if !audience_ok {
            return Err(AuthError::WrongAudience);
        }
        let exp = numeric_date(claims.exp, "exp")?.ok_or(AuthError::MissingClaim("exp"))?;
        if now >= exp.saturating_add(LEEWAY_SECONDS) {
            return Err(AuthError::Expired);
        }
        if let Some(nbf) = numeric_date(claims.nbf, "nbf")?
            && nbf > now.saturating_add(LEEWAY_SECONDS)
        {
            return Err(AuthError::NotYetValid);
        }
        let sub = string_claim(claims.sub, "sub")?;
        let dept = string_claim(claims.dept, "dept")?;
        if !self.departments.contains(&dept) {
            return Err(AuthError::UnknownDepartment);
        }
        let role =
            Role::parse(&string_claim(claims.role, "role")?).ok_or(AuthError::UnknownRole)?;
        Ok((Principal { sub, dept, role }, exp))
    }
}

/// The validation handed to jsonwebtoken: the algorithm only. Everything else is checked in
/// [`TokenVerifier::check_claims`], because jsonwebtoken reads the system clock for `exp`/`nbf` and
/// skips `aud` when it is absent.
fn signature_only(algorithm: Algorithm) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    validation
}

/// The header fields needed before the signature is checked.
#[derive(Deserialize)]
struct PeekHeader {
    alg: String,
    kid: Option<String>,
}

/// The one payload field read before the signature is checked.
#[derive(Deserialize)]
struct PeekIssuer {
    iss: Option<Value>,
}

/// The claims we check, each as raw JSON so that a wrong type gets its own error. A derived
/// `Deserialize` refuses duplicate fields, so a payload cannot say two things about one claim.
#[derive(Deserialize)]
struct Claims {
    iss: Option<Value>,
    aud: Option<Value>,
    exp: Option<Value>,
    nbf: Option<Value>,
    sub: Option<Value>,
    dept: Option<Value>,
    role: Option<Value>,
}

/// Splits a JWS compact serialization into its three parts.
fn split(token: &str) -> Result<(&str, &str, &str), AuthError> {
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(header), Some(payload), Some(signature), None) => Ok((header, payload, signature)),
        _ => Err(AuthError::Malformed),
    }
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, AuthError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| AuthError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| AuthError::Malformed)
}

/// A required, non-empty string claim.
fn string_claim(value: Option<Value>, name: &'static str) -> Result<String, AuthError> {
    match value {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) | None => Err(AuthError::MissingClaim(name)),
        Some(_) => Err(AuthError::InvalidClaim(name)),
    }
}

/// An optional NumericDate (RFC 7519 §2: seconds, possibly fractional) in whole seconds.
fn numeric_date(value: Option<Value>, name: &'static str) -> Result<Option<i64>, AuthError> {
    match value {
        None => Ok(None),
        Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
            (Some(seconds), _) => Ok(Some(seconds)),
            // A float is floored; `as` saturates at the i64 range, which only moves absurd dates.
            (None, Some(seconds)) if seconds.is_finite() => Ok(Some(seconds.floor() as i64)),
            _ => Err(AuthError::InvalidClaim(name)),
        },
        Some(_) => Err(AuthError::InvalidClaim(name)),
    }
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
