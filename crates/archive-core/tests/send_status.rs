//! Send statuses: stored beside their message, returned by `open`, kept
//! out of listings and the index, and surviving a reopen.

use std::sync::Arc;
use std::time::Duration;

use archive_core::search::{Index, MemoryIndex};
use archive_core::{
    Archive, ArchiveId, EntryRole, MemoryStorage, RecordError, RecordMeta, SendOutcome, SendStatus,
    Source, Storage,
};
use chrono::{TimeZone, Utc};

const FLUSH: Duration = Duration::from_secs(10);

const MAIL: &[u8] = b"From: shop@example.jp\r\nTo: hoge.123@example.com\r\n\
Subject: =?UTF-8?B?5rOo5paH56K66KqN?=\r\nDate: Fri, 04 Dec 2026 19:01:00 +0900\r\n\
Message-ID: <o1@example.jp>\r\n\r\norder ORD-2026-0012345\r\n";

async fn open(storage: Arc<dyn Storage>, index: Arc<dyn Index>, dir: &std::path::Path) -> Archive {
    Archive::builder(storage, dir)
        .index(index)
        .open()
        .await
        .unwrap()
}

fn status(outcome: SendOutcome, second: u32, text: &str) -> SendStatus {
    SendStatus {
        at: Utc.with_ymd_and_hms(2026, 12, 4, 10, 1, second).unwrap(),
        response: Some(text.to_owned()),
        ..SendStatus::new(outcome)
    }
}

#[tokio::test]
async fn statuses_come_back_with_the_message_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(MemoryStorage::new());
    let index = Arc::new(MemoryIndex::new());
    let archive = open(storage.clone(), index.clone(), dir.path()).await;

    let id = archive
        .record(
            MAIL,
            RecordMeta::new(Source::App).with_kind("order_confirmation"),
        )
        .await
        .unwrap()
        .id;
    let accepted = SendStatus::from_reply(250, "2.0.0 Ok: queued as 4Fq9Zk2T1Sz1");
    let accepted = SendStatus {
        at: Utc.with_ymd_and_hms(2026, 12, 4, 10, 1, 30).unwrap(),
        ..accepted
    };
    let failed = status(SendOutcome::Failed, 5, "4.3.0 try again later");
    archive.record_send_status(&id, &accepted).await.unwrap();
    archive.record_send_status(&id, &failed).await.unwrap();

    let expected = vec![failed.clone(), accepted.clone()];
    assert_eq!(
        archive.open(&id).await.unwrap().send_statuses,
        expected,
        "from the journal"
    );
    archive.close(FLUSH).await.unwrap();

    let mut roles = Vec::new();
    for partition in storage.partitions().await.unwrap() {
        for listed in storage.list(&partition).await.unwrap() {
            roles.push((partition.to_string(), listed.info.role));
        }
    }
    roles.sort_by_key(|(_, role)| *role == EntryRole::SendStatus);
    let day = "default/2026-12-04".to_owned();
    assert_eq!(
        roles,
        vec![
            (day.clone(), EntryRole::Message),
            (day.clone(), EntryRole::SendStatus),
            (day, EntryRole::SendStatus),
        ],
        "statuses sit in the partition of their message"
    );
    assert_eq!(index.count().await.unwrap(), 1, "statuses are not indexed");

    let reopened = open(storage, index, dir.path()).await;
    assert_eq!(
        reopened.open(&id).await.unwrap().send_statuses,
        expected,
        "from storage"
    );
    assert_eq!(
        reopened.entries().await.unwrap().len(),
        1,
        "listings hold messages only"
    );
    assert_eq!(reopened.list(0, 10).await.unwrap().1, 1);
    assert_eq!(reopened.search("queued", 0, 10).await.unwrap().total, 0);
    assert_eq!(reopened.stats().pending_messages, 0);
}

#[tokio::test]
async fn statuses_in_the_journal_replay_without_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(MemoryStorage::new());
    let index = Arc::new(MemoryIndex::new());
    let id = {
        let archive = open(storage.clone(), index.clone(), dir.path()).await;
        let id = archive
            .record(MAIL, RecordMeta::default())
            .await
            .unwrap()
            .id;
        let failed = status(SendOutcome::Failed, 1, "connection refused");
        archive.record_send_status(&id, &failed).await.unwrap();
        // Dropped without close: both entries stay in the journal.
        id
    };
    let archive = archive_core::testing::reopen(|| {
        Archive::builder(storage.clone(), dir.path()).index(index.clone())
    })
    .await;
    let statuses = archive.open(&id).await.unwrap().send_statuses;
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0].outcome, SendOutcome::Failed);
    archive.close(FLUSH).await.unwrap();
    assert_eq!(index.count().await.unwrap(), 1);
}

#[tokio::test]
async fn status_of_an_unknown_message_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let archive = open(
        Arc::new(MemoryStorage::new()),
        Arc::new(MemoryIndex::new()),
        dir.path(),
    )
    .await;
    let unknown = ArchiveId::of(b"never recorded");
    let error = archive
        .record_send_status(&unknown, &SendStatus::failed("timeout"))
        .await
        .unwrap_err();
    assert!(matches!(error, RecordError::UnknownMessage { id } if id == unknown));
    assert!(!error.is_retryable());
    assert_eq!(
        error.to_string(),
        format!("message {unknown} is not in the archive; record it before its send status")
    );
}
