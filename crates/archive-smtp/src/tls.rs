//! STARTTLS (RFC 3207) with rustls and the `ring` crypto provider.

use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::TlsFiles;

/// The certificate or key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or contains no usable item.
    #[error("reading {what} from {path} failed: {reason}")]
    Pem {
        /// `certificate` or `private key`.
        what: &'static str,
        /// The file.
        path: String,
        /// The cause.
        reason: String,
    },
    /// rustls rejected the certificate and key.
    #[error("the TLS certificate and key cannot be used: {0}")]
    Config(#[from] rustls::Error),
}

/// Loads the certificate chain and key and builds the TLS acceptor.
pub fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, TlsError> {
    let pem_error = |what, reason: String| TlsError::Pem {
        what,
        path: match what {
            "certificate" => files.cert.display().to_string(),
            _ => files.key.display().to_string(),
        },
        reason,
    };
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|error| pem_error("certificate", error.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| pem_error("certificate", error.to_string()))?;
    if certs.is_empty() {
        return Err(pem_error(
            "certificate",
            "no CERTIFICATE block found".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|error| pem_error("private key", error.to_string()))?;

    let config = ServerConfig::builder_with_provider(Arc::new(ring_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

// NOTE: rustls 0.23.48 deprecates `ring::default_provider` because ring
// offers no post-quantum key exchange. The workspace uses ring as its only
// crypto provider, so key exchange is X25519 or ECDHE on NIST curves.
#[allow(deprecated)]
fn ring_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// Describes a finished handshake for the message metadata, such as
/// `TLSv1.3 TLS13_AES_256_GCM_SHA384`.
pub fn describe(connection: &rustls::ServerConnection) -> String {
    let version = connection.protocol_version().map_or_else(
        || "unknown".to_owned(),
        |v| format!("{v:?}").replace('_', "."),
    );
    let suite = connection
        .negotiated_cipher_suite()
        .map_or_else(|| "unknown".to_owned(), |s| format!("{:?}", s.suite()));
    format!("{version} {suite}")
}
