//! `sluse healthcheck`: one GET to the gateway's `/healthz`, for container HEALTHCHECKs in images
//! without a shell or curl. Exit 0 when the answer is 2xx.

use std::time::Duration;

/// Asks `url` once; `Ok` with a one-line summary on 2xx, else why not. The certificate is not
/// checked (the probe runs next to the gateway, on loopback, against a name it does not use), so
/// this must only ever be pointed at the gateway itself.
pub async fn check(url: &str, timeout: Duration) -> Result<String, String> {
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .danger_accept_invalid_certs(true)
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let status = response.status();
    if status.is_success() {
        Ok(format!("{url}: {status}"))
    } else {
        Err(format!("{url}: {status}"))
    }
}
