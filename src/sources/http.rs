//! The HTTP connector: one pooled reqwest client per source (rustls on ring, optional mTLS and a
//! pinned CA), a per-source timeout and a response size limit enforced while reading.

use std::time::Duration;

use reqwest::{Certificate, Client, Identity, StatusCode};
use serde_json::Value;

use super::{SourceError, SourceQuery};
use crate::config::SourceConfig;

/// A source system reached over HTTP(S).
#[derive(Debug, Clone)]
pub struct HttpSource {
    client: Client,
    endpoint: String,
    timeout_ms: u64,
    max_bytes: usize,
}

impl HttpSource {
    /// A client for one configured source.
    pub fn new(config: &SourceConfig) -> Result<HttpSource, String> {
        let mut builder = Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms))
            .connect_timeout(Duration::from_millis(config.timeout_ms))
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(64)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("sluse/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = &config.ca {
            let pem = std::fs::read(ca)
                .map_err(|e| format!("cannot read `ca` `{}`: {e}", ca.display()))?;
            let certs = Certificate::from_pem_bundle(&pem)
                .map_err(|_| format!("`ca` `{}` is not a PEM certificate bundle", ca.display()))?;
            builder = builder.tls_certs_only(certs);
        }
        if let (Some(cert), Some(key)) = (&config.client_cert, &config.client_key) {
            let mut pem = std::fs::read(cert)
                .map_err(|e| format!("cannot read `client_cert` `{}`: {e}", cert.display()))?;
            pem.extend(
                std::fs::read(key)
                    .map_err(|e| format!("cannot read `client_key` `{}`: {e}", key.display()))?,
            );
            let identity = Identity::from_pem(&pem).map_err(|_| {
                "`client_cert`/`client_key` are not a PEM certificate and key".to_owned()
            })?;
            builder = builder.identity(identity);
        }
        let client = builder
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(HttpSource {
            client,
            endpoint: format!("{}/sluse/v1/records", config.url.trim_end_matches('/')),
            timeout_ms: config.timeout_ms,
            max_bytes: config.max_response_bytes,
        })
    }

    /// Asks the source for one record.
    pub async fn fetch(&self, query: &SourceQuery<'_>) -> Result<Value, SourceError> {
        let response = self
            .client
            .post(&self.endpoint)
            .json(query)
            .send()
            .await
            .map_err(|e| self.transport_error(&e))?;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Err(SourceError::NotFound),
            status => {
                return Err(SourceError::Unavailable(format!(
                    "unexpected status {}",
                    status.as_u16()
                )));
            }
        }
        if response
            .content_length()
            .is_some_and(|len| len > self.max_bytes as u64)
        {
            return Err(self.oversized());
        }
        let mut response = response;
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport_error(&e))?
        {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(self.oversized());
            }
            body.extend_from_slice(&chunk);
        }
        match serde_json::from_slice::<Value>(&body) {
            Ok(value @ Value::Object(_)) => Ok(value),
            Ok(_) => Err(SourceError::Unavailable(
                "the answer is not a JSON object".to_owned(),
            )),
            Err(_) => Err(SourceError::Unavailable(
                "the answer is not JSON".to_owned(),
            )),
        }
    }

    fn transport_error(&self, error: &reqwest::Error) -> SourceError {
        if error.is_timeout() {
            SourceError::Timeout(self.timeout_ms)
        } else if error.is_connect() {
            SourceError::Unavailable("connection failed".to_owned())
        } else {
            SourceError::Unavailable("transport error".to_owned())
        }
    }

    fn oversized(&self) -> SourceError {
        SourceError::Unavailable(format!(
            "the answer is larger than {} bytes",
            self.max_bytes
        ))
    }
}
