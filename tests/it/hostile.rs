//! Slow and hostile clients: a client that never finishes its headers is cut off, and so is one that
//! never sends a byte or stalls inside the HTTP/2 preface; oversized headers are refused with a
//! problem document; a connection left idle after a request is closed; and many idle connections do
//! not stop service to others (`tools/idle-connections.sh` opens 10 000).

use std::{
    convert::Infallible,
    time::{Duration, Instant},
};

use axum::body::Bytes;
use http_body_util::{BodyExt, Empty, StreamBody, combinators::BoxBody};
use hyper::{
    Request,
    body::Frame,
    client::conn::{http1, http2},
};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    task::JoinHandle,
};

use crate::helpers::{Options, TestApp, spawn_app, spawn_with};

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
async fn headers_beyond_hypers_ceiling_are_refused_and_the_server_stays_up() {
    let app = spawn_hardened().await;
    let mut stream = TcpStream::connect(addr(&app)).await.unwrap();
    // Eight times `max_header_bytes`: beyond the twice that hyper buffers, so hyper refuses it.
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

/// The protocol of a [`Client`] connection.
#[derive(Debug, Clone, Copy)]
enum Version {
    Http1,
    /// HTTP/2 with prior knowledge (h2c), as the auto-detecting listener allows.
    Http2,
}

type TestBody = BoxBody<Bytes, Infallible>;

enum Sender {
    Http1(http1::SendRequest<TestBody>),
    Http2(http2::SendRequest<TestBody>),
}

/// One connection to the gateway, driven by hyper's client, so that a test sees when the server
/// closes it.
struct Client {
    base: String,
    sender: Sender,
    /// Completes when the connection is closed.
    closed: JoinHandle<()>,
}

impl Client {
    async fn connect(app: &TestApp, version: Version) -> Client {
        let io = TokioIo::new(TcpStream::connect(addr(app)).await.unwrap());
        let (sender, closed) = match version {
            Version::Http1 => {
                let (sender, conn) = http1::handshake(io).await.unwrap();
                let closed = tokio::spawn(async move {
                    let _ = conn.await;
                });
                (Sender::Http1(sender), closed)
            }
            Version::Http2 => {
                let (sender, conn) = http2::handshake(TokioExecutor::new(), io).await.unwrap();
                let closed = tokio::spawn(async move {
                    let _ = conn.await;
                });
                (Sender::Http2(sender), closed)
            }
        };
        Client {
            base: app.base.clone(),
            sender,
            closed,
        }
    }

    /// Sends `request` (its URI a path) and reads the whole answer: status, content type, body.
    async fn send(
        &mut self,
        request: hyper::http::request::Builder,
        body: TestBody,
    ) -> (u16, String, Bytes) {
        let path = request.uri_ref().unwrap().to_string();
        let request = request
            .uri(format!("{}{path}", self.base))
            .body(body)
            .unwrap();
        let response = match &mut self.sender {
            Sender::Http1(sender) => {
                sender.ready().await.unwrap();
                sender.send_request(request).await.unwrap()
            }
            Sender::Http2(sender) => {
                sender.ready().await.unwrap();
                sender.send_request(request).await.unwrap()
            }
        };
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, content_type, body)
    }

    async fn get(&mut self, path: &str) -> u16 {
        self.send(Request::get(path), empty()).await.0
    }

    /// Waits up to `limit` for the server to close the connection; returns how long that took.
    async fn closed_within(self, limit: Duration) -> Option<Duration> {
        let start = Instant::now();
        tokio::time::timeout(limit, self.closed)
            .await
            .ok()?
            .unwrap();
        Some(start.elapsed())
    }
}

fn empty() -> TestBody {
    Empty::new().boxed()
}

/// A request body that arrives in `pieces`, one every `every`.
fn trickle(pieces: Vec<Vec<u8>>, every: Duration) -> TestBody {
    let stream = futures_util::stream::unfold(pieces.into_iter(), move |mut rest| async move {
        let piece = rest.next()?;
        tokio::time::sleep(every).await;
        Some((Ok(Frame::data(Bytes::from(piece))), rest))
    });
    StreamBody::new(stream).boxed()
}

async fn spawn_with_idle_timeout() -> TestApp {
    spawn_with(Options {
        // The header read timeout, which also ends an idle HTTP/1.1 connection, is far longer:
        // what closes the connections here is the idle timeout.
        server_toml: "idle_timeout_ms = 400\nheader_read_timeout_ms = 20000".to_owned(),
        ..Options::default()
    })
    .await
}

#[tokio::test]
async fn a_connection_idle_after_a_request_is_closed_after_the_idle_timeout() {
    let app = spawn_with_idle_timeout().await;
    for version in [Version::Http1, Version::Http2] {
        let mut client = Client::connect(&app, version).await;
        assert_eq!(client.get("/healthz").await, 200, "{version:?}");
        assert_eq!(client.get("/healthz").await, 200, "{version:?}");
        let idle = client
            .closed_within(Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("{version:?}: an idle connection is never closed"));
        assert!(
            idle >= Duration::from_millis(350),
            "{version:?}: closed after {idle:?} of idleness, before the timeout"
        );
    }
}

#[tokio::test]
async fn a_request_in_flight_is_not_cut_by_the_idle_timeout() {
    let app = spawn_with_idle_timeout().await;
    let token = app.token("anna.kui", "youth-unit", "caseworker");
    let body = br#"{"subject": "020206-4121"}"#;
    for version in [Version::Http1, Version::Http2] {
        let mut client = Client::connect(&app, version).await;
        // A body that takes about four idle timeouts to arrive.
        let pieces = body.chunks(3).map(<[u8]>::to_vec).collect::<Vec<_>>();
        assert!(pieces.len() >= 8);
        let started = Instant::now();
        let (status, _, answer) = client
            .send(
                Request::post("/v1/assignments/query")
                    .header("authorization", format!("Bearer {token}"))
                    .header("content-type", "application/json"),
                trickle(pieces, Duration::from_millis(200)),
            )
            .await;
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(1600), "{version:?}: {took:?}");
        assert_eq!(status, 200, "{version:?}: {answer:?}");
        let answer: Value = serde_json::from_slice(&answer).unwrap();
        assert!(answer["assignments"].is_array(), "{version:?}: {answer}");
        // Idle once the answer is out, and closed for that.
        assert!(
            client
                .closed_within(Duration::from_secs(10))
                .await
                .is_some(),
            "{version:?}"
        );
    }
}

#[tokio::test]
async fn an_oversized_token_gets_a_problem_that_does_not_echo_it() {
    // The default limit of 64 KiB, and an 80 KiB token.
    let app = spawn_app().await;
    let token = format!("{}{}", "eyJhbGciOiJFZERTQSJ9.", "x".repeat(80 * 1024));
    for version in [Version::Http1, Version::Http2] {
        let mut client = Client::connect(&app, version).await;
        let (status, content_type, body) = client
            .send(
                Request::get("/v1/me").header("authorization", format!("Bearer {token}")),
                empty(),
            )
            .await;
        assert_eq!(status, 431, "{version:?}");
        assert_eq!(content_type, "application/problem+json", "{version:?}");
        let problem: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(problem["code"], "request_header_too_large", "{problem}");
        assert_eq!(problem["field"], "authorization", "{problem}");
        assert_eq!(problem["max_header_bytes"], 65536, "{problem}");
        assert!(
            problem["size_bytes"].as_u64().unwrap() > 80 * 1024,
            "{problem}"
        );
        let text = String::from_utf8_lossy(&body);
        assert!(
            !text.contains("eyJhbGciOiJFZERTQSJ9") && !text.contains("xxxx"),
            "{text}"
        );
        // The connection still serves.
        assert_eq!(client.get("/healthz").await, 200, "{version:?}");
    }
}

#[tokio::test]
async fn many_headers_over_the_limit_together_get_a_problem() {
    let app = spawn_app().await;
    for version in [Version::Http1, Version::Http2] {
        let mut client = Client::connect(&app, version).await;
        // 40 fields of 2 KiB: each harmless, together 80 KiB.
        let mut request = Request::get("/healthz");
        for i in 0..40 {
            request = request.header(format!("x-filler-{i}"), "v".repeat(2048));
        }
        let (status, content_type, body) = client.send(request, empty()).await;
        assert_eq!(status, 431, "{version:?}");
        assert_eq!(content_type, "application/problem+json", "{version:?}");
        let problem: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(problem["code"], "request_header_too_large", "{problem}");
        assert!(
            problem["field"].as_str().unwrap().starts_with("x-filler-"),
            "{problem}"
        );
        assert!(!String::from_utf8_lossy(&body).contains("vvvv"));
        // Just under the limit is fine.
        let mut request = Request::get("/healthz");
        for i in 0..30 {
            request = request.header(format!("x-filler-{i}"), "v".repeat(2048));
        }
        assert_eq!(client.send(request, empty()).await.0, 200, "{version:?}");
    }
}
