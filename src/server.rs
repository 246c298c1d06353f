//! The listener: TLS (rustls, ring) or, for loopback testing only, plain HTTP; graceful shutdown.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use axum::Router;
use axum_server::{Handle, tls_rustls::RustlsConfig};

/// Serves `router` on `listener` until `shutdown` completes, then lets requests in flight finish
/// for up to `grace`.
pub async fn serve(
    listener: std::net::TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        Some(tls) => {
            let handle: Handle<SocketAddr> = Handle::new();
            let on_signal = handle.clone();
            tokio::spawn(async move {
                shutdown.await;
                tracing::info!("shutting down: finishing requests in flight");
                on_signal.graceful_shutdown(Some(grace));
            });
            axum_server::from_tcp_rustls(listener, RustlsConfig::from_config(tls))?
                .handle(handle)
                .serve(service)
                .await
        }
        None => {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
            let signal = async move {
                shutdown.await;
                tracing::info!("shutting down: finishing requests in flight");
                let _ = done_tx.send(());
            };
            let server = axum::serve(listener, service).with_graceful_shutdown(signal);
            // axum's graceful shutdown waits without limit; bound it by the grace period.
            let server = std::pin::pin!(server.into_future());
            tokio::select! {
                result = server => result,
                () = async {
                    let _ = done_rx.await;
                    tokio::time::sleep(grace).await;
                } => {
                    tracing::warn!("grace period over; closing remaining connections");
                    Ok(())
                }
            }
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
