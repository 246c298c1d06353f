//! A small Prometheus registry: labelled counters and histograms, rendered in the text exposition
//! format at `GET /metrics`.
//!
//! Hand-rolled rather than the `metrics` crates: the gateway needs a dozen series, and this keeps
//! the dependency tree (and the one crypto stack) as it is. The registry is process-wide, like
//! Prometheus' own client libraries; label values never carry personal data (routes are the
//! matched templates, reasons are the stable codes of API.md §7, departments are policy ids).

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    sync::{LazyLock, Mutex},
};

/// Every series this process exports: name, type, help.
const FAMILIES: [(&str, &str, &str); 15] = [
    (
        "sluse_http_requests_total",
        "counter",
        "HTTP requests answered, by route template, method and status.",
    ),
    (
        "sluse_http_request_duration_seconds",
        "histogram",
        "Time to answer an HTTP request, by route template.",
    ),
    (
        "sluse_decisions_total",
        "counter",
        "Audited decisions, by decision, outcome and reason code (`none` for a permit).",
    ),
    (
        "sluse_stale_decisions_total",
        "counter",
        "Decisions refused by the audit batch because their subject's consents or assignments were written meanwhile, and made again, by path.",
    ),
    (
        "sluse_audit_batch_size",
        "histogram",
        "Records committed per audit transaction (group commit).",
    ),
    (
        "sluse_audit_append_seconds",
        "histogram",
        "Time to chain and commit one audit batch.",
    ),
    (
        "sluse_sqlite_wal_restart_seconds",
        "histogram",
        "Time the SQLite writers waited while the WAL was rewound (RESTART checkpoint).",
    ),
    (
        "sluse_audit_lookups_indexed_total",
        "counter",
        "Audit records whose subject, requester and basis keys the SQLite indexer has copied.",
    ),
    (
        "sluse_audit_lookups_index_seconds",
        "histogram",
        "Time of one SQLite indexer transaction (appends wait for it).",
    ),
    (
        "sluse_source_request_seconds",
        "histogram",
        "Time to fetch a record from a department's source system, by department and result.",
    ),
    (
        "sluse_rate_limited_total",
        "counter",
        "Requests refused with 429, by limit (`principal` or `department`).",
    ),
    (
        "sluse_load_shed_total",
        "counter",
        "Requests refused with 503 because the concurrency limit was reached.",
    ),
    (
        "sluse_reloads_total",
        "counter",
        "Reloads of the policy bundle, the issuers' key sets or the signing key, by what and result.",
    ),
    (
        "sluse_token_cache_hits_total",
        "counter",
        "Token verifications answered from the verified-token cache (since the key sets were last loaded).",
    ),
    (
        "sluse_token_cache_misses_total",
        "counter",
        "Token verifications that checked a signature (since the key sets were last loaded).",
    ),
];

/// Upper bounds of the latency histograms, in seconds.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];
/// Upper bounds of the batch-size histogram.
pub const SIZE_BUCKETS: [f64; 10] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 512.0, 2048.0];

#[derive(Debug, Clone)]
struct Histogram {
    bounds: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

#[derive(Debug, Default)]
struct Registry {
    counters: BTreeMap<(&'static str, String), u64>,
    histograms: BTreeMap<(&'static str, String), Histogram>,
}

static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(|| Mutex::new(Registry::default()));

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    // A panic while holding the lock cannot leave a counter half-written; keep counting.
    REGISTRY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `{a="x",b="y"}` with Prometheus escaping; empty for no labels.
fn label_text(labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let mut out = String::from("{");
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{k}=\"");
        // Prometheus escaping, without a new string per label when there is nothing to escape.
        for c in v.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
    out
}

/// Adds `by` to the counter `name{labels}`.
pub fn add(name: &'static str, labels: &[(&str, &str)], by: u64) {
    *registry()
        .counters
        .entry((name, label_text(labels)))
        .or_default() += by;
}

/// Adds one to the counter `name{labels}`.
pub fn inc(name: &'static str, labels: &[(&str, &str)]) {
    add(name, labels, 1);
}

/// Records `value` in the histogram `name{labels}` with the given bucket bounds.
pub fn observe(name: &'static str, labels: &[(&str, &str)], bounds: &'static [f64], value: f64) {
    let mut registry = registry();
    let h = registry
        .histograms
        .entry((name, label_text(labels)))
        .or_insert_with(|| Histogram {
            bounds,
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        });
    for (i, bound) in h.bounds.iter().enumerate() {
        if value <= *bound {
            h.counts[i] += 1;
        }
    }
    h.sum += value;
    h.count += 1;
}

/// Records a latency in seconds.
pub fn observe_latency(name: &'static str, labels: &[(&str, &str)], elapsed: std::time::Duration) {
    observe(name, labels, &LATENCY_BUCKETS, elapsed.as_secs_f64());
}

/// Counters read at render time rather than counted here (the token cache keeps its own).
#[derive(Debug, Clone, Copy, Default)]
pub struct Snapshot {
    /// Token-cache hits.
    pub token_cache_hits: u64,
    /// Token-cache misses.
    pub token_cache_misses: u64,
}

/// The whole registry in the Prometheus text format (version 0.0.4).
pub fn render(snapshot: Snapshot) -> String {
    let registry = registry();
    let mut out = String::new();
    for (name, kind, help) in FAMILIES {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        match name {
            "sluse_token_cache_hits_total" => {
                let _ = writeln!(out, "{name} {}", snapshot.token_cache_hits);
            }
            "sluse_token_cache_misses_total" => {
                let _ = writeln!(out, "{name} {}", snapshot.token_cache_misses);
            }
            _ => {}
        }
        for ((n, labels), value) in registry.counters.range((name, String::new())..) {
            if *n != name {
                break;
            }
            let _ = writeln!(out, "{name}{labels} {value}");
        }
        for ((n, labels), h) in registry.histograms.range((name, String::new())..) {
            if *n != name {
                break;
            }
            // `le` joins the series' own labels.
            let inner = labels.trim_start_matches('{').trim_end_matches('}');
            let sep = if inner.is_empty() { "" } else { "," };
            for (bound, count) in h.bounds.iter().zip(&h.counts) {
                let _ = writeln!(out, "{name}_bucket{{{inner}{sep}le=\"{bound}\"}} {count}");
            }
            let _ = writeln!(out, "{name}_bucket{{{inner}{sep}le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "{name}_sum{labels} {}", h.sum);
            let _ = writeln!(out, "{name}_count{labels} {}", h.count);
        }
    }
    out
}

/// `GET /metrics`: the registry in the Prometheus text format; no token (API.md §5 Operations).
pub async fn metrics(
    axum::extract::State(state): axum::extract::State<crate::app::AppState>,
) -> impl axum::response::IntoResponse {
    let stats = state.verifier().cache_stats();
    let text = render(Snapshot {
        token_cache_hits: stats.hits,
        token_cache_misses: stats.misses,
    });
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histograms_render_in_the_text_format() {
        inc("sluse_load_shed_total", &[]);
        add("sluse_rate_limited_total", &[("limit", "a\"b\\c\nd")], 2);
        observe("sluse_audit_batch_size", &[], &SIZE_BUCKETS, 3.0);
        let text = render(Snapshot {
            token_cache_hits: 7,
            token_cache_misses: 1,
        });
        assert!(text.contains("# TYPE sluse_audit_batch_size histogram"));
        assert!(text.contains("sluse_rate_limited_total{limit=\"a\\\"b\\\\c\\nd\"} "));
        assert!(text.contains("sluse_audit_batch_size_bucket{le=\"4\"} "));
        assert!(text.contains("sluse_audit_batch_size_bucket{le=\"+Inf\"} "));
        assert!(text.contains("sluse_token_cache_hits_total 7"));
        assert!(
            text.lines()
                .any(|l| l.starts_with("sluse_load_shed_total "))
        );
    }
}
