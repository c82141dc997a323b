//! Shutdown, timeouts and a full archive journal.

mod support;

use std::sync::Arc;
use std::time::Duration;

use archive_core::testing::FlakyStorage;
use archive_core::{Archive, MemoryStorage, Storage};
use support::{Client, REPLY_GUARD, archived_reply, config, message, start, start_with};

#[tokio::test]
async fn shutdown_finishes_transaction() {
    let mut server = start(config()).await;
    let mut busy = server.client().await;
    busy.envelope("shop@example.jp", &["archive@example.jp"])
        .await;
    assert_eq!(
        busy.command("DATA").await,
        "354 End data with <CR><LF>.<CR><LF>"
    );
    let sent = message(1);
    let (head, tail) = sent.split_at(40);
    busy.send(head).await;
    let mut idle = server.client().await;
    assert!(idle.command("EHLO idle.test").await.starts_with("250-"));

    let stopped = server.begin_shutdown();
    assert_eq!(
        idle.reply().await,
        "421 4.3.2 archive.test Service shutting down; closing connection"
    );
    assert!(idle.read_to_end().await.is_empty());

    busy.send(tail).await;
    busy.send(b".\r\n").await;
    assert_eq!(busy.reply().await, archived_reply(&sent));
    assert_eq!(
        busy.reply().await,
        "421 4.3.2 archive.test Service shutting down; closing connection"
    );
    tokio::time::timeout(REPLY_GUARD, stopped)
        .await
        .expect("server stops")
        .unwrap();
    assert!(tokio::net::TcpStream::connect(server.addr).await.is_err());
    assert_eq!(server.stored().await.len(), 1);
}

#[tokio::test]
async fn shutdown_drops_stalled_transaction() {
    let mut config = config();
    config.shutdown_timeout_secs = 1;
    let mut server = start(config).await;
    let mut stalled = server.client().await;
    stalled
        .envelope("shop@example.jp", &["archive@example.jp"])
        .await;
    assert_eq!(
        stalled.command("DATA").await,
        "354 End data with <CR><LF>.<CR><LF>"
    );
    stalled.send(b"Subject: never finished\r\n").await;

    let stopped = server.begin_shutdown();
    tokio::time::timeout(REPLY_GUARD, stopped)
        .await
        .expect("server stops")
        .unwrap();
    // Dropped without a reply, so the sender keeps the message.
    assert!(stalled.read_to_end().await.is_empty());
    assert!(server.stored().await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn idle_client_times_out() {
    let mut config = config();
    config.command_timeout_secs = 10;
    let server = start(config).await;
    let mut client = Client::connect(server.addr).await;
    assert_eq!(
        client.read_reply_unguarded().await,
        "220 archive.test ESMTP sentmail archive"
    );
    assert_eq!(
        client.read_reply_unguarded().await,
        "421 4.4.2 archive.test Timeout exceeded; closing connection"
    );
}

#[tokio::test(start_paused = true)]
async fn stalled_data_times_out() {
    let mut config = config();
    config.command_timeout_secs = 20;
    config.data_timeout_secs = 10;
    let server = start(config).await;
    let mut client = Client::connect(server.addr).await;
    client.read_reply_unguarded().await;
    client
        .send(b"EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n")
        .await;
    for _ in 0..4 {
        client.read_reply_unguarded().await;
    }
    client.send(b"Subject: stalled\r\n").await;
    assert_eq!(
        client.read_reply_unguarded().await,
        "421 4.4.2 archive.test Timeout exceeded; closing connection"
    );
    assert!(server.stored().await.is_empty());
}

#[tokio::test]
async fn full_journal_gives_451() {
    let dir = tempfile::tempdir().unwrap();
    let memory: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let flaky = Arc::new(FlakyStorage::new(memory));
    flaky.set_available(false);
    let mut options = archive_core::ArchiveOptions::default();
    options.journal.max_bytes = 64 << 10;
    options.journal.segment_bytes = 8 << 10;
    options.pack_max_messages = 10;
    options.storage_retry_initial = Duration::from_millis(5);
    options.storage_retry_max = Duration::from_millis(20);
    let archive = Archive::builder(flaky.clone(), dir.path().join("journal"))
        .options(options)
        .open()
        .await
        .unwrap();
    let server = start_with(config(), archive, dir).await;
    let mut client = server.client().await;
    client.command("EHLO client.test").await;

    let mut accepted = 0;
    let deferred = loop {
        client.command("MAIL FROM:<shop@example.jp>").await;
        client.command("RCPT TO:<archive@example.jp>").await;
        let sent = format!("Subject: filler {accepted}\r\n\r\n{}\r\n", "y".repeat(4000));
        let reply = client.data(sent.as_bytes()).await;
        if !reply.starts_with("250 ") {
            break reply;
        }
        accepted += 1;
        assert!(accepted < 1000, "the journal limit must stop recording");
    };
    assert_eq!(
        deferred,
        "451 4.3.1 Archive storage is behind; try again later"
    );

    flaky.set_available(true);
    server.archive.flush(REPLY_GUARD).await.unwrap();
    client.command("MAIL FROM:<shop@example.jp>").await;
    client.command("RCPT TO:<archive@example.jp>").await;
    let sent = message(2);
    assert_eq!(client.data(&sent).await, archived_reply(&sent));
    assert_eq!(server.stored().await.len(), accepted + 1);
    server.stop().await;
}
