//! The HTTPS server's rustls configuration: ring, TLS 1.2 and 1.3, ALPN `h2` and `http/1.1`, and
//! optionally mTLS with a required client certificate (API.md §1, `[server.tls]`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::pem::describe_error;

/// ALPN protocols in order of preference. axum-server's `RustlsConfig::from_config` does not set
/// them, and without `h2` here clients fall back to HTTP/1.1.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// A TLS file that could not be used. Each names the file; none echoes its content.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate chain file is unreadable or holds no certificate.
    #[error("certificate file `{}`: {problem}", path.display())]
    Certificate {
        /// The certificate file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The private key file is unreadable or holds no private key.
    #[error("private key file `{}`: {problem}", path.display())]
    PrivateKey {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The client CA file is unreadable, holds no certificate, or one rustls refuses.
    #[error("client CA file `{}`: {problem}", path.display())]
    ClientCa {
        /// The CA file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// rustls refused the certificate and key together (e.g. the key does not match).
    #[error("certificate `{}` with key `{}`: {source}", cert.display(), key.display())]
    CertifiedKey {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls' reason.
        #[source]
        source: rustls::Error,
    },
}

/// Builds the server configuration from PEM files. With `client_ca`, every client must present a
/// certificate that chains to one of the CA file's certificates.
pub fn server_config(
    cert_pem: &Path,
    key_pem: &Path,
    client_ca: Option<&Path>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let certificates = read_certificates(cert_pem).map_err(|problem| TlsError::Certificate {
        path: cert_pem.to_owned(),
        problem,
    })?;
    let key = PrivateKeyDer::from_pem_file(key_pem).map_err(|e| TlsError::PrivateKey {
        path: key_pem.to_owned(),
        problem: match e {
            rustls_pki_types::pem::Error::NoItemsFound => {
                "no private key (PKCS#8, PKCS#1 or SEC1) in PEM".to_owned()
            }
            other => describe_error(other),
        },
    })?;

    // The provider is passed explicitly rather than taken from the process default, so this
    // configuration is on ring whatever else is compiled in or installed.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|source| TlsError::CertifiedKey {
            cert: cert_pem.to_owned(),
            key: key_pem.to_owned(),
            source,
        })?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca_path) => {
            let ca_error = |problem: String| TlsError::ClientCa {
                path: ca_path.to_owned(),
                problem,
            };
            let mut roots = RootCertStore::empty();
            for (index, ca) in read_certificates(ca_path)
                .map_err(ca_error)?
                .into_iter()
                .enumerate()
            {
                roots
                    .add(ca)
                    .map_err(|e| ca_error(format!("certificate {index}: {e}")))?;
            }
            // `build()` without `allow_unauthenticated()`: a client without a certificate is refused.
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| ca_error(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(certificates, key)
        .map_err(|source| TlsError::CertifiedKey {
            cert: cert_pem.to_owned(),
            key: key_pem.to_owned(),
            source,
        })?;
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// Every certificate in a PEM file; at least one.
fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(describe_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(describe_error)?;
    if certificates.is_empty() {
        return Err("no certificate in PEM".to_owned());
    }
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    use rustls::{ClientConfig, ClientConnection, ServerConnection};

    use super::*;

    /// A throw-away CA with a server and a client certificate, written as PEM files.
    struct Pki {
        dir: tempfile::TempDir,
        ca_pem: String,
        client_cert: CertificateDer<'static>,
        client_key: PrivateKeyDer<'static>,
    }

    impl Pki {
        fn new() -> Pki {
            let dir = tempfile::tempdir().unwrap();
            let ca_key = KeyPair::generate().unwrap();
            let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
            ca_params
                .distinguished_name
                .push(DnType::CommonName, "Sluse test CA");
            ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            let ca_cert = ca_params.self_signed(&ca_key).unwrap();
            let ca = Issuer::new(ca_params, ca_key);

            let server_key = KeyPair::generate().unwrap();
            let server_cert = CertificateParams::new(vec!["localhost".to_owned()])
                .unwrap()
                .signed_by(&server_key, &ca)
                .unwrap();
            fs::write(
                dir.path().join("cert.pem"),
                server_cert.pem() + &ca_cert.pem(),
            )
            .unwrap();
            fs::write(dir.path().join("key.pem"), server_key.serialize_pem()).unwrap();
            fs::write(dir.path().join("ca.pem"), ca_cert.pem()).unwrap();

            let client_key = KeyPair::generate().unwrap();
            let mut client_params = CertificateParams::new(Vec::<String>::new()).unwrap();
            client_params
                .distinguished_name
                .push(DnType::CommonName, "school-system");
            let client_cert = client_params.signed_by(&client_key, &ca).unwrap();
            Pki {
                dir,
                ca_pem: ca_cert.pem(),
                client_cert: client_cert.der().clone(),
                client_key: PrivateKeyDer::try_from(client_key.serialize_der()).unwrap(),
            }
        }

        fn path(&self, name: &str) -> PathBuf {
            self.dir.path().join(name)
        }

        fn server(&self, client_ca: bool) -> Arc<ServerConfig> {
            let ca = self.path("ca.pem");
            server_config(
                &self.path("cert.pem"),
                &self.path("key.pem"),
                client_ca.then_some(ca.as_path()),
            )
            .unwrap()
        }

        /// A client trusting this CA, presenting the client certificate of `identity` if given.
        fn client(
            &self,
            version: &'static rustls::SupportedProtocolVersion,
            identity: Option<&Pki>,
        ) -> ClientConfig {
            let mut roots = RootCertStore::empty();
            roots
                .add(CertificateDer::from_pem_slice(self.ca_pem.as_bytes()).unwrap())
                .unwrap();
            let builder = ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_protocol_versions(&[version])
            .unwrap()
            .with_root_certificates(roots);
            let mut config = match identity {
                Some(pki) => builder
                    .with_client_auth_cert(
                        vec![pki.client_cert.clone()],
                        pki.client_key.clone_key(),
                    )
                    .unwrap(),
                None => builder.with_no_client_auth(),
            };
            config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            config
        }
    }

    /// Runs a handshake in memory; `Err` with the first side's error.
    fn handshake(
        server: Arc<ServerConfig>,
        client: ClientConfig,
    ) -> Result<ServerConnection, rustls::Error> {
        let mut server = ServerConnection::new(server)?;
        let mut client = ClientConnection::new(Arc::new(client), "localhost".try_into().unwrap())?;
        for _ in 0..10 {
            let mut buffer = Vec::new();
            while client.wants_write() {
                client.write_tls(&mut buffer).unwrap();
            }
            let mut incoming = buffer.as_slice();
            while !incoming.is_empty() {
                server.read_tls(&mut incoming).unwrap();
                server.process_new_packets()?;
            }
            let mut buffer = Vec::new();
            while server.wants_write() {
                server.write_tls(&mut buffer).unwrap();
            }
            let mut incoming = buffer.as_slice();
            while !incoming.is_empty() {
                client.read_tls(&mut incoming).unwrap();
                client.process_new_packets()?;
            }
            if !client.is_handshaking() && !server.is_handshaking() {
                return Ok(server);
            }
        }
        Err(rustls::Error::General("handshake made no progress".into()))
    }

    #[test]
    fn the_server_speaks_tls_1_3_and_1_2_and_offers_h2() {
        let pki = Pki::new();
        let config = pki.server(false);
        assert_eq!(
            config.alpn_protocols,
            [b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
            let server = handshake(Arc::clone(&config), pki.client(version, None)).unwrap();
            assert_eq!(server.protocol_version(), Some(version.version));
            assert_eq!(server.alpn_protocol(), Some(&b"h2"[..]));
        }
    }

    #[test]
    fn mtls_requires_a_client_certificate_from_the_ca() {
        let pki = Pki::new();
        let config = pki.server(true);
        for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
            let server = handshake(Arc::clone(&config), pki.client(version, Some(&pki))).unwrap();
            assert_eq!(server.peer_certificates().map(<[_]>::len), Some(1));
            let refused = handshake(Arc::clone(&config), pki.client(version, None)).map(|_| ());
            assert_eq!(refused, Err(rustls::Error::NoCertificatesPresented));
        }
        // A certificate from another CA is refused too.
        let stranger = Pki::new();
        let refused =
            handshake(config, pki.client(&rustls::version::TLS13, Some(&stranger))).map(|_| ());
        // Same CA name, other key: webpki finds the "issuer" by name and the signature fails.
        assert!(
            matches!(refused, Err(rustls::Error::InvalidCertificate(_))),
            "{refused:?}"
        );
    }

    #[test]
    fn errors_name_the_file_and_the_problem() {
        let pki = Pki::new();
        let missing = pki.path("missing.pem");
        let err = server_config(&missing, &pki.path("key.pem"), None).unwrap_err();
        assert!(matches!(err, TlsError::Certificate { .. }));
        assert!(err.to_string().contains("missing.pem"), "{err}");

        // A certificate file given as the key: no key in it.
        let err = server_config(&pki.path("cert.pem"), &pki.path("cert.pem"), None).unwrap_err();
        assert!(matches!(err, TlsError::PrivateKey { .. }), "{err}");
        assert!(err.to_string().contains("no private key"), "{err}");

        // A key file given as the certificate: no certificate in it, and no key material echoed.
        let key_text = fs::read_to_string(pki.path("key.pem")).unwrap();
        let err = server_config(&pki.path("key.pem"), &pki.path("key.pem"), None).unwrap_err();
        assert!(err.to_string().contains("no certificate"), "{err}");
        for line in key_text.lines().filter(|l| !l.starts_with("-----")) {
            assert!(!err.to_string().contains(line));
        }

        let err =
            server_config(&pki.path("cert.pem"), &pki.path("key.pem"), Some(&missing)).unwrap_err();
        assert!(matches!(err, TlsError::ClientCa { .. }), "{err}");
        assert!(err.to_string().contains("missing.pem"), "{err}");
    }

    #[test]
    fn a_key_that_does_not_match_the_certificate_is_refused() {
        let pki = Pki::new();
        let other = Pki::new();
        let err = server_config(&pki.path("cert.pem"), &other.path("key.pem"), None).unwrap_err();
        assert!(matches!(err, TlsError::CertifiedKey { .. }), "{err}");
    }
}
