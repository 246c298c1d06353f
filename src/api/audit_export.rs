//! `GET /v1/audit/export?format=jsonl|csv[&after=SEQ]` (role `dpo` only): the trail as a file, streamed
//! a page of records at a time by `seq`, so an export of any length needs constant memory.
//!
//! The JSON Lines are exactly those of `sluse audit export`, which `tools/verify_export.py` checks.

use axum::{
    body::{Body, Bytes},
    extract::{Query, State, rejection::QueryRejection},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::{Access, ApiError};
use crate::{
    app::AppState,
    audit::{
        AuditStore,
        export::{CSV_HEADER, csv_line, jsonl_line},
    },
    auth::{Principal, Role},
    store::Store,
};

/// Records read per page of the stream.
const EXPORT_PAGE: u32 = 1000;

/// The file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// JSON Lines, one record per line (`application/x-ndjson`).
    Jsonl,
    /// CSV with a header row, lists as JSON in a cell (`text/csv`).
    Csv,
}

/// `GET /v1/audit/export` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    format: Option<Format>,
    /// Only records with a greater seq (a witness reads the tail from its last checkpoint).
    after: Option<u64>,
}

/// Where the stream is.
struct Cursor {
    store: Store,
    format: Format,
    after: u64,
    started: bool,
    done: bool,
}

/// `GET /v1/audit/export?format=jsonl|csv` (default `jsonl`).
pub async fn export(
    State(state): State<AppState>,
    principal: Principal,
    params: Result<Query<ExportParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    principal.require_role(&[Role::Dpo])?;
    let Query(params) = params.map_err(|_| {
        ApiError::bad_field(
            "format",
            "`format` must be `jsonl` or `csv`, `after` a non-negative integer",
        )
    })?;
    let format = params.format.unwrap_or(Format::Jsonl);
    let (content_type, file) = match format {
        Format::Jsonl => ("application/x-ndjson", "sluse-audit.jsonl"),
        Format::Csv => ("text/csv; charset=utf-8", "sluse-audit.csv"),
    };
    let start = Cursor {
        store: state.store().clone(),
        format,
        after: params.after.unwrap_or(0),
        started: false,
        done: false,
    };
    let stream = futures_util::stream::unfold(start, |mut cursor| async move {
        if cursor.done {
            return None;
        }
        let chunk = next_chunk(&mut cursor).await;
        match chunk {
            Ok(None) => None,
            Ok(Some(bytes)) => Some((Ok(bytes), cursor)),
            Err(problem) => {
                // The status is already sent: cutting the body short is how the client learns.
                tracing::error!(%problem, "audit export stopped");
                cursor.done = true;
                Some((Err(std::io::Error::other(problem)), cursor))
            }
        }
    });
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The next piece of the file: the CSV header first, then one page of records; `None` at the end.
async fn next_chunk(cursor: &mut Cursor) -> Result<Option<Bytes>, String> {
    if !cursor.started {
        cursor.started = true;
        if cursor.format == Format::Csv {
            return Ok(Some(Bytes::from_static(CSV_HEADER.as_bytes())));
        }
    }
    let page = cursor
        .store
        .audit_page(cursor.after, EXPORT_PAGE)
        .await
        .map_err(|e| e.to_string())?;
    let Some(last) = page.last().map(|r| r.seq) else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for row in page {
        let record = row.into_chained()?;
        match cursor.format {
            Format::Jsonl => out.extend(jsonl_line(&record)?),
            Format::Csv => out.extend(csv_line(&record).into_bytes()),
        }
    }
    cursor.after = last;
    Ok(Some(Bytes::from(out)))
}
