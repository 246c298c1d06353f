//! Simulated source systems: real HTTP servers on loopback that speak the source protocol and hold a
//! fixed set of records. `sluse demo` runs one per department; tests use them as real sources.

use std::{collections::HashMap, net::SocketAddr, sync::Arc};

use axum::{Json, Router, extract::State, http::StatusCode, routing::post};
use serde::Deserialize;
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::cpr::Cpr;

/// The records one simulated system holds: (canonical CPR digits, category) → record.
#[derive(Debug, Clone, Default)]
pub struct Records {
    by_key: HashMap<(String, String), Value>,
}

impl Records {
    /// Adds a record for `subject` (any accepted spelling) in `category`; an invalid CPR number is
    /// ignored.
    pub fn insert(&mut self, subject: &str, category: &str, record: Value) {
        if let Ok(cpr) = Cpr::parse(subject) {
            self.by_key.insert(
                (cpr.expose_digits().to_owned(), category.to_owned()),
                record,
            );
        }
    }
}

#[derive(Debug, Deserialize)]
struct Query {
    subject: String,
    category: String,
    #[allow(dead_code, reason = "part of the protocol; a real system would log it")]
    purpose: String,
}

async fn serve_record(
    State(records): State<Arc<Records>>,
    Json(query): Json<Query>,
) -> Result<Json<Value>, StatusCode> {
    let cpr = Cpr::parse(&query.subject).map_err(|_| StatusCode::BAD_REQUEST)?;
    records
        .by_key
        .get(&(cpr.expose_digits().to_owned(), query.category))
        .cloned()
        .map(Json)
        .ok_or(StatusCode::NOT_FOUND)
}

/// Starts a simulated system on 127.0.0.1 with an ephemeral port; returns its base URL.
pub async fn spawn(records: Records) -> std::io::Result<(String, JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    let app = Router::new()
        .route("/sluse/v1/records", post(serve_record))
        .with_state(Arc::new(records));
    let handle = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((format!("http://{addr}"), handle))
}
