//! `sluse policy explain --config FILE --request FILE.json`: one request dry-run against the
//! configured store and bundle, through the same fact gathering and `decide` as the live path.

use std::path::Path;

use jiff::civil::Date;
use serde::Deserialize;

use crate::{
    auth::Principal,
    clock::{Clock, SystemClock},
    config::Config,
    cpr::Cpr,
    facts, keys,
    policy::{self, Mode, PolicyBundle},
    store::{OpenMode, Store},
};

/// The request file: the request as the gateway would see it, plus the CPR number and an optional
/// date to decide on (default: today in Copenhagen).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExplainRequest {
    requester: Principal,
    subject: Cpr,
    category: String,
    purpose: String,
    source: String,
    /// Default: the requester's department.
    recipient: Option<String>,
    /// Default: `pull`.
    mode: Option<Mode>,
    payload: Option<serde_json::Value>,
    /// The day to decide on.
    date: Option<Date>,
}

/// Explains the request in `request_file` and returns the text to print.
pub async fn run(config: &Config, request_file: &Path) -> Result<String, String> {
    let text = std::fs::read(request_file)
        .map_err(|e| format!("cannot read `{}`: {e}", request_file.display()))?;
    let request: ExplainRequest =
        crate::api::json::parse(&text).map_err(|e| format!("`{}`: {e}", request_file.display()))?;
    let bundle = PolicyBundle::load(&config.policies.dir)
        .map_err(|e| format!("the policy bundle is invalid:\n{e}"))?;
    let key = keys::load_pseudonym_key(&config.audit.pseudonym_key).map_err(|e| e.to_string())?;
    let store = Store::connect(&config.database, OpenMode::Existing)
        .await
        .map_err(|e| e.to_string())?;
    store.check_schema().await.map_err(|e| e.to_string())?;
    let today = request.date.unwrap_or_else(|| SystemClock.today());
    let facts = facts::gather(&store, &key, &request.subject, today)
        .await
        .map_err(|e| e.to_string())?
        .facts;
    store.close().await;
    let recipient = request
        .recipient
        .unwrap_or_else(|| request.requester.dept.clone());
    let req = policy::Request {
        requester: request.requester,
        category: request.category,
        purpose: request.purpose,
        source: request.source,
        recipient,
        mode: request.mode.unwrap_or(Mode::Pull),
        payload: request.payload,
    };
    Ok(policy::explain(&bundle, &req, &facts, today).to_string())
}
