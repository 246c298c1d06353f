//! Operations: Prometheus metrics, rate and concurrency limits, and live reload of the policy
//! bundle and the issuers' key sets (SIGHUP, and a JWKS file that changes).

pub mod healthcheck;
pub mod limits;
pub mod metrics;
pub mod reload;

pub use limits::{ConcurrencyLimit, RateLimits};
