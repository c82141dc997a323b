//! The shop backend example against a real SMTP server, Postfix's
//! `smtp-sink` on loopback: every confirmation is archived once, found by
//! its order id, and carries the relay's answers, also when the relay is
//! down at first and the shop retries.
//!
//! `scripts/test.sh` installs Postfix; set `SMTP_SINK` to use another
//! `smtp-sink` binary.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use archive_core::{ArchiveId, RecordStatus, SendOutcome};
use sentmail::EmbeddedArchive;
use sentmail_examples::shop::{Order, Retry, Shop, relay};

const ORDERS: u32 = 12;

/// A running `smtp-sink` that writes each received message to a file.
struct Sink {
    child: Child,
}

impl Sink {
    fn start(addr: SocketAddr, dump: &Path) -> Sink {
        let binary = std::env::var_os("SMTP_SINK")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/sbin/smtp-sink"));
        let mut command = Command::new(&binary);
        if is_root() {
            // smtp-sink refuses to run as root without a user to switch to.
            command.args(["-u", "postfix"]);
        }
        let template = format!("{}/mail.", dump.display());
        let child = command
            .args(["-d", &template, &addr.to_string(), "64"])
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start {}: {error}; install Postfix (scripts/test.sh does) or set SMTP_SINK",
                    binary.display()
                )
            });
        // Dropped, and so stopped, if it never listens.
        let sink = Sink { child };
        for _ in 0..200 {
            if TcpStream::connect(addr).is_ok() {
                return sink;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("smtp-sink did not listen on {addr} within 5 s");
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_root() -> bool {
    let output = Command::new("id").arg("-u").output().expect("id runs");
    String::from_utf8_lossy(&output.stdout).trim() == "0"
}

/// A loopback address with nothing listening on it.
fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// A directory the sink, running as `postfix`, can write to.
fn dump_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    dir
}

fn received(dump: &Path) -> usize {
    std::fs::read_dir(dump).unwrap().count()
}

/// Checks, on a reopened archive, that each order's mail is archived once,
/// found by its order id, and that its last send status is an acceptance.
async fn check_archive(data: &Path, receipts: &[(Order, ArchiveId)]) {
    let archive = EmbeddedArchive::open(data).await.unwrap();
    assert_eq!(archive.entries().await.unwrap().len(), receipts.len());
    for (order, id) in receipts {
        let found = archive
            .search(&format!("order:{}", order.id), 0, 10)
            .await
            .unwrap();
        let ids: Vec<ArchiveId> = found.hits.iter().map(|hit| hit.id).collect();
        assert_eq!(ids, [*id], "order:{}", order.id);

        let message = archive.open(id).await.unwrap();
        assert_eq!(message.meta.app_value("order_id"), Some(order.id.as_str()));
        let last = message.send_statuses.last().expect("a send status");
        assert_eq!(last.outcome, SendOutcome::Accepted, "{}", order.id);
        assert_eq!(last.code, Some(250));
    }
    let customer = archive.search("customer:C-000003", 0, 10).await.unwrap();
    assert_eq!(customer.total, 1);
    let all = archive
        .search("meta.template:order_confirmation", 0, 100)
        .await
        .unwrap();
    assert_eq!(all.total, receipts.len() as u64);
    archive.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_order_is_archived_once_and_found_by_its_id() {
    let data = tempfile::tempdir().unwrap();
    let dump = dump_dir();
    let addr = free_addr();
    let _sink = Sink::start(addr, dump.path());

    let archive = EmbeddedArchive::open(data.path()).await.unwrap();
    let shop = Shop::new(&archive, relay(addr));
    let mut receipts = Vec::new();
    for n in 1..=ORDERS {
        let order = Order::sample(n);
        let receipt = shop.confirm(&order).await.unwrap();
        assert_eq!(receipt.status, RecordStatus::Stored);
        receipts.push((order, receipt.id));
    }
    archive.close().await.unwrap();
    // The storage's directory lock goes with the last handle.
    drop((shop, archive));

    assert_eq!(
        received(dump.path()),
        ORDERS as usize,
        "the sink got each mail"
    );
    check_archive(data.path(), &receipts).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_down_then_retries_archive_each_order_once() {
    let data = tempfile::tempdir().unwrap();
    let dump = dump_dir();
    let addr = free_addr();

    let archive = EmbeddedArchive::open(data.path()).await.unwrap();
    let shop = Shop::new(&archive, relay(addr));
    let retry = Retry {
        attempts: 8,
        delay: Duration::from_millis(200),
    };
    // Every order's first attempt finds the relay down; it comes up later.
    let mut sends = Vec::new();
    for n in 1..=ORDERS {
        let shop = shop.clone();
        sends.push(tokio::spawn(async move {
            let order = Order::sample(n);
            let receipt = shop.confirm_with_retries(&order, retry).await;
            (order, receipt)
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let _sink = Sink::start(addr, dump.path());

    let mut receipts = Vec::new();
    for send in sends {
        let (order, receipt) = send.await.unwrap();
        let receipt = receipt.unwrap_or_else(|error| panic!("{}: {error}", order.id));
        assert_eq!(
            receipt.status,
            RecordStatus::DuplicateKey,
            "the retry of {} found the first attempt's copy",
            order.id
        );
        receipts.push((order, receipt.id));
    }
    archive.close().await.unwrap();
    drop((shop, archive));

    assert_eq!(
        received(dump.path()),
        ORDERS as usize,
        "each mail sent once"
    );
    check_archive(data.path(), &receipts).await;
    let archive = EmbeddedArchive::open(data.path()).await.unwrap();
    for (order, id) in &receipts {
        let statuses = archive.open(id).await.unwrap().send_statuses;
        assert_eq!(
            statuses.first().map(|status| status.outcome),
            Some(SendOutcome::Failed),
            "{}: the refused connection is recorded",
            order.id
        );
        assert!(statuses[0].error.is_some());
    }
    archive.close().await.unwrap();
}
