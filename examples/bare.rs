//! The baseline for `bench/load.sh`: a bare axum endpoint returning 1 KiB of JSON, over plain HTTP
//! and over TLS (rustls on ring, a self-signed rcgen certificate), on the same stack the gateway
//! uses (axum, axum-server, hyper) but with no middleware, no auth, no database.
//!
//!     cargo run --release --example bare -- --plain 127.0.0.1:18081 --tls 127.0.0.1:18443

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a measuring tool: failing loudly is the point"
)]

use std::{net::SocketAddr, sync::Arc};

use axum::{Router, http::header, response::IntoResponse, routing::get};
use axum_server::tls_rustls::RustlsConfig;
use clap::Parser;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

#[derive(Parser)]
struct Args {
    /// Plain HTTP listen address.
    #[arg(long, default_value = "127.0.0.1:18081")]
    plain: SocketAddr,
    /// TLS listen address.
    #[arg(long, default_value = "127.0.0.1:18443")]
    tls: SocketAddr,
}

/// A JSON object of exactly 1024 bytes.
fn body() -> &'static [u8] {
    let mut json = String::from(r#"{"status":"ok","padding":""#);
    let closing = r#""}"#;
    while json.len() + closing.len() < 1024 {
        json.push('x');
    }
    json.push_str(closing);
    assert_eq!(json.len(), 1024);
    Box::leak(json.into_bytes().into_boxed_slice())
}

#[tokio::main]
async fn main() {
    rustls::crypto::ring::default_provider()
        .install_default()
        .expect("install ring as the rustls provider");
    let args = Args::parse();
    let payload = body();
    let app = Router::new().route(
        "/",
        get(move || async move {
            ([(header::CONTENT_TYPE, "application/json")], payload).into_response()
        }),
    );

    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("self-signed certificate");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()));
    let mut tls = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .expect("server config");
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];

    let plain = axum_server::bind(args.plain).serve(app.clone().into_make_service());
    let secure = axum_server::bind_rustls(args.tls, RustlsConfig::from_config(Arc::new(tls)))
        .serve(app.into_make_service());
    eprintln!("bare: plain http://{} tls https://{}", args.plain, args.tls);
    tokio::select! {
        r = plain => r.expect("plain listener"),
        r = secure => r.expect("TLS listener"),
    }
}
