//! TLS: the gateway serves HTTPS with rustls (TLS 1.2 and 1.3 only: a TLS 1.0 or 1.1 client is
//! refused at the handshake), and with `client_ca` refuses a client without a valid certificate at
//! the handshake. Certificates are made here with rcgen.

use std::{path::Path, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

use crate::helpers::{Options, spawn_with};

struct Pki {
    ca_pem: String,
    server_cert: String,
    server_key: String,
    client_pem: String,
    stranger_pem: String,
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn leaf(issuer: &CertifiedIssuer<'static, KeyPair>, names: &[&str]) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn pki() -> Pki {
    let root = ca("Sluse test CA");
    let (server_cert, server_key) = leaf(&root, &["localhost", "127.0.0.1"]);
    let (client_cert, client_key) = leaf(&root, &["client.nordskolen.invalid"]);
    let stranger_ca = ca("Someone else's CA");
    let (stranger_cert, stranger_key) = leaf(&stranger_ca, &["stranger.invalid"]);
    Pki {
        ca_pem: root.pem(),
        server_cert,
        server_key,
        client_pem: format!("{client_cert}{client_key}"),
        stranger_pem: format!("{stranger_cert}{stranger_key}"),
    }
}

fn write_pki(dir: &Path, pki: &Pki) {
    std::fs::write(dir.join("ca.pem"), &pki.ca_pem).unwrap();
    std::fs::write(dir.join("cert.pem"), &pki.server_cert).unwrap();
    std::fs::write(dir.join("key.pem"), &pki.server_key).unwrap();
}

fn client(pki: &Pki, identity: Option<&str>) -> reqwest::ClientBuilder {
    let mut builder = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap()]);
    if let Some(pem) = identity {
        builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    builder
}

async fn spawn_tls(pki: &Pki, mtls: bool) -> (crate::helpers::TestApp, tempfile::TempDir) {
    crate::helpers::init();
    let dir = tempfile::tempdir().unwrap();
    write_pki(dir.path(), pki);
    let mut tls = format!(
        "cert = \"{}\"\nkey = \"{}\"\n",
        dir.path().join("cert.pem").display(),
        dir.path().join("key.pem").display()
    );
    if mtls {
        tls.push_str(&format!(
            "client_ca = \"{}\"\n",
            dir.path().join("ca.pem").display()
        ));
    }
    let app = spawn_with(Options {
        tls_toml: Some(tls),
        ..Options::default()
    })
    .await;
    (app, dir)
}

#[tokio::test]
async fn https_serves_tls_1_2_and_1_3() {
    let pki = pki();
    let (app, _dir) = spawn_tls(&pki, false).await;
    assert!(app.base.starts_with("https://"));
    let url = app.url("/healthz");
    for version in [
        reqwest::tls::Version::TLS_1_2,
        reqwest::tls::Version::TLS_1_3,
    ] {
        let client = client(&pki, None)
            .min_tls_version(version)
            .max_tls_version(version)
            .build()
            .unwrap();
        let response = client.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 200, "{version:?}");
    }
}

#[tokio::test]
async fn mtls_refuses_a_client_without_a_certificate_at_the_handshake() {
    let pki = pki();
    let (app, _dir) = spawn_tls(&pki, true).await;
    let url = app.url("/healthz");
    let anonymous = client(&pki, None).build().unwrap();
    let error = anonymous.get(&url).send().await.unwrap_err();
    assert!(
        error.status().is_none(),
        "refused before any HTTP status: {error}"
    );
}

#[tokio::test]
async fn mtls_refuses_a_certificate_from_another_ca() {
    let pki = pki();
    let (app, _dir) = spawn_tls(&pki, true).await;
    let url = app.url("/healthz");
    let stranger = client(&pki, Some(&pki.stranger_pem)).build().unwrap();
    assert!(stranger.get(&url).send().await.is_err());
}

#[tokio::test]
async fn mtls_accepts_a_client_with_a_certificate_from_the_ca() {
    let pki = pki();
    let (app, _dir) = spawn_tls(&pki, true).await;
    let url = app.url("/healthz");
    let known = client(&pki, Some(&pki.client_pem)).build().unwrap();
    assert_eq!(known.get(&url).send().await.unwrap().status(), 200);
}

/// A ClientHello record as a TLS 1.0/1.1/1.2 client without `supported_versions` sends it: the
/// given `client_version`, ECDHE-ECDSA suites (the test server's key is P-256), x25519 and P-256,
/// and ECDSA signature algorithms. Only the version differs between the hellos this file sends.
fn client_hello(version: [u8; 2]) -> Vec<u8> {
    fn ext(kind: u16, body: &[u8]) -> Vec<u8> {
        let mut out = kind.to_be_bytes().to_vec();
        out.extend(u16::try_from(body.len()).unwrap().to_be_bytes());
        out.extend_from_slice(body);
        out
    }
    let mut extensions = Vec::new();
    extensions.extend(ext(0x000a, &[0, 4, 0x00, 0x1d, 0x00, 0x17])); // supported_groups
    extensions.extend(ext(0x000b, &[1, 0])); // ec_point_formats: uncompressed
    extensions.extend(ext(0x000d, &[0, 4, 0x04, 0x03, 0x08, 0x07])); // signature_algorithms
    extensions.extend(ext(0xff01, &[0])); // renegotiation_info

    let mut hello = version.to_vec();
    hello.extend([7u8; 32]); // random
    hello.push(0); // no session id
    let suites: [u16; 4] = [0xc02b, 0xc009, 0xc00a, 0x00ff]; // …GCM_SHA256, two CBC_SHA, SCSV
    hello.extend(u16::try_from(suites.len() * 2).unwrap().to_be_bytes());
    for suite in suites {
        hello.extend(suite.to_be_bytes());
    }
    hello.extend([1, 0]); // compression: null
    hello.extend(u16::try_from(extensions.len()).unwrap().to_be_bytes());
    hello.extend(extensions);

    let mut handshake = vec![1]; // client_hello
    handshake.extend(&u32::try_from(hello.len()).unwrap().to_be_bytes()[1..]);
    handshake.extend(hello);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend(u16::try_from(handshake.len()).unwrap().to_be_bytes());
    record.extend(handshake);
    record
}

/// Sends a hand-made ClientHello of `version` and returns the first record header and the first
/// byte of its body: `(content type, body[0], body[1])`.
async fn first_answer(addr: &str, version: [u8; 2]) -> (u8, u8, u8) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(&client_hello(version)).await.unwrap();
    let mut head = [0u8; 7];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut head))
        .await
        .expect("the server answers the hello")
        .unwrap();
    (head[0], head[5], head[6])
}

#[tokio::test]
async fn tls_1_0_and_1_1_client_hellos_get_a_protocol_version_alert_and_1_2_a_server_hello() {
    let pki = pki();
    let (app, _dir) = spawn_tls(&pki, false).await;
    let addr = app.base.trim_start_matches("https://").to_owned();
    // The same hello as TLS 1.2 is answered with a ServerHello: the hello itself is sound…
    assert_eq!(
        first_answer(&addr, [3, 3]).await.0,
        0x16,
        "a handshake record"
    );
    assert_eq!(first_answer(&addr, [3, 3]).await.1, 2, "a ServerHello");
    // …and as TLS 1.0 or 1.1 it is refused with a fatal protocol_version alert.
    for (name, version) in [("TLS 1.0", [3, 1]), ("TLS 1.1", [3, 2])] {
        let (kind, level, description) = first_answer(&addr, version).await;
        assert_eq!(
            (kind, level, description),
            (0x15, 2, 70),
            "{name}: an alert record, fatal, protocol_version"
        );
    }
    assert_eq!(
        client(&pki, None)
            .build()
            .unwrap()
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

/// Runs `openssl s_client` with `args` against `addr`; `None` when there is no `openssl`.
fn s_client(addr: &str, args: &[&str]) -> Option<(bool, String)> {
    let output = std::process::Command::new("openssl")
        .args(["s_client", "-connect", addr, "-brief"])
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Some((output.status.success(), text))
}

#[tokio::test]
async fn openssl_s_client_cannot_connect_with_tls_1_0_or_1_1_but_can_with_1_2_and_1_3() {
    let pki = pki();
    let (app, _dir) = spawn_tls(&pki, false).await;
    let addr = app.base.trim_start_matches("https://").to_owned();
    let run = |args: &'static [&'static str]| {
        let addr = addr.clone();
        tokio::task::spawn_blocking(move || s_client(&addr, args))
    };
    let Some((ok, text)) = run(&["-tls1_2"]).await.unwrap() else {
        // The hand-made hellos above cover the refusal where OpenSSL is not installed.
        eprintln!("no `openssl` on PATH; skipping the s_client checks");
        return;
    };
    assert!(ok, "TLS 1.2: {text}");
    let (ok, text) = run(&["-tls1_3"]).await.unwrap().unwrap();
    assert!(ok, "TLS 1.3: {text}");
    // SECLEVEL=0 lets the client itself offer the old versions and their suites.
    for args in [
        &["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"][..],
        &["-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"][..],
    ] {
        let args: &'static [&'static str] = args;
        let (ok, text) = run(args).await.unwrap().unwrap();
        if text.contains("no protocols available") {
            // This OpenSSL build cannot offer the old version at all: nothing to learn here.
            eprintln!("openssl cannot offer {args:?}; skipping");
            continue;
        }
        assert!(!ok, "{args:?} must fail: {text}");
        // The server ends the handshake with a fatal alert (rustls: protocol_version, or
        // handshake_failure when none of the offered suites is a TLS 1.2/1.3 one).
        assert!(
            text.contains("alert protocol version") || text.contains("alert handshake failure"),
            "{args:?}: {text}"
        );
    }
}
