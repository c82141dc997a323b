//! STARTTLS and AUTH: lettre as a real client, and a raw client for the
//! rules that lettre never breaks.

mod support;

use std::sync::Arc;

use archive_smtp::SmtpConfig;
use archive_smtp::config::UserEntry;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rustls::pki_types::pem::PemObject;
use support::{archived_reply, cheap_hash, config, message, self_signed, start};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const USER: &str = "postfix";
const PASSWORD: &str = "correct horse battery staple";

/// A self-signed certificate for `localhost` and a configuration that
/// serves it.
struct TlsSetup {
    config: SmtpConfig,
    cert_pem: String,
    _dir: tempfile::TempDir,
}

fn tls_config() -> TlsSetup {
    let dir = tempfile::tempdir().unwrap();
    let (files, cert_pem) = self_signed(dir.path());
    let mut config = config();
    config.tls = Some(files);
    config.auth.users = vec![UserEntry {
        name: USER.into(),
        password_hash: cheap_hash(PASSWORD),
    }];
    TlsSetup {
        config,
        cert_pem,
        _dir: dir,
    }
}

fn email(subject: &str) -> Message {
    Message::builder()
        .from("Shop <shop@example.jp>".parse().unwrap())
        .to("Customer <customer@example.com>".parse().unwrap())
        .bcc("archive@example.jp".parse().unwrap())
        .subject(subject)
        .message_id(Some(format!("<{subject}@example.jp>")))
        .body(String::from(
            "Thank you for your order.\r\n.leading period\r\nご注文ありがとうございます\r\n",
        ))
        .unwrap()
}

/// Returns the bytes the server must store for `email`: lettre ends the
/// message with CRLF before the end marker when it does not end so.
fn expected_bytes(email: &Message) -> Vec<u8> {
    let mut bytes = email.formatted();
    if !bytes.ends_with(b"\r\n") {
        bytes.extend_from_slice(b"\r\n");
    }
    bytes
}

#[tokio::test]
async fn lettre_plain_delivery() {
    let server = start(config()).await;
    let mailer = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(server.addr.port())
        .build();
    let email = email("lettre-plain");
    let response = mailer.send(email.clone()).await.unwrap();
    assert_eq!(response.code().to_string(), "250");

    let stored = server.stored().await;
    assert_eq!(stored.len(), 1);
    let (raw, meta) = &stored[0];
    assert_eq!(raw.as_ref(), expected_bytes(&email).as_slice());
    assert_eq!(meta.envelope_from.as_deref(), Some("shop@example.jp"));
    assert_eq!(
        meta.envelope_to,
        ["customer@example.com", "archive@example.jp"]
    );
    assert_eq!(meta.app["smtp.tls"], "none");
    server.stop().await;
}

/// Builds a lettre transport that requires STARTTLS, trusts the test
/// certificate and authenticates with `password`.
fn tls_mailer(
    setup: &TlsSetup,
    port: u16,
    password: &str,
    mechanism: Mechanism,
) -> AsyncSmtpTransport<Tokio1Executor> {
    let tls = TlsParameters::builder("localhost".into())
        .add_root_certificate(Certificate::from_pem(setup.cert_pem.as_bytes()).unwrap())
        .build_rustls()
        .unwrap();
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(port)
        .tls(Tls::Required(tls))
        .credentials(Credentials::new(USER.into(), password.into()))
        .authentication(vec![mechanism])
        .build()
}

async fn lettre_with_auth(mechanism: Mechanism) {
    let setup = tls_config();
    let server = start(setup.config.clone()).await;
    let mailer = tls_mailer(&setup, server.addr.port(), PASSWORD, mechanism);
    let email = email(&format!("lettre-{mechanism}"));
    mailer.send(email.clone()).await.unwrap();

    let stored = server.stored().await;
    let (raw, meta) = &stored[0];
    assert_eq!(raw.as_ref(), expected_bytes(&email).as_slice());
    assert_eq!(meta.app["smtp.auth"], USER);
    assert_eq!(meta.app["smtp.protocol"], "ESMTPSA");
    let tls = &meta.app["smtp.tls"];
    assert!(tls.starts_with("TLSv1.3 TLS13_"), "{tls}");
    server.stop().await;
}

#[tokio::test]
async fn lettre_starttls_auth_plain() {
    lettre_with_auth(Mechanism::Plain).await;
}

#[tokio::test]
async fn lettre_starttls_auth_login() {
    lettre_with_auth(Mechanism::Login).await;
}

#[tokio::test]
async fn lettre_wrong_password_rejected() {
    let setup = tls_config();
    let server = start(setup.config.clone()).await;
    let mailer = tls_mailer(&setup, server.addr.port(), "wrong", Mechanism::Plain);
    let error = mailer.send(email("wrong-password")).await.unwrap_err();
    assert!(error.is_permanent(), "{error}");
    assert!(
        error
            .to_string()
            .contains("Authentication credentials invalid"),
        "{error}"
    );
    assert!(server.stored().await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn auth_needs_tls_by_default() {
    let setup = tls_config();
    let server = start(setup.config.clone()).await;
    let mut client = server.client().await;
    let ehlo = client.command("EHLO client.test").await;
    assert!(ehlo.ends_with("250-CHUNKING / 250 STARTTLS"), "{ehlo}");
    assert_eq!(
        client.command("AUTH PLAIN AHBvc3RmaXgAcGFzcw==").await,
        "538 5.7.11 Encryption required for requested authentication mechanism; use STARTTLS"
    );
    server.stop().await;
}

fn plaintext_auth_config() -> SmtpConfig {
    let mut config = config();
    config.auth.allow_without_tls = true;
    config.auth.users = vec![UserEntry {
        name: USER.into(),
        password_hash: cheap_hash(PASSWORD),
    }];
    config
}

fn base64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[tokio::test]
async fn auth_plain_without_tls_when_allowed() {
    let server = start(plaintext_auth_config()).await;
    let mut client = server.client().await;
    let ehlo = client.command("EHLO client.test").await;
    assert!(ehlo.ends_with("250 AUTH PLAIN LOGIN"), "{ehlo}");
    let wrong = base64(&format!("\0{USER}\0wrong"));
    assert_eq!(
        client.command(&format!("AUTH PLAIN {wrong}")).await,
        "535 5.7.8 Authentication credentials invalid"
    );
    // PLAIN without an initial response: the server sends an empty challenge.
    assert_eq!(client.command("AUTH PLAIN").await, "334");
    let right = base64(&format!("\0{USER}\0{PASSWORD}"));
    assert_eq!(
        client.command(&right).await,
        "235 2.7.0 Authentication successful"
    );
    client.command("MAIL FROM:<shop@example.jp>").await;
    client.command("RCPT TO:<archive@example.jp>").await;
    let sent = message(1);
    assert_eq!(client.data(&sent).await, archived_reply(&sent));
    let meta = &server.stored().await[0].1;
    assert_eq!(meta.app["smtp.auth"], USER);
    assert_eq!(meta.app["smtp.protocol"], "ESMTPA");
    server.stop().await;
}

#[tokio::test]
async fn auth_login_exchange() {
    let server = start(plaintext_auth_config()).await;
    let mut client = server.client().await;
    client.command("EHLO client.test").await;
    assert_eq!(client.command("AUTH LOGIN").await, "334 VXNlcm5hbWU6");
    assert_eq!(client.command(&base64(USER)).await, "334 UGFzc3dvcmQ6");
    assert_eq!(
        client.command(&base64(PASSWORD)).await,
        "235 2.7.0 Authentication successful"
    );
    assert_eq!(
        client.command("AUTH LOGIN").await,
        "503 5.5.1 Already authenticated"
    );
    server.stop().await;
}

#[tokio::test]
async fn auth_cancel_and_failures() {
    let server = start(plaintext_auth_config()).await;
    let mut client = server.client().await;
    client.command("EHLO client.test").await;
    assert_eq!(client.command("AUTH LOGIN").await, "334 VXNlcm5hbWU6");
    assert_eq!(
        client.command("*").await,
        "501 5.7.0 Authentication cancelled"
    );
    assert_eq!(
        client.command("AUTH PLAIN !!!").await,
        "501 5.5.2 Malformed authentication response: not valid base64"
    );
    let wrong = base64(&format!("\0{USER}\0wrong"));
    for _ in 0..2 {
        assert_eq!(
            client.command(&format!("AUTH PLAIN {wrong}")).await,
            "535 5.7.8 Authentication credentials invalid"
        );
    }
    assert_eq!(
        client.command(&format!("AUTH PLAIN {wrong}")).await,
        "421 4.7.0 Too many failed authentication attempts; closing connection"
    );
    assert!(client.read_to_end().await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn auth_required_before_mail() {
    let mut config = plaintext_auth_config();
    config.auth.required = true;
    let server = start(config).await;
    let mut client = server.client().await;
    client.command("EHLO client.test").await;
    assert_eq!(
        client.command("MAIL FROM:<shop@example.jp>").await,
        "530 5.7.0 Authentication required"
    );
    server.stop().await;
}

#[tokio::test]
async fn starttls_discards_pipelined_commands() {
    let setup = tls_config();
    let server = start(setup.config.clone()).await;
    let mut client = server.client().await;
    client.command("EHLO client.test").await;
    // A command injected after STARTTLS in the same packet must not get a
    // reply inside the TLS session.
    client.send(b"STARTTLS\r\nNOOP\r\n").await;
    assert_eq!(client.reply().await, "220 2.0.0 Ready to start TLS");

    let mut roots = rustls::RootCertStore::empty();
    let cert = rustls::pki_types::CertificateDer::from_pem_slice(setup.cert_pem.as_bytes());
    roots.add(cert.unwrap()).unwrap();
    let provider = Arc::new(ring_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let stream = connector.connect(name, client.into_inner()).await.unwrap();
    let mut stream = BufReader::new(stream);

    stream.write_all(b"EHLO client.test\r\n").await.unwrap();
    let mut first = String::new();
    stream.read_line(&mut first).await.unwrap();
    assert_eq!(first, "250-archive.test greets client.test\r\n");
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).await.unwrap();
        let last = line.as_bytes()[3] == b' ';
        lines.push(line.trim_end().to_owned());
        if last {
            break;
        }
    }
    assert_eq!(lines.last().unwrap(), "250 AUTH PLAIN LOGIN");
    assert!(!lines.iter().any(|line| line.contains("STARTTLS")));
    server.stop().await;
}

#[allow(deprecated)]
fn ring_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}
