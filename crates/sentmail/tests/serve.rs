//! `sentmail serve` as a process: a clean stop on SIGTERM, configuration
//! errors, password hashing, and kill -9 while 20 SMTP clients send, after
//! which every message that got `250` must be archived, intact, with its
//! envelope, and found by its Message-ID.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use archive_core::{Archive, ArchiveId};
use archive_fs::FsStorage;

const ROUNDS: u64 = 3;
const CLIENTS: u64 = 20;
/// Messages a client sends at most per round; the kill comes long before.
const CLIENT_MAX_MESSAGES: u64 = 5_000;
/// Hang guard for the server's start and the clients' progress; not a
/// timing assertion.
const GUARD: Duration = Duration::from_secs(120);

fn message(number: u64) -> Vec<u8> {
    let padding = "x".repeat((number % 11 * 900) as usize);
    format!(
        "From: shop@example.jp\r\nTo: customer{number}@example.com\r\n\
         Subject: crash test {number}\r\nDate: Fri, 04 Dec 2026 19:20:00 +0900\r\n\
         Message-ID: <serve-crash-{number}@example.jp>\r\n\r\nbody {number}\r\n.{padding}\r\n"
    )
    .into_bytes()
}

/// Starts the server on a free loopback port and returns it with its
/// bound address.
fn start_server(dir: &Path) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sentmail"))
        .arg("--data")
        .arg(dir)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--hostname",
            "archive.test",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sentmail serve");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let address = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .unwrap();
    (child, address)
}

/// Runs one SMTP client that sends messages numbered `first`, `first + step`, ...
/// and records the archive id from each `250` reply, until the connection
/// fails.
fn run_client(
    address: SocketAddr,
    first: u64,
    step: u64,
    acked: Arc<Mutex<BTreeMap<u64, String>>>,
) {
    let Some(mut client) = Client::connect(address) else {
        return;
    };
    if client.send(b"EHLO crash.test\r\n").is_none() {
        return;
    }
    for round in 0..CLIENT_MAX_MESSAGES {
        let number = first + round * step;
        let Some(line) = client.transaction(&message(number)) else {
            return;
        };
        match line.strip_prefix("250 2.0.0 Ok: archived as ") {
            Some(id) => {
                acked.lock().unwrap().insert(number, id.to_owned());
            }
            None => panic!("message {number} got {line:?}"),
        }
    }
}

struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    fn connect(address: SocketAddr) -> Option<Client> {
        let stream = TcpStream::connect(address).ok()?;
        let mut client = Client {
            reader: BufReader::new(stream.try_clone().ok()?),
            writer: stream,
        };
        // The greeting.
        client.send(b"")?;
        Some(client)
    }

    /// Sends `bytes` and returns the last line of the reply, or `None`
    /// once the connection failed.
    fn send(&mut self, bytes: &[u8]) -> Option<String> {
        self.writer.write_all(bytes).ok()?;
        let mut line = String::new();
        loop {
            line.clear();
            if self.reader.read_line(&mut line).ok()? == 0 {
                return None;
            }
            if line.as_bytes().get(3) != Some(&b'-') {
                return Some(line.trim_end().to_owned());
            }
        }
    }

    /// Sends one message and returns the reply to its data.
    fn transaction(&mut self, message: &[u8]) -> Option<String> {
        self.send(b"MAIL FROM:<shop@example.jp>\r\n")?;
        self.send(b"RCPT TO:<archive@example.jp>\r\n")?;
        self.send(b"DATA\r\n")?;
        self.send(&archive_smtp::protocol::dot_stuff(message))
    }
}

fn sentmail(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sentmail"));
    command.arg("--data").arg(dir);
    command
}

#[tokio::test]
async fn sigterm_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, address) = start_server(dir.path());
    let mut client = Client::connect(address).unwrap();
    client.send(b"EHLO term.test\r\n").unwrap();
    let reply = client.transaction(&message(7)).unwrap();
    assert_eq!(
        reply,
        format!("250 2.0.0 Ok: archived as {}", ArchiveId::of(&message(7)))
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // The idle session is closed by the shutdown.
    assert_eq!(
        client.send(b"").as_deref(),
        Some("421 4.3.2 archive.test Service shutting down; closing connection")
    );
    let exit = child.wait().unwrap();
    assert!(exit.success(), "exit status {exit}");

    // The archive was closed: it opens at once and has the message in a pack.
    let archive = open(dir.path()).await;
    assert_eq!(archive.stats().pending_messages, 0);
    let raw = archive.get_raw(&ArchiveId::of(&message(7))).await.unwrap();
    assert_eq!(raw.as_ref(), message(7).as_slice());
    archive.close(Duration::from_secs(60)).await.unwrap();
}

#[test]
fn invalid_config_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sentmail.toml");
    std::fs::write(&config, "[smtp]\nmax_in_flight = 0\n").unwrap();
    let output = sentmail(&dir.path().join("data"))
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("max_in_flight must be at least 1"),
        "{stderr}"
    );
}

#[test]
fn hash_password_prints_phc() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = sentmail(dir.path())
        .args(["serve", "--hash-password"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"secret\n").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let hash = String::from_utf8(output.stdout).unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert_eq!(hash.lines().count(), 1);
}

fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

async fn open(dir: &Path) -> Archive {
    let storage = FsStorage::open(dir).await.expect("open storage");
    Archive::builder(Arc::new(storage), dir.join("journal"))
        .open()
        .await
        .expect("open archive")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_during_smtp_load() {
    let dir = tempfile::tempdir().unwrap();
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("serve crash test seed {seed} (set CRASH_SEED to repeat)");
    let mut random = seed;
    let acked = Arc::new(Mutex::new(BTreeMap::new()));

    for round in 0..ROUNDS {
        let (mut child, address) = start_server(dir.path());
        let clients: Vec<_> = (0..CLIENTS)
            .map(|client| {
                let acked = acked.clone();
                let first = round * 1_000_000 + client;
                std::thread::spawn(move || run_client(address, first, CLIENTS, acked))
            })
            .collect();

        // Kill once this round has some acknowledged messages, after a
        // random extra wait, so the kill lands at a random point.
        let before = acked.lock().unwrap().len();
        let target = before + 100 + (next_random(&mut random) % 400) as usize;
        let started = Instant::now();
        while acked.lock().unwrap().len() < target {
            assert!(started.elapsed() < GUARD, "clients made no progress");
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(next_random(&mut random) % 50));
        child.kill().expect("kill -9 the server");
        child.wait().unwrap();
        for client in clients {
            client.join().expect("client thread");
        }
        eprintln!(
            "round {round}: killed with {} acknowledged in total",
            acked.lock().unwrap().len()
        );
    }

    let acked = acked.lock().unwrap().clone();
    let archive = open(dir.path()).await;
    for (&number, id) in &acked {
        let expected = message(number);
        let id: ArchiveId = id.parse().unwrap();
        assert_eq!(id, ArchiveId::of(&expected), "reply of message {number}");
        let raw = archive
            .get_raw(&id)
            .await
            .unwrap_or_else(|error| panic!("acknowledged message {number} missing: {error}"));
        assert_eq!(raw.as_ref(), expected.as_slice(), "message {number} intact");
        let meta = archive.meta(&id).await.unwrap();
        assert_eq!(meta.envelope_to, ["archive@example.jp"], "message {number}");
        let found = archive
            .find_by_message_id(&format!("<serve-crash-{number}@example.jp>"))
            .await
            .unwrap();
        assert_eq!(found.len(), 1, "message {number} by Message-ID");
        assert_eq!(found[0].id, id);
    }
    let report = archive.verify(|_, _| {}).await.unwrap();
    assert!(report.damaged.is_empty(), "damage: {:?}", report.damaged);
    archive.close(Duration::from_secs(60)).await.unwrap();
}
