//! Slow and hostile clients: a client that never finishes its headers is cut off, and so is one that
//! never sends a byte or stalls inside the HTTP/2 preface; oversized headers are refused, and many
//! idle connections do not stop service to others (`tools/idle-connections.sh` opens 10 000).

use std::time::Duration;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::helpers::{Options, TestApp, spawn_with};

async fn spawn_hardened() -> TestApp {
    spawn_with(Options {
        server_toml: "header_read_timeout_ms = 300\nmax_header_bytes = 8192".to_owned(),
        ..Options::default()
    })
    .await
}

fn addr(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection (or `limit` passes); returns what it sent.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut buffer = Vec::new();
    match tokio::time::timeout(limit, stream.read_to_end(&mut buffer)).await {
        Ok(_) => Some(String::from_utf8_lossy(&buffer).into_owned()),
        Err(_) => None,
    }
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let app = spawn_hardened().await;
    let mut slow = TcpStream::connect(addr(&app)).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: sluse\r\nX-Slow: ")
        .await
        .unwrap();
    // Meanwhile others are served.
    assert_eq!(app.get("/healthz", None).await.status(), 200);
    let answer = read_until_closed(&mut slow, Duration::from_secs(5)).await;
    let answer = answer.expect("the server closes a connection whose headers never end");
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_client_that_never_sends_a_byte_is_cut_off() {
    let app = spawn_hardened().await;
    let mut silent = TcpStream::connect(addr(&app)).await.unwrap();
    assert_eq!(app.get("/healthz", None).await.status(), 200);
    let answer = read_until_closed(&mut silent, Duration::from_secs(5)).await;
    assert_eq!(
        answer.as_deref(),
        Some(""),
        "the server closes a connection that sends nothing within the header read timeout"
    );
}

#[tokio::test]
async fn a_client_that_stalls_inside_the_http2_preface_is_cut_off() {
    let app = spawn_hardened().await;
    let mut slow = TcpStream::connect(addr(&app)).await.unwrap();
    // 23 of the preface's 24 bytes: the server cannot yet tell HTTP/1 from HTTP/2.
    slow.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r")
        .await
        .unwrap();
    assert_eq!(app.get("/healthz", None).await.status(), 200);
    let answer = read_until_closed(&mut slow, Duration::from_secs(5)).await;
    assert!(answer.is_some(), "the server closes a stalled preface");
}

#[tokio::test]
async fn oversized_headers_are_refused_and_the_server_stays_up() {
    let app = spawn_hardened().await;
    let mut stream = TcpStream::connect(addr(&app)).await.unwrap();
    let request = format!(
        "GET /healthz HTTP/1.1\r\nHost: sluse\r\nX-Big: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    // The server may close while we are still writing; that is a refusal too.
    let _ = stream.write_all(request.as_bytes()).await;
    let answer = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .unwrap_or_default();
    assert!(!answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(app.get("/healthz", None).await.status(), 200);
}

#[tokio::test]
async fn many_idle_connections_do_not_stop_service_to_others() {
    let app = spawn_hardened().await;
    let mut idle = Vec::new();
    for _ in 0..500 {
        idle.push(TcpStream::connect(addr(&app)).await.unwrap());
    }
    for _ in 0..20 {
        assert_eq!(app.get("/healthz", None).await.status(), 200);
    }
    drop(idle);
}
