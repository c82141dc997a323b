//! Outages of a real S3-compatible server during recording. Each test
//! starts its own s3s-fs on a loopback port, kills it (SIGKILL) and starts
//! it again on the same port and directory.
//!
//! Needs the feature `server-tests` and the s3s-fs binary named by
//! SENTMAIL_TEST_S3S_FS, which scripts/with-s3s.sh sets.

#![cfg(feature = "server-tests")]

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use archive_core::pack::{self, TRAILER_LEN};
use archive_core::{Archive, ArchiveId, ArchiveOptions, RecordError, RecordMeta, Source};
use archive_s3::{S3Config, S3Storage};
use futures_util::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use support::mail::message;
use support::server::PrivateServer;
use tokio::task::JoinSet;

const MESSAGES: usize = 10_000;
/// Maximum wait for the mover to reach a state the test waits for.
const PATIENCE: Duration = Duration::from_secs(60);

fn options() -> ArchiveOptions {
    ArchiveOptions {
        pack_max_messages: 500,
        storage_retry_initial: Duration::from_millis(50),
        storage_retry_max: Duration::from_millis(500),
        ..ArchiveOptions::default()
    }
}

/// Records messages `range` with eight concurrent callers and returns
/// their ids.
async fn record_all(archive: &Archive, range: std::ops::Range<usize>) -> Vec<ArchiveId> {
    let mut tasks = JoinSet::new();
    let numbers: Vec<usize> = range.collect();
    for chunk in numbers.chunks(numbers.len().div_ceil(8)) {
        let archive = archive.clone();
        let chunk = chunk.to_vec();
        tasks.spawn(async move {
            let mut ids = Vec::with_capacity(chunk.len());
            for n in chunk {
                let receipt = archive
                    .record(message(n), RecordMeta::new(Source::Import))
                    .await
                    .unwrap_or_else(|error| panic!("recording message {n} failed: {error}"));
                ids.push(receipt.id);
            }
            ids
        });
    }
    let mut ids = Vec::new();
    while let Some(done) = tasks.join_next().await {
        ids.extend(done.unwrap());
    }
    ids
}

/// Polls `condition` every 50 ms until it is true, for at most
/// [`PATIENCE`].
async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {PATIENCE:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads every pack object under `prefix` and returns the ids each one's
/// footer lists, by key.
async fn ids_by_pack(store: &dyn ObjectStore, prefix: &str) -> HashMap<String, Vec<ArchiveId>> {
    let packs: Vec<Path> = store
        .list(Some(&Path::from(format!("{prefix}/packs"))))
        .map_ok(|meta| meta.location)
        .try_collect()
        .await
        .unwrap();
    let mut found = HashMap::new();
    for key in packs {
        let bytes = store.get(&key).await.unwrap().bytes().await.unwrap();
        let size = bytes.len() as u64;
        let trailer = pack::decode_trailer(&bytes[bytes.len() - TRAILER_LEN..], size).unwrap();
        let start = trailer.footer_offset as usize;
        let footer = &bytes[start..start + trailer.footer_len as usize];
        let rows = pack::decode_footer(footer, &trailer).unwrap();
        let ids = rows.iter().map(|row| row.info.id).collect();
        found.insert(key.to_string(), ids);
    }
    found
}

fn store_of(config: &S3Config) -> Arc<dyn ObjectStore> {
    config.build_store().expect("build a client for the check")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_survives_server_restart() {
    let root = tempfile::tempdir().unwrap();
    let mut server = PrivateServer::start(root.path());
    let config = server.server().config("import");
    let cache = tempfile::tempdir().unwrap();
    let storage = Arc::new(
        S3Storage::open(&config, Some(cache.path().to_path_buf()))
            .await
            .unwrap(),
    );
    let journal = tempfile::tempdir().unwrap();
    let archive = Archive::builder(storage.clone(), journal.path())
        .options(options())
        .open()
        .await
        .unwrap();

    let mut expected = record_all(&archive, 0..3000).await;
    wait_until("the first pack is stored", || {
        storage.stats().packs_stored >= 1
    })
    .await;

    server.kill();
    let requests_before_outage = storage.stats().put_requests;
    expected.extend(record_all(&archive, 3000..7000).await);
    wait_until("a put fails while the server is down", || {
        storage.stats().put_requests > requests_before_outage
    })
    .await;
    let stored_during_outage = storage.stats().packs_stored;

    server.restart();
    expected.extend(record_all(&archive, 7000..MESSAGES).await);
    archive.close(PATIENCE).await.unwrap();
    let stats = storage.stats();
    assert!(
        stats.packs_stored > stored_during_outage,
        "packs were stored after the restart: {stats:?}"
    );

    let by_pack = ids_by_pack(store_of(&config).as_ref(), "import").await;
    let mut seen: HashMap<ArchiveId, &str> = HashMap::new();
    for (key, ids) in &by_pack {
        for id in ids {
            if let Some(first) = seen.insert(*id, key) {
                panic!("message {id} is stored twice: in {first} and in {key}");
            }
        }
    }
    let expected: HashSet<ArchiveId> = expected.into_iter().collect();
    assert_eq!(expected.len(), MESSAGES, "distinct messages recorded");
    let stored: HashSet<ArchiveId> = seen.keys().copied().collect();
    let missing = expected.difference(&stored).count();
    assert_eq!(missing, 0, "recorded messages missing from the bucket");
    assert_eq!(stored.len(), MESSAGES, "no message beyond those recorded");
    let names: HashSet<&str> = by_pack
        .keys()
        .map(|key| key.rsplit_once('-').unwrap().1)
        .collect();
    assert_eq!(names.len(), by_pack.len(), "no batch stored as two packs");
    assert_eq!(
        stats.packs_stored as usize,
        by_pack.len(),
        "every pack object was counted once by the storage"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_journal_while_server_down() {
    let root = tempfile::tempdir().unwrap();
    let mut server = PrivateServer::start(root.path());
    let config = server.server().config("outage");
    let storage = Arc::new(S3Storage::open(&config, None).await.unwrap());
    let journal = tempfile::tempdir().unwrap();
    let mut options = options();
    options.journal.max_bytes = 64 << 10;
    options.journal.segment_bytes = 8 << 10;
    options.pack_max_messages = 20;
    options.dictionary_training_messages = 0;
    let archive = Archive::builder(storage.clone(), journal.path())
        .options(options)
        .open()
        .await
        .unwrap();

    server.kill();
    let mut accepted = Vec::new();
    let error = loop {
        let n = accepted.len();
        assert!(n < 10_000, "the journal limit must stop recording");
        match archive
            .record(message(n), RecordMeta::new(Source::App))
            .await
        {
            Ok(receipt) => accepted.push(receipt.id),
            Err(error) => break error,
        }
    };
    assert!(
        matches!(error, RecordError::JournalFull { .. }),
        "{error:?}"
    );
    assert!(error.is_retryable());
    let text = error.to_string();
    assert!(
        text.starts_with("capture journal is full (")
            && text.ends_with(" bytes) because storage is behind; retry later"),
        "{text}"
    );
    assert!(storage.stats().put_requests > 0, "puts were attempted");
    assert_eq!(storage.stats().packs_stored, 0);

    server.restart();
    archive.flush(PATIENCE).await.unwrap();
    let by_pack = ids_by_pack(store_of(&config).as_ref(), "outage").await;
    let stored: Vec<ArchiveId> = by_pack.values().flatten().copied().collect();
    let unique: HashSet<ArchiveId> = stored.iter().copied().collect();
    assert_eq!(stored.len(), unique.len(), "no message stored twice");
    assert_eq!(
        unique,
        accepted.iter().copied().collect(),
        "every accepted message stored"
    );
    archive
        .record(message(20_000), RecordMeta::new(Source::App))
        .await
        .expect("room again after the outage");
}
