//! `Archive::reconcile` on `MemoryStorage`: key lists, counts per time
//! window, and keys found again after a reopen.

use std::sync::Arc;
use std::time::Duration;

use archive_core::testing::storage::{entry_for, partition};
use archive_core::{
    Archive, EntryRole, Expectation, Expected, MemoryStorage, PackEntry, RecordMeta, Source,
    Storage, Window, WindowReport,
};
use chrono::{DateTime, Utc};

const FLUSH: Duration = Duration::from_secs(10);

fn mail(n: usize) -> Vec<u8> {
    format!(
        "From: shop@example.jp\r\nTo: user{n}@example.com\r\nSubject: order {n}\r\n\
         Date: Fri, 04 Dec 2026 19:20:00 +0900\r\nMessage-ID: <r{n}@example.jp>\r\n\r\nbody {n}\r\n"
    )
    .into_bytes()
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn keys(list: &[&str]) -> Expectation {
    Expectation {
        window: Window::default(),
        expected: Expected::Keys(list.iter().map(|key| key.to_string()).collect()),
    }
}

fn count(after: Option<&str>, before: Option<&str>, expected: u64) -> Expectation {
    Expectation {
        window: Window {
            after: after.map(at),
            before: before.map(at),
        },
        expected: Expected::Count(expected),
    }
}

async fn open(storage: Arc<dyn Storage>, dir: &std::path::Path) -> Archive {
    Archive::builder(storage, dir).open().await.unwrap()
}

/// Records `mail(n)` with key `k{n}` for each `n`.
async fn record_keys(archive: &Archive, numbers: &[usize]) {
    for &n in numbers {
        let meta = RecordMeta::new(Source::App).with_idempotency_key(format!("k{n}"));
        archive.record(mail(n), meta).await.unwrap();
    }
}

async fn reconcile_one(archive: &Archive, expectation: Expectation) -> WindowReport {
    let report = archive.reconcile(&[expectation]).await.unwrap();
    assert_eq!(report.windows.len(), 1);
    report.windows.into_iter().next().unwrap()
}

fn missing_keys(report: &WindowReport) -> Vec<&str> {
    let keys = report.missing_keys.as_ref().expect("a key window");
    keys.iter().map(String::as_str).collect()
}

#[tokio::test]
async fn missing_key_is_listed() {
    let dir = tempfile::tempdir().unwrap();
    let archive = open(Arc::new(MemoryStorage::new()), dir.path()).await;
    record_keys(&archive, &[1, 2, 4, 5]).await;

    let report = archive
        .reconcile(&[keys(&["k1", "k2", "k3", "k4", "k5"])])
        .await
        .unwrap();
    assert!(!report.is_complete());
    let window = &report.windows[0];
    assert_eq!(missing_keys(window), ["k3"]);
    assert_eq!(window.expected, 5);
    assert_eq!(window.archived, 4);
    assert_eq!(window.missing, 1);
    assert_eq!(window.extra, 0);

    let all_present = archive.reconcile(&[keys(&["k1", "k5"])]).await.unwrap();
    assert!(all_present.is_complete());
}

#[tokio::test]
async fn duplicate_keys_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let archive = open(Arc::new(MemoryStorage::new()), dir.path()).await;
    record_keys(&archive, &[1]).await;

    let window = reconcile_one(&archive, keys(&["k9", "k1", "k3", "k9", "k1", "k3"])).await;
    assert_eq!(
        missing_keys(&window),
        ["k9", "k3"],
        "input order, each once"
    );
    assert_eq!(window.expected, 3);
    assert_eq!(window.archived, 1);
    assert_eq!(window.missing, 2);
}

#[tokio::test]
async fn key_windows_ignore_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let archive = open(Arc::new(MemoryStorage::new()), dir.path()).await;
    record_keys(&archive, &[1]).await;

    let mut expectation = keys(&["k1"]);
    expectation.window = Window {
        after: Some(at("2000-01-01T00:00:00Z")),
        before: Some(at("2000-01-02T00:00:00Z")),
    };
    let window = reconcile_one(&archive, expectation).await;
    assert_eq!(window.archived, 1);
    assert_eq!(window.missing, 0);
}

/// Builds a stored message with fixed facts, so that counts do not depend
/// on the clock.
fn stored(n: usize, recorded_at: &str, source: Source, role: EntryRole) -> PackEntry {
    let mut entry = entry_for(&mail(n), None);
    entry.info.recorded_at = at(recorded_at);
    entry.info.source = source;
    entry.info.role = role;
    entry
}

/// Messages around the JST day 2026-12-01, which is
/// [2026-11-30T15:00Z, 2026-12-01T15:00Z).
fn december_first_entries() -> Vec<PackEntry> {
    vec![
        stored(1, "2026-11-30T15:00:00Z", Source::App, EntryRole::Message),
        stored(2, "2026-12-01T03:00:00Z", Source::Smtp, EntryRole::Message),
        stored(
            3,
            "2026-12-01T14:59:59.999Z",
            Source::App,
            EntryRole::Message,
        ),
        stored(4, "2026-12-01T15:00:00Z", Source::App, EntryRole::Message),
        stored(
            5,
            "2026-12-01T05:00:00Z",
            Source::Import,
            EntryRole::Message,
        ),
        stored(
            6,
            "2026-12-01T06:00:00Z",
            Source::App,
            EntryRole::SendStatus,
        ),
        stored(
            7,
            "2026-11-30T14:59:59.999Z",
            Source::App,
            EntryRole::Message,
        ),
    ]
}

#[tokio::test]
async fn count_windows_match_golden_values() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(MemoryStorage::new());
    storage
        .put(&partition("default", 1), december_first_entries())
        .await
        .unwrap();
    let archive = open(storage, dir.path()).await;

    let day_one = (Some("2026-11-30T15:00:00Z"), Some("2026-12-01T15:00:00Z"));
    let day_two = (Some("2026-12-01T15:00:00Z"), Some("2026-12-02T15:00:00Z"));
    let report = archive
        .reconcile(&[
            count(day_one.0, day_one.1, 3),
            count(day_two.0, day_two.1, 2),
            count(None, Some("2026-11-30T15:00:00Z"), 0),
            count(None, None, 5),
        ])
        .await
        .unwrap();
    let figures: Vec<(u64, u64, u64, u64)> = report
        .windows
        .iter()
        .map(|w| (w.expected, w.archived, w.missing, w.extra))
        .collect();

    // Day one: messages 1, 2 and 3. Not 5 (imported), 6 (a send status)
    // or 4 (recorded at the exclusive end).
    assert_eq!(figures[0], (3, 3, 0, 0));
    assert_eq!(figures[1], (2, 1, 1, 0), "day two holds only message 4");
    assert_eq!(figures[2], (0, 1, 0, 1), "message 7 is extra");
    assert_eq!(figures[3], (5, 5, 0, 0), "messages 1, 2, 3, 4 and 7");
    assert!(!report.is_complete(), "day two misses one");
    assert_eq!(report.windows[0].missing_keys, None);
}

#[tokio::test]
async fn count_includes_journal_but_not_imports() {
    let dir = tempfile::tempdir().unwrap();
    let archive = open(Arc::new(MemoryStorage::new()), dir.path()).await;
    for n in 1..=3 {
        archive
            .record(mail(n), RecordMeta::new(Source::App))
            .await
            .unwrap();
    }
    archive
        .record(mail(4), RecordMeta::new(Source::Import))
        .await
        .unwrap();
    assert_eq!(
        archive.stats().pending_messages,
        4,
        "all still in the journal"
    );

    let window = reconcile_one(&archive, count(None, None, 3)).await;
    assert_eq!(window.archived, 3);
    assert_eq!(window.missing, 0);
    assert_eq!(window.extra, 0);
}

#[tokio::test]
async fn keys_found_after_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    {
        let archive = open(storage.clone(), dir.path()).await;
        record_keys(&archive, &[1, 2, 4, 5]).await;
        archive.close(FLUSH).await.unwrap();
    }

    let archive = open(storage, dir.path()).await;
    assert_eq!(archive.stats().pending_messages, 0, "all in storage");
    let window = reconcile_one(&archive, keys(&["k1", "k2", "k3", "k4", "k5"])).await;
    assert_eq!(missing_keys(&window), ["k3"]);
    assert_eq!(window.archived, 4);
}

#[tokio::test]
async fn keys_found_after_journal_replay() {
    let dir = tempfile::tempdir().unwrap();
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    {
        let archive = open(storage.clone(), dir.path()).await;
        record_keys(&archive, &[1, 2]).await;
        // Dropped without close: both messages are only in the journal.
    }

    let archive =
        archive_core::testing::reopen(|| Archive::builder(storage.clone(), dir.path())).await;
    let window = reconcile_one(&archive, keys(&["k1", "k2", "k3"])).await;
    assert_eq!(missing_keys(&window), ["k3"]);
    assert_eq!(window.archived, 2);
    archive.close(FLUSH).await.unwrap();
}
