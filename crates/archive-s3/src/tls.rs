//! The TLS stack: rustls with the `ring` crypto provider.
//!
//! object_store's HTTP client (reqwest, built without a provider of its
//! own) uses the process-wide default rustls provider, so it must be
//! installed before the first client is built. ARCHITECTURE.md ("TLS")
//! gives the reasons for this choice.

/// Installs rustls' `ring` provider as the process-wide default, unless a
/// default is installed already. Safe to call more than once.
// NOTE: rustls 0.23.48 deprecates `ring::default_provider` because ring
// offers no post-quantum key exchange (X25519MLKEM768); connections use
// classical X25519 or ECDHE. The provider that has it, aws-lc-rs, needs
// aws-lc-sys, which this workspace avoids (ARCHITECTURE.md, "TLS").
#[allow(deprecated)]
pub fn install_default_provider() {
    // Err means another part of the process installed a default first;
    // that one then serves every client, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
