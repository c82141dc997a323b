//! Helpers shared by the integration tests: a server on a loopback port
//! chosen by the kernel, over an archive in memory, and a raw SMTP client.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use archive_core::{Archive, MemoryStorage, RecordMeta, Storage};
use archive_smtp::{Server, SmtpConfig};
use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Hang guard for a reply that never comes; not a timing assertion.
pub const REPLY_GUARD: Duration = Duration::from_secs(30);

/// Returns a configuration for tests: port 0 on loopback, a fixed host
/// name.
pub fn config() -> SmtpConfig {
    SmtpConfig {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        hostname: "archive.test".into(),
        ..SmtpConfig::default()
    }
}

/// A running server and its archive.
pub struct TestServer {
    pub addr: SocketAddr,
    pub archive: Archive,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

/// Opens an archive on `storage` with its journal in `dir`.
pub async fn open_archive(storage: Arc<dyn Storage>, dir: &std::path::Path) -> Archive {
    Archive::builder(storage, dir.join("journal"))
        .open()
        .await
        .expect("open archive")
}

/// Starts a server with `config` over a new in-memory archive.
pub async fn start(config: SmtpConfig) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let archive = open_archive(Arc::new(MemoryStorage::new()), dir.path()).await;
    start_with(config, archive, dir).await
}

/// Starts a server with `config` over `archive`; `dir` is kept until the
/// server is dropped.
pub async fn start_with(
    config: SmtpConfig,
    archive: Archive,
    dir: tempfile::TempDir,
) -> TestServer {
    let server = Server::bind(&config, archive.clone()).await.expect("bind");
    let addr = server.local_addrs()[0];
    let (shutdown, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    TestServer {
        addr,
        archive,
        shutdown: Some(shutdown),
        task: Some(task),
        _dir: dir,
    }
}

impl TestServer {
    /// Starts a graceful shutdown and returns the task that ends with it.
    pub fn begin_shutdown(&mut self) -> JoinHandle<()> {
        let _ = self.shutdown.take().expect("not shut down yet").send(());
        self.task.take().expect("running")
    }

    /// Shuts the server down and waits until it has stopped.
    pub async fn stop(mut self) {
        let task = self.begin_shutdown();
        tokio::time::timeout(REPLY_GUARD, task)
            .await
            .expect("server stops")
            .unwrap();
    }

    /// Returns every stored message with its metadata, oldest first.
    pub async fn stored(&self) -> Vec<(Bytes, RecordMeta)> {
        let mut entries = self.archive.entries().await.unwrap();
        entries.sort_by_key(|entry| entry.recorded_at);
        let mut stored = Vec::new();
        for entry in entries {
            let raw = self.archive.get_raw(&entry.id).await.unwrap();
            let meta = self.archive.meta(&entry.id).await.unwrap();
            stored.push((raw, meta));
        }
        stored
    }

    /// Connects a raw client and checks the greeting.
    pub async fn client(&self) -> Client {
        let mut client = Client::connect(self.addr).await;
        assert_eq!(
            client.reply().await,
            "220 archive.test ESMTP sentmail archive"
        );
        client
    }
}

/// A raw SMTP client that sends bytes and reads whole replies.
pub struct Client {
    stream: BufReader<TcpStream>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).await.expect("connect");
        Client {
            stream: BufReader::new(stream),
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.get_mut().write_all(bytes).await.expect("send");
    }

    /// Reads one reply; the lines of a multi-line reply are joined with
    /// " / ", as `Reply`'s `Display` does.
    pub async fn reply(&mut self) -> String {
        tokio::time::timeout(REPLY_GUARD, self.read_reply())
            .await
            .expect("a reply within the hang guard")
    }

    /// Reads one reply without the hang guard, for tests that pause time
    /// (where the guard's timer would fire before the server's).
    pub async fn read_reply_unguarded(&mut self) -> String {
        self.read_reply().await
    }

    async fn read_reply(&mut self) -> String {
        let mut lines = Vec::new();
        loop {
            let mut line = Vec::new();
            let read = self
                .stream
                .read_until(b'\n', &mut line)
                .await
                .expect("read reply");
            assert!(read > 0, "connection closed after {lines:?}");
            let line = String::from_utf8(line).expect("reply is UTF-8");
            assert!(line.ends_with("\r\n"), "reply line without CRLF: {line:?}");
            let line = line.trim_end().to_owned();
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last {
                return lines.join(" / ");
            }
        }
    }

    /// Sends one command line and returns its reply.
    pub async fn command(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes()).await;
        self.reply().await
    }

    /// Returns the TCP stream, for a TLS handshake. Unread input is lost.
    pub fn into_inner(self) -> TcpStream {
        self.stream.into_inner()
    }

    /// Reads until the server closes the connection and returns what came.
    pub async fn read_to_end(&mut self) -> Vec<u8> {
        let mut rest = Vec::new();
        tokio::time::timeout(REPLY_GUARD, self.stream.read_to_end(&mut rest))
            .await
            .expect("the server closes within the hang guard")
            .expect("read to end");
        rest
    }

    /// Runs EHLO, MAIL and RCPT for each recipient, checking each reply.
    pub async fn envelope(&mut self, from: &str, to: &[&str]) {
        let ehlo = self.command("EHLO client.test").await;
        assert!(
            ehlo.starts_with("250-archive.test greets client.test"),
            "{ehlo}"
        );
        assert_eq!(
            self.command(&format!("MAIL FROM:<{from}>")).await,
            "250 2.1.0 Ok"
        );
        for to in to {
            assert_eq!(
                self.command(&format!("RCPT TO:<{to}>")).await,
                "250 2.1.5 Ok"
            );
        }
    }

    /// Sends DATA, the dot-stuffed message and the end marker; returns
    /// the final reply.
    pub async fn data(&mut self, message: &[u8]) -> String {
        assert_eq!(
            self.command("DATA").await,
            "354 End data with <CR><LF>.<CR><LF>"
        );
        self.send(&archive_smtp::protocol::dot_stuff(message)).await;
        self.reply().await
    }
}

/// Returns the reply to an archived message, whose archive id is the
/// SHA-256 of its bytes.
pub fn archived_reply(message: &[u8]) -> String {
    format!(
        "250 2.0.0 Ok: archived as {}",
        archive_core::ArchiveId::of(message)
    )
}

/// Returns a small message with a Message-ID.
pub fn message(number: u32) -> Vec<u8> {
    format!(
        "From: shop@example.jp\r\nTo: customer{number}@example.com\r\n\
         Subject: order {number}\r\nDate: Fri, 04 Dec 2026 19:20:00 +0900\r\n\
         Message-ID: <order-{number}@example.jp>\r\n\r\nThank you for order {number}.\r\n"
    )
    .into_bytes()
}

/// Hashes `password` with cheap argon2 parameters, so debug builds stay
/// fast.
pub fn cheap_hash(password: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};

    let params = argon2::Params::new(8, 1, 1, None).unwrap();
    let hasher = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::generate(&mut OsRng);
    hasher
        .hash_password(password.as_bytes(), &salt)
        .unwrap()
        .to_string()
}

/// Writes a self-signed certificate for `localhost` and its key to `dir`
/// and returns the files and the certificate in PEM.
pub fn self_signed(dir: &std::path::Path) -> (archive_smtp::config::TlsFiles, String) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_pem = certified.cert.pem();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, &cert_pem).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    (archive_smtp::config::TlsFiles { cert, key }, cert_pem)
}
