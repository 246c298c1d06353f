//! Connectors to the departments' own systems, which hold the data of pull requests (API.md §6).
//!
//! The gateway keeps no copy: after a permit it asks the source department's system with
//! `POST {url}/sluse/v1/records` `{subject, category, purpose}`. A 404 means the source has nothing;
//! a timeout, a connection error, another status, a non-JSON or an oversized answer means the source
//! is unavailable — and nothing of that answer is released.

mod http;
pub mod simulated;

use std::collections::HashMap;

pub use http::HttpSource;

use crate::config::SourceConfig;

/// Why a source gave no record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The source answered 404: it holds no such record.
    #[error("the source holds no such record")]
    NotFound,
    /// The source did not answer in time.
    #[error("the source did not answer within {0} ms")]
    Timeout(u64),
    /// The source could not be used: connection error, unexpected status, non-JSON or oversized
    /// answer. The text says which, never what the source sent.
    #[error("the source is unavailable: {0}")]
    Unavailable(String),
    /// No source is configured for the department.
    #[error("no source system is configured for department `{0}`")]
    NotConfigured(String),
}

/// What is asked of a source.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SourceQuery<'a> {
    /// The CPR number (sent in the body, over TLS, to the system that holds the record).
    pub subject: &'a str,
    /// The data category.
    pub category: &'a str,
    /// The purpose.
    pub purpose: &'a str,
}

/// The configured source systems, by department id.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    by_department: HashMap<String, HttpSource>,
}

impl Sources {
    /// Builds one pooled client per configured source.
    pub fn from_config(configs: &[SourceConfig]) -> Result<Sources, String> {
        let mut by_department = HashMap::new();
        for (i, config) in configs.iter().enumerate() {
            let source = HttpSource::new(config).map_err(|e| format!("`sources[{i}]`: {e}"))?;
            by_department.insert(config.department.clone(), source);
        }
        Ok(Sources { by_department })
    }

    /// Fetches the record for `query` from `department`'s system.
    pub async fn fetch(
        &self,
        department: &str,
        query: &SourceQuery<'_>,
    ) -> Result<serde_json::Value, SourceError> {
        match self.by_department.get(department) {
            Some(source) => {
                let started = std::time::Instant::now();
                let result = source.fetch(query).await;
                let outcome = if result.is_ok() { "ok" } else { "error" };
                crate::ops::metrics::observe_latency(
                    "sluse_source_request_seconds",
                    &[("department", department), ("result", outcome)],
                    started.elapsed(),
                );
                result
            }
            None => Err(SourceError::NotConfigured(department.to_owned())),
        }
    }

    /// The departments that have a source.
    pub fn departments(&self) -> impl Iterator<Item = &str> {
        self.by_department.keys().map(String::as_str)
    }
}
