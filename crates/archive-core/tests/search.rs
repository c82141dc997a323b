//! Searching through the `Archive`: the write path feeds the index, the
//! journal waits for both storage and index, replay repairs what the
//! index lacks, and hits carry what staff need to see.

use std::sync::Arc;
use std::time::Duration;

use archive_core::search::{Index, MemoryIndex};
use archive_core::testing::{FlakyIndex, FlakyStorage};
use archive_core::{Archive, MemoryStorage, RecordMeta, SearchError, Source, Storage};

const FLUSH: Duration = Duration::from_secs(10);

fn case(path: &str) -> Vec<u8> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/cases");
    std::fs::read(root.join(path)).unwrap()
}

fn order_mail(n: usize) -> Vec<u8> {
    format!(
        "From: サンプル商店 <order@shop.example.jp>\r\nTo: 山田 太郎 <hoge.{n}+shop@example.com>\r\n\
         Subject: =?UTF-8?B?44GU5rOo5paH44Gu56K66KqN?= ORD-2026-{n:07}\r\n\
         Date: Fri, 04 Dec 2026 19:{:02}:00 +0900\r\nMessage-ID: <s{n}@example.jp>\r\n\
         Content-Type: text/plain; charset=UTF-8\r\n\r\nご注文番号 ORD-2026-{n:07} の商品を発送しました。\r\n",
        n % 60
    )
    .into_bytes()
}

async fn open(storage: Arc<dyn Storage>, index: Arc<dyn Index>, dir: &std::path::Path) -> Archive {
    let options = archive_core::ArchiveOptions {
        storage_retry_initial: Duration::from_millis(5),
        storage_retry_max: Duration::from_millis(20),
        ..Default::default()
    };
    Archive::builder(storage, dir)
        .index(index)
        .options(options)
        .open()
        .await
        .unwrap()
}

async fn ids(archive: &Archive, query: &str) -> Vec<String> {
    let results = archive.search(query, 0, 100).await.unwrap();
    assert_eq!(results.total as usize, results.hits.len());
    results
        .hits
        .iter()
        .map(|hit| hit.subject.clone().unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn recorded_mail_is_found_with_hit_fields() {
    let dir = tempfile::tempdir().unwrap();
    let archive = open(
        Arc::new(MemoryStorage::new()),
        Arc::new(MemoryIndex::new()),
        dir.path(),
    )
    .await;
    for n in 0..5 {
        archive
            .record(
                order_mail(n),
                RecordMeta::new(Source::App).with_kind("shipping_notice"),
            )
            .await
            .unwrap();
    }
    archive.flush(FLUSH).await.unwrap();

    let results = archive
        .search("hoge.3@example.com 発送", 0, 10)
        .await
        .unwrap();
    assert_eq!(
        results.total, 1,
        "the sub-address and the Japanese term select one mail"
    );
    let hit = &results.hits[0];
    assert_eq!(
        hit.subject.as_deref(),
        Some("ご注文の確認 ORD-2026-0000003")
    );
    assert_eq!(hit.from[0].name.as_deref(), Some("サンプル商店"));
    assert_eq!(hit.to[0].address, "hoge.3+shop@example.com");
    assert_eq!(hit.kind.as_deref(), Some("shipping_notice"));
    assert_eq!(hit.date.to_rfc3339(), "2026-12-04T10:03:00+00:00");
    assert_eq!(
        hit.snippet.bracketed(),
        "ご注文番号 ORD-2026-0000003 の商品を[発送]しました。"
    );

    let paged = archive.search("ORD-2026", 1, 2).await.unwrap();
    assert_eq!(paged.total, 5);
    let subjects: Vec<_> = paged
        .hits
        .iter()
        .map(|h| h.subject.clone().unwrap())
        .collect();
    assert_eq!(
        subjects,
        [
            "ご注文の確認 ORD-2026-0000003",
            "ご注文の確認 ORD-2026-0000002"
        ]
    );
}

#[tokio::test]
async fn date_variants_fall_in_their_day() {
    let dir = tempfile::tempdir().unwrap();
    let archive = open(
        Arc::new(MemoryStorage::new()),
        Arc::new(MemoryIndex::new()),
        dir.path(),
    )
    .await;
    for name in [
        "a-two-digit-year",
        "b-asctime-no-zone",
        "c-missing",
        "d-no-weekday-comment",
        "e-empty-garbage",
    ] {
        let raw = case(&format!("14-date-header-variants/{name}.eml"));
        archive
            .record(raw, RecordMeta::new(Source::Import))
            .await
            .unwrap();
    }
    archive.flush(FLUSH).await.unwrap();

    assert_eq!(
        archive
            .search("after:2026-12-04 before:2026-12-05", 0, 10)
            .await
            .unwrap()
            .total,
        5
    );
    assert_eq!(
        archive
            .search("date:2026-12-04", 0, 10)
            .await
            .unwrap()
            .total,
        5
    );
    assert_eq!(
        archive
            .search("date:1926-12-04", 0, 10)
            .await
            .unwrap()
            .total,
        0
    );
    assert_eq!(
        archive
            .search("date:2026-12-05", 0, 10)
            .await
            .unwrap()
            .total,
        0
    );
}

#[tokio::test]
async fn bad_query_and_missing_index_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let archive = open(
        Arc::new(MemoryStorage::new()),
        Arc::new(MemoryIndex::new()),
        dir.path(),
    )
    .await;
    let error = archive.search("foo:bar", 0, 10).await.unwrap_err();
    assert!(matches!(error, SearchError::Query(_)), "{error:?}");
    assert!(error.to_string().contains("unknown field 'foo'"), "{error}");

    let other = tempfile::tempdir().unwrap();
    let plain = Archive::builder(Arc::new(MemoryStorage::new()), other.path())
        .open()
        .await
        .unwrap();
    assert!(matches!(
        plain.search("a", 0, 1).await,
        Err(SearchError::NoIndex)
    ));
}

fn journal_segments(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|entry| {
            entry
                .as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|e| e == "seg")
        })
        .count()
}

#[tokio::test]
async fn journal_waits_for_index_and_replay_fills_it() {
    let dir = tempfile::tempdir().unwrap();
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let memory: Arc<dyn Index> = Arc::new(MemoryIndex::new());
    {
        let flaky = Arc::new(FlakyIndex::new(memory.clone()));
        flaky.set_available(false);
        let archive = open(storage.clone(), flaky.clone(), dir.path()).await;
        for n in 0..10 {
            archive
                .record(order_mail(n), RecordMeta::new(Source::App))
                .await
                .unwrap();
        }
        let flushed = archive.flush(Duration::from_millis(300)).await;
        assert!(
            flushed.is_err(),
            "the index is down, so the flush cannot finish"
        );
        assert!(flaky.rejected() > 0);
        assert_eq!(memory.count().await.unwrap(), 0);
        // Dropped without close, as after a crash.
    }
    tokio::time::sleep(Duration::from_millis(100)).await;

    let archive = loop {
        match Archive::builder(storage.clone(), dir.path())
            .index(memory.clone())
            .open()
            .await
        {
            Ok(archive) => break archive,
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    archive.close(FLUSH).await.unwrap();
    assert_eq!(
        memory.count().await.unwrap(),
        10,
        "replay indexed what the index lacked"
    );
    assert_eq!(
        journal_segments(dir.path()),
        0,
        "released once storage and index both hold them"
    );
}

#[tokio::test]
async fn journal_waits_for_storage_while_index_is_fresh() {
    let dir = tempfile::tempdir().unwrap();
    let memory: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let flaky = Arc::new(FlakyStorage::new(memory.clone()));
    flaky.set_available(false);
    let index: Arc<dyn Index> = Arc::new(MemoryIndex::new());
    let archive = open(flaky.clone(), index.clone(), dir.path()).await;
    for n in 0..10 {
        archive
            .record(order_mail(n), RecordMeta::new(Source::App))
            .await
            .unwrap();
    }
    assert!(archive.flush(Duration::from_millis(300)).await.is_err());
    assert_eq!(
        index.count().await.unwrap(),
        10,
        "the index does not wait for storage"
    );
    assert_eq!(
        archive.search("発送", 0, 20).await.unwrap().total,
        10,
        "hits read from the journal"
    );
    assert!(
        journal_segments(dir.path()) > 0,
        "entries stay until storage has them"
    );

    flaky.set_available(true);
    archive.close(FLUSH).await.unwrap();
    assert_eq!(journal_segments(dir.path()), 0);
}

#[tokio::test]
async fn reindex_rebuilds_from_storage() {
    let dir = tempfile::tempdir().unwrap();
    let index: Arc<dyn Index> = Arc::new(MemoryIndex::new());
    let archive = open(Arc::new(MemoryStorage::new()), index.clone(), dir.path()).await;
    for n in 0..30 {
        archive
            .record(order_mail(n), RecordMeta::new(Source::App))
            .await
            .unwrap();
    }
    archive.flush(FLUSH).await.unwrap();
    index.clear().await.unwrap();
    assert_eq!(archive.search("ORD-2026", 0, 1).await.unwrap().total, 0);

    let mut reports = Vec::new();
    let indexed = archive
        .reindex(|done, total| reports.push((done, total)))
        .await
        .unwrap();
    assert_eq!(indexed, 30);
    assert_eq!(reports.last(), Some(&(30, 30)));
    assert_eq!(archive.search("ORD-2026", 0, 1).await.unwrap().total, 30);
    assert_eq!(
        ids(&archive, "ORD-2026-0000017").await,
        ["ご注文の確認 ORD-2026-0000017"]
    );
}

#[tokio::test]
async fn caller_built_documents_are_indexed_and_checked() {
    use archive_core::search::IndexDocument;
    use archive_core::{ParseOptions, RecordError, parse_message};

    let dir = tempfile::tempdir().unwrap();
    let index: Arc<dyn Index> = Arc::new(MemoryIndex::new());
    let archive = open(Arc::new(MemoryStorage::new()), index.clone(), dir.path()).await;
    let meta = RecordMeta::new(Source::Import);
    let parse = |raw: &[u8]| {
        let message = parse_message(raw, &meta, chrono::Utc::now(), &ParseOptions::default());
        IndexDocument::from_message(&message)
    };

    let wrong = archive
        .record_with_document(order_mail(1), meta.clone(), parse(&order_mail(2)))
        .await;
    assert!(
        matches!(wrong, Err(RecordError::DocumentMismatch { .. })),
        "{wrong:?}"
    );

    let undated = b"Subject: no date here\r\n\r\nbody\r\n".to_vec();
    let mut document = parse(&undated);
    document.subject = vec!["from the caller".into()];
    archive
        .record_with_document(undated, meta.clone(), document)
        .await
        .unwrap();
    archive.flush(FLUSH).await.unwrap();

    let results = archive
        .search("subject:\"from the caller\"", 0, 10)
        .await
        .unwrap();
    assert_eq!(
        results.total, 1,
        "the caller's document was indexed as given"
    );
    let stored = archive.list(0, 10).await.unwrap().0;
    assert_eq!(
        results.hits[0].date, stored[0].date,
        "the index has the stored date"
    );
}
