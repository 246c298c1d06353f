//! The listener: TLS (rustls, ring) or, for loopback testing only, plain HTTP; graceful shutdown.

mod idle;

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use axum::Router;
use axum_server::{Handle, tls_rustls::RustlsConfig};
use hyper_util::{rt::TokioExecutor, server::conn::auto::Builder};
use tower::ServiceExt;

use crate::api::head_limit::hyper_ceiling;

/// Connection hardening: how long a client may take to send its request headers, how large they
/// may be, and how long a connection may sit idle. Slow, bloated or idle clients are cut off without
/// holding a worker or a file descriptor for long.
///
/// hyper's HTTP/1 header timeout starts only once the protocol is known, and the protocol is known
/// only after the first bytes: a connection that sends nothing (or stalls inside the HTTP/2
/// preface) would be held for ever, one file descriptor each. So the same timeout also bounds the
/// time from accept (after the TLS handshake, which axum-server bounds at 10 s) to the first
/// request.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time allowed for the request line and headers (slowloris), and from accept to the first
    /// request.
    pub header_read_timeout: Duration,
    /// Largest request head accepted. The router refuses larger ones with a problem document;
    /// hyper's own limits (HTTP/1 buffer, HTTP/2 header list) are set above it, see
    /// [`hyper_ceiling`].
    pub max_header_bytes: usize,
    /// A connection with no request in flight for this long is closed (HTTP/1 and HTTP/2).
    pub idle_timeout: Duration,
}

/// Serves `router` on `listener` (TLS when `tls` is given) until `shutdown` completes, then lets
/// requests in flight finish for up to `grace`.
pub async fn serve(
    listener: std::net::TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
    limits: Limits,
) -> std::io::Result<()> {
    let idle_timeout = limits.idle_timeout;
    // Each accepted connection's service is wrapped, so that it can tell when it is idle.
    let service = ServiceExt::<SocketAddr>::map_response(
        router.into_make_service_with_connect_info::<SocketAddr>(),
        move |connection| idle::IdleTimeout::new(connection, idle_timeout),
    );
    let handle: Handle<SocketAddr> = Handle::new();
    let on_signal = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: finishing requests in flight");
        on_signal.graceful_shutdown(Some(grace));
    });
    let ceiling = hyper_ceiling(limits.max_header_bytes);
    let harden = |builder: &mut Builder<TokioExecutor>| {
        builder
            .http1()
            .header_read_timeout(limits.header_read_timeout)
            // hyper's minimum.
            .max_buf_size(ceiling.max(8192));
        builder
            .http2()
            .max_header_list_size(u32::try_from(ceiling).unwrap_or(u32::MAX));
    };
    match tls {
        Some(tls) => {
            let mut server =
                axum_server::from_tcp_rustls(listener, RustlsConfig::from_config(tls))?;
            harden(server.http_builder());
            server
                .first_request_timeout(limits.header_read_timeout)
                .handle(handle)
                .serve(service)
                .await
        }
        None => {
            let mut server = axum_server::from_tcp(listener)?;
            harden(server.http_builder());
            server
                .first_request_timeout(limits.header_read_timeout)
                .handle(handle)
                .serve(service)
                .await
        }
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}
