//! TLS: the gateway serves HTTPS with rustls (TLS 1.2 and 1.3), and with `client_ca` refuses a client
//! without a valid certificate at the handshake. Certificates are made here with rcgen.

use std::path::Path;

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
