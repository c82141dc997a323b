//! The `Archive` engine on `MemoryStorage`: recording, deduplication,
//! idempotency keys, the bounded journal, replay and reads.

use std::sync::Arc;
use std::time::Duration;

use archive_core::testing::FlakyStorage;
use archive_core::{
    Archive, ArchiveId, MemoryStorage, ReadError, RecordError, RecordMeta, RecordStatus, Source,
    Storage,
};

const FLUSH: Duration = Duration::from_secs(10);

fn mail(n: usize) -> Vec<u8> {
    format!(
        "From: shop@example.jp\r\nTo: user{n}@example.com\r\nSubject: order {n}\r\n\
         Date: Fri, 04 Dec 2026 19:{:02}:00 +0900\r\nMessage-ID: <m{n}@example.jp>\r\n\r\nbody {n}\r\n",
        n % 60
    )
    .into_bytes()
}

fn meta() -> RecordMeta {
    RecordMeta::new(Source::App)
}

async fn open(storage: Arc<dyn Storage>, dir: &std::path::Path) -> Archive {
    Archive::builder(storage, dir).open().await.unwrap()
}

async fn stored_count(storage: &dyn Storage) -> usize {
    let mut count = 0;
    for partition in storage.partitions().await.unwrap() {
        count += storage.list(&partition).await.unwrap().len();
    }
    count
}

#[tokio::test]
async fn record_then_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let archive = open(Arc::new(MemoryStorage::new()), dir.path()).await;

    let raw = mail(1);
    let receipt = archive
        .record(raw.clone(), meta().with_kind("order_confirmation"))
        .await
        .unwrap();
    assert_eq!(receipt.id, ArchiveId::of(&raw));
    assert_eq!(receipt.status, RecordStatus::Stored);

    assert_eq!(
        &archive.get_raw(&receipt.id).await.unwrap()[..],
        &raw[..],
        "from the journal"
    );
    archive.flush(FLUSH).await.unwrap();
    assert_eq!(
        &archive.get_raw(&receipt.id).await.unwrap()[..],
        &raw[..],
        "from storage"
    );

    let message = archive.open(&receipt.id).await.unwrap();
    assert_eq!(message.subject.as_deref(), Some("order 1"));
    assert_eq!(message.meta.kind.as_deref(), Some("order_confirmation"));
    assert_eq!(message.date.to_rfc3339(), "2026-12-04T10:01:00+00:00");
}

#[tokio::test]
async fn same_bytes_are_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(MemoryStorage::new());
    let archive = open(storage.clone(), dir.path()).await;

    let first = archive.record(mail(2), meta()).await.unwrap();
    let second = archive.record(mail(2), meta()).await.unwrap();
    assert_eq!(second.id, first.id);
    assert_eq!(
        second.status,
        RecordStatus::AlreadyArchived,
        "pending copy found"
    );

    archive.flush(FLUSH).await.unwrap();
    let third = archive.record(mail(2), meta()).await.unwrap();
    assert_eq!(
        third.status,
        RecordStatus::AlreadyArchived,
        "stored copy found"
    );
    assert_eq!(stored_count(storage.as_ref()).await, 1);
}

#[tokio::test]
async fn same_message_id_or_none_are_separate_messages() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(MemoryStorage::new());
    let archive = open(storage.clone(), dir.path()).await;

    let a = b"Message-ID: <same@example.jp>\r\nSubject: a\r\n\r\nA\r\n".to_vec();
    let b = b"Message-ID: <same@example.jp>\r\nSubject: b\r\n\r\nB\r\n".to_vec();
    let bare = b"no headers at all, just text".to_vec();
    let tiny = b"x".to_vec();
    for raw in [&a, &b, &bare, &tiny] {
        let receipt = archive.record(raw.clone(), meta()).await.unwrap();
        assert_eq!(receipt.status, RecordStatus::Stored);
    }
    archive.flush(FLUSH).await.unwrap();

    assert_eq!(stored_count(storage.as_ref()).await, 4);
    let same = archive
        .find_by_message_id("<same@example.jp>")
        .await
        .unwrap();
    assert_eq!(same.len(), 2, "both mails with one Message-ID are found");
}

#[tokio::test]
async fn idempotency_key_records_once_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let first_id = {
        let archive = open(storage.clone(), dir.path()).await;
        let first = archive
            .record(mail(3), meta().with_idempotency_key("order-3"))
            .await
            .unwrap();
        let retry = archive
            .record(mail(4), meta().with_idempotency_key("order-3"))
            .await
            .unwrap();
        assert_eq!(retry.status, RecordStatus::DuplicateKey);
        assert_eq!(retry.id, first.id, "the retry points at the first message");
        archive.close(FLUSH).await.unwrap();
        first.id
    };

    let archive = open(storage.clone(), dir.path()).await;
    let again = archive
        .record(mail(5), meta().with_idempotency_key("order-3"))
        .await
        .unwrap();
    assert_eq!(again.status, RecordStatus::DuplicateKey);
    assert_eq!(again.id, first_id);
    assert_eq!(stored_count(storage.as_ref()).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_same_key_records_once() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(MemoryStorage::new());
    let archive = open(storage.clone(), dir.path()).await;

    let mut tasks = Vec::new();
    for n in 0..8 {
        let archive = archive.clone();
        tasks.push(tokio::spawn(async move {
            archive
                .record(mail(100 + n), meta().with_idempotency_key("same"))
                .await
                .unwrap()
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.unwrap().id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every caller gets the one recorded id");
    archive.flush(FLUSH).await.unwrap();
    assert_eq!(stored_count(storage.as_ref()).await, 1);
}

#[tokio::test]
async fn bad_input_is_rejected_with_reason() {
    let dir = tempfile::tempdir().unwrap();
    let archive = Archive::builder(Arc::new(MemoryStorage::new()), dir.path())
        .max_message_bytes(100)
        .open()
        .await
        .unwrap();

    let empty = archive.record(Vec::new(), meta()).await.unwrap_err();
    assert!(matches!(empty, RecordError::Empty));

    let large = archive.record(vec![b'a'; 101], meta()).await.unwrap_err();
    assert!(
        matches!(
            large,
            RecordError::TooLarge {
                size: 101,
                limit: 100
            }
        ),
        "{large:?}"
    );
    assert!(!large.is_retryable());
    assert!(
        large.to_string().contains("max_message_bytes"),
        "the error names the setting"
    );

    let huge_meta = meta().with_app("blob", "x".repeat(70_000));
    let error = archive.record(b"x".to_vec(), huge_meta).await.unwrap_err();
    assert!(matches!(error, RecordError::MetaTooLarge { .. }));
}

#[tokio::test]
async fn full_journal_gives_retryable_error_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let memory: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let flaky = Arc::new(FlakyStorage::new(memory.clone()));
    flaky.set_available(false);
    let mut options = archive_core::ArchiveOptions::default();
    options.journal.max_bytes = 64 << 10;
    options.journal.segment_bytes = 8 << 10;
    options.pack_max_messages = 10;
    options.storage_retry_initial = Duration::from_millis(5);
    options.storage_retry_max = Duration::from_millis(20);
    let archive = Archive::builder(flaky.clone(), dir.path())
        .options(options)
        .open()
        .await
        .unwrap();

    let mut accepted = Vec::new();
    let error = loop {
        let n = accepted.len();
        match archive.record(mail(1000 + n), meta()).await {
            Ok(receipt) => accepted.push(receipt.id),
            Err(error) => break error,
        }
        assert!(n < 10_000, "the journal limit must stop recording");
    };
    assert!(
        matches!(error, RecordError::JournalFull { .. }),
        "got {error:?}"
    );
    assert!(error.is_retryable());
    assert!(
        flaky.rejected() > 0,
        "storage writes were attempted and failed"
    );

    flaky.set_available(true);
    archive.flush(FLUSH).await.unwrap();
    assert_eq!(
        stored_count(memory.as_ref()).await,
        accepted.len(),
        "every accepted mail arrived once"
    );
    for id in &accepted {
        assert!(memory.contains(id).await.unwrap());
    }
    archive
        .record(mail(99_999), meta())
        .await
        .expect("room again after the outage");
}

#[tokio::test]
async fn unflushed_records_survive_reopen_once() {
    let dir = tempfile::tempdir().unwrap();
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let mut ids = Vec::new();
    {
        let archive = open(storage.clone(), dir.path()).await;
        for n in 0..50 {
            ids.push(archive.record(mail(n), meta()).await.unwrap().id);
        }
        archive.flush(FLUSH).await.unwrap();
        for n in 50..80 {
            ids.push(archive.record(mail(n), meta()).await.unwrap().id);
        }
        // Dropped without close: the last 30 are only in the journal.
    }

    let archive =
        archive_core::testing::reopen(|| Archive::builder(storage.clone(), dir.path())).await;
    for id in &ids {
        assert!(
            archive.get_raw(id).await.is_ok(),
            "{id} readable after reopen"
        );
    }
    archive.close(FLUSH).await.unwrap();
    assert_eq!(
        stored_count(storage.as_ref()).await,
        80,
        "replay stores each message once"
    );
}

#[tokio::test]
async fn close_moves_everything_and_empties_journal() {
    let dir = tempfile::tempdir().unwrap();
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let archive = open(storage.clone(), dir.path()).await;
    for n in 0..20 {
        archive.record(mail(n), meta()).await.unwrap();
    }
    archive.close(FLUSH).await.unwrap();

    assert_eq!(archive.stats().pending_messages, 0);
    assert_eq!(stored_count(storage.as_ref()).await, 20);
    let segments: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "seg"))
        .collect();
    assert!(
        segments.is_empty(),
        "no journal segment is left: {segments:?}"
    );
    assert!(matches!(
        archive.record(mail(21), meta()).await,
        Err(RecordError::Closed)
    ));
}

#[tokio::test]
async fn closed_archive_reopens_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    for round in 0..20 {
        let archive = open(storage.clone(), dir.path()).await;
        archive.record(mail(round), meta()).await.unwrap();
        archive.close(FLUSH).await.unwrap();
        // No sleep: close has stopped the background task and unlocked the journal.
    }
    assert_eq!(stored_count(storage.as_ref()).await, 20);
}

#[tokio::test]
async fn list_is_newest_first_and_paged() {
    let dir = tempfile::tempdir().unwrap();
    let archive = open(Arc::new(MemoryStorage::new()), dir.path()).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(archive.record(mail(n), meta()).await.unwrap().id);
    }
    archive.flush(FLUSH).await.unwrap();
    archive.record(mail(5), meta()).await.unwrap();
    ids.push(ArchiveId::of(&mail(5)));

    let (page, total) = archive.list(1, 3).await.unwrap();
    assert_eq!(total, 6);
    let got: Vec<ArchiveId> = page.iter().map(|info| info.id).collect();
    assert_eq!(
        got,
        vec![ids[4], ids[3], ids[2]],
        "minute 5 first, then skip one, three of the rest"
    );
}

#[tokio::test]
async fn unknown_and_prefix_ids_resolve() {
    let dir = tempfile::tempdir().unwrap();
    let archive = open(Arc::new(MemoryStorage::new()), dir.path()).await;
    let id = archive.record(mail(7), meta()).await.unwrap().id;

    assert_eq!(archive.resolve_id(&id.to_hex()[..10]).await.unwrap(), id);
    assert!(matches!(
        archive.resolve_id("abc").await,
        Err(ReadError::Ambiguous { .. })
    ));
    let missing = ArchiveId::of(b"missing");
    assert!(matches!(
        archive.get_raw(&missing).await,
        Err(ReadError::NotFound { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_records_share_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let archive = open(Arc::new(MemoryStorage::new()), dir.path()).await;
    let mut tasks = Vec::new();
    for task in 0..16 {
        let archive = archive.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..25 {
                archive.record(mail(task * 1000 + n), meta()).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let syncs = archive.stats().journal_syncs;
    assert!(syncs < 400, "{syncs} syncs for 400 records from 16 callers");
    let report = archive.verify(|_, _| {}).await.unwrap();
    assert_eq!(report.checked, 400);
    assert!(report.damaged.is_empty());
}
