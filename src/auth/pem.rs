//! PEM helpers shared by the key and certificate loaders.

use rustls_pki_types::pem::Error;

/// Encodes DER as one PEM section.
pub(crate) fn to_pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    // Base64 is ASCII, so 64-byte chunks are whole characters.
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

/// A PEM error in words, without echoing the file's content (which may be key material).
pub(crate) fn describe_error(err: Error) -> String {
    match err {
        Error::Io(e) => e.to_string(),
        Error::NoItemsFound => "no PEM section of the expected kind".to_owned(),
        Error::Base64Decode(_) => "invalid base64 in a PEM section".to_owned(),
        Error::MissingSectionEnd { .. } => "a PEM section has no END line".to_owned(),
        Error::IllegalSectionStart { .. } => "malformed PEM BEGIN line".to_owned(),
        _ => "malformed PEM".to_owned(),
    }
}
