//! The receiver against real clients from Debian packages: swaks, and a
//! private Postfix instance that BCCs every message to the receiver
//! (`always_bcc`).
//!
//! These tests need two environment variables, which `scripts/test.sh`
//! sets after installing the packages: `SENTMAIL_TEST_SWAKS` (the swaks
//! program) and `SENTMAIL_TEST_POSTFIX_INSTANCE` (the script
//! `scripts/postfix-instance.sh`, which needs Postfix and root). Without
//! them the tests fail with a message that names `scripts/test.sh`.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use archive_smtp::SmtpConfig;
use archive_smtp::config::UserEntry;
use support::{Client, TestServer, cheap_hash, config, self_signed, start};
use tokio::process::Command;

const USER: &str = "journal";
const PASSWORD: &str = "s3cret journal password";

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set. These tests drive swaks and Postfix: run scripts/test.sh, \
             which installs them and sets {name}"
        )
    })
}

/// Returns a configuration with a self-signed certificate and one AUTH
/// user.
fn tls_auth_config(dir: &Path) -> SmtpConfig {
    let mut config = config();
    config.tls = Some(self_signed(dir).0);
    config.auth.users = vec![UserEntry {
        name: USER.into(),
        password_hash: cheap_hash(PASSWORD),
    }];
    config
}

/// Writes a message with CRLF line endings, a line starting with a period
/// and 8-bit UTF-8 text, and returns its path and the bytes the server must
/// store. swaks sends the file followed by CRLF and the end marker, so the
/// file has no final line break and the stored message does.
fn message_file(dir: &Path, number: u32) -> (PathBuf, Vec<u8>) {
    let message = format!(
        "From: shop@example.jp\r\nTo: customer{number}@example.com\r\n\
         Subject: swaks {number}\r\nMessage-ID: <swaks-{number}@example.jp>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n\
         ご注文ありがとうございます。\r\n.period at the start\r\nend"
    )
    .into_bytes();
    let path = dir.join(format!("message-{number}.eml"));
    std::fs::write(&path, &message).unwrap();
    let mut stored = message;
    stored.extend_from_slice(b"\r\n");
    (path, stored)
}

/// Runs swaks against `server` with `extra` arguments and returns its
/// output, failing the test when swaks fails.
async fn swaks(server: &TestServer, file: &Path, extra: &[&str]) -> String {
    let output = Command::new(required_env("SENTMAIL_TEST_SWAKS"))
        .args([
            "--server",
            "127.0.0.1",
            "--port",
            &server.addr.port().to_string(),
        ])
        .args(["--from", "shop@example.jp", "--helo", "swaks.test"])
        .args(["--timeout", "30"])
        .arg("--data")
        .arg(format!("@{}", file.display()))
        .args(extra)
        .output()
        .await
        .expect("run swaks");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "swaks failed:\n{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swaks_pipelining() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(config()).await;
    let (file, message) = message_file(dir.path(), 1);
    let output = swaks(
        &server,
        &file,
        &[
            "--to",
            "archive@example.jp,customer1@example.com",
            "--pipeline",
        ],
    )
    .await;
    assert!(output.contains("<-  250 2.0.0 Ok: archived as"), "{output}");

    let stored = server.stored().await;
    assert_eq!(stored.len(), 1);
    let (raw, meta) = &stored[0];
    assert_eq!(
        String::from_utf8_lossy(raw),
        String::from_utf8_lossy(&message)
    );
    assert_eq!(meta.envelope_from.as_deref(), Some("shop@example.jp"));
    assert_eq!(
        meta.envelope_to,
        ["archive@example.jp", "customer1@example.com"]
    );
    assert_eq!(meta.app["smtp.helo"], "swaks.test");
    server.stop().await;
}

async fn swaks_with_auth(mechanism: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = start(tls_auth_config(dir.path())).await;
    let (file, message) = message_file(dir.path(), 2);
    let output = swaks(
        &server,
        &file,
        &[
            "--to",
            "archive@example.jp",
            "--tls",
            "--auth",
            mechanism,
            "--auth-user",
            USER,
            "--auth-password",
            PASSWORD,
            "--pipeline",
        ],
    )
    .await;
    assert!(
        output.contains("235 2.7.0 Authentication successful"),
        "{output}"
    );

    let stored = server.stored().await;
    let (raw, meta) = &stored[0];
    assert_eq!(
        String::from_utf8_lossy(raw),
        String::from_utf8_lossy(&message)
    );
    assert_eq!(meta.app["smtp.auth"], USER);
    assert_eq!(meta.app["smtp.protocol"], "ESMTPSA");
    let tls = &meta.app["smtp.tls"];
    assert!(tls.starts_with("TLSv1."), "{tls}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swaks_starttls_auth_plain() {
    swaks_with_auth("PLAIN").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swaks_starttls_auth_login() {
    swaks_with_auth("LOGIN").await;
}

/// A private Postfix instance, stopped when dropped.
struct Postfix {
    script: String,
    dir: tempfile::TempDir,
    port: u16,
}

impl Postfix {
    async fn start_bcc(receiver_port: u16, bcc: &str) -> Postfix {
        let script = required_env("SENTMAIL_TEST_POSTFIX_INSTANCE");
        let dir = tempfile::tempdir().unwrap();
        let output = Command::new(&script)
            .arg("start")
            .arg(dir.path())
            .args(["bcc", &receiver_port.to_string(), bcc])
            .output()
            .await
            .expect("run postfix-instance.sh");
        assert!(
            output.status.success(),
            "starting Postfix failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let port = String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .unwrap();
        Postfix { script, dir, port }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postfix.log")).unwrap_or_default()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = std::process::Command::new(&self.script)
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postfix_always_bcc_copies() {
    let mut config = config();
    config.accept_recipients = vec!["archive@archive.test".into()];
    let server = start(config).await;
    let postfix = Postfix::start_bcc(server.addr.port(), "archive@archive.test").await;

    let mut client = Client::connect(([127, 0, 0, 1], postfix.port).into()).await;
    assert!(client.reply().await.starts_with("220 postfix.test"));
    assert!(
        client
            .command("EHLO shop.test")
            .await
            .starts_with("250-postfix.test")
    );
    let mut sent = Vec::new();
    for number in 0..5u32 {
        let message = format!(
            "From: shop@shop.test\r\nTo: customer{number}@customer.test\r\n\
             Subject: =?UTF-8?B?5rOo5paH56K66KqN?= {number}\r\nDate: Fri, 04 Dec 2026 19:20:00 +0900\r\n\
             Message-ID: <postfix-{number}@shop.test>\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
             ご注文ありがとうございます。\r\n..two periods\r\n"
        )
        .into_bytes();
        assert_eq!(
            client
                .command("MAIL FROM:<shop@shop.test> BODY=8BITMIME")
                .await,
            "250 2.1.0 Ok"
        );
        let rcpt = format!("RCPT TO:<customer{number}@customer.test>");
        assert_eq!(client.command(&rcpt).await, "250 2.1.5 Ok");
        let reply = client.data(&message).await;
        assert!(reply.starts_with("250 2.0.0 Ok: queued as"), "{reply}");
        sent.push(message);
    }
    assert_eq!(client.command("QUIT").await, "221 2.0.0 Bye");

    // Postfix delivers in the background; wait for the copies, bounded.
    let mut stored = Vec::new();
    for _ in 0..1200 {
        stored = server.stored().await;
        if stored.len() >= sent.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stored.len(), sent.len(), "Postfix log:\n{}", postfix.log());

    for (number, message) in sent.iter().enumerate() {
        let found = server
            .archive
            .find_by_message_id(&format!("<postfix-{number}@shop.test>"))
            .await
            .unwrap();
        assert_eq!(found.len(), 1, "copy of message {number}");
        let raw = server.archive.get_raw(&found[0].id).await.unwrap();
        // Postfix adds its Received: header in front; the rest is unchanged.
        assert!(
            raw.starts_with(b"Received: from shop.test"),
            "message {number}"
        );
        assert!(raw.ends_with(message), "message {number} body unchanged");
        let meta = server.archive.meta(&found[0].id).await.unwrap();
        assert_eq!(meta.envelope_from.as_deref(), Some("shop@shop.test"));
        assert_eq!(meta.envelope_to, ["archive@archive.test"]);
        assert_eq!(meta.app["smtp.helo"], "postfix.test");
        assert_eq!(meta.app["smtp.body"], "8BITMIME");
    }
    drop(postfix);
    server.stop().await;
}
