//! Behaviour of `S3Storage` that the conformance suite cannot see, on
//! object_store's in-memory store: keys, request counts, the footer cache,
//! lost replies, damage.

mod support;

use std::sync::Arc;

use archive_core::pack;
use archive_core::testing::storage::{entries, partition};
use archive_core::{ArchiveId, PackEntry, Partition, Storage, StorageError};
use archive_s3::{RequestStats, S3Storage, StoreOptions};
use bytes::Bytes;
use futures_util::TryStreamExt;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use support::faulty::{FaultyStore, PutFault};
use support::memory::{MemoryFixture, PREFIX};

async fn keys_under(store: &dyn ObjectStore, prefix: &str) -> Vec<String> {
    let mut keys: Vec<String> = store
        .list(Some(&Path::from(prefix)))
        .map_ok(|meta| meta.location.to_string())
        .try_collect()
        .await
        .unwrap();
    keys.sort();
    keys
}

async fn pack_keys(store: &dyn ObjectStore) -> Vec<String> {
    keys_under(store, &format!("{PREFIX}/packs")).await
}

fn ids(batch: &[PackEntry]) -> Vec<ArchiveId> {
    batch.iter().map(|entry| entry.info.id).collect()
}

async fn listed_ids(storage: &S3Storage, day: &Partition) -> Vec<ArchiveId> {
    let listed = storage.list(day).await.unwrap();
    listed.iter().map(|entry| entry.info.id).collect()
}

/// Opens a storage without cache on a `FaultyStore` over a new
/// `InMemory`, and returns all three.
async fn open_faulty() -> (Arc<InMemory>, Arc<FaultyStore>, S3Storage) {
    let memory = Arc::new(InMemory::new());
    let faulty = Arc::new(FaultyStore::new(memory.clone()));
    let options = StoreOptions {
        prefix: PREFIX.into(),
        name: "memory://test".into(),
        cache_dir: None,
    };
    let storage = S3Storage::open_store(faulty.clone(), options)
        .await
        .unwrap();
    (memory, faulty, storage)
}

/// Returns the requests sent between two snapshots.
fn sent(before: RequestStats, after: RequestStats) -> (u64, u64, u64, u64) {
    (
        after.put_requests - before.put_requests,
        after.get_requests - before.get_requests,
        after.head_requests - before.head_requests,
        after.list_requests - before.list_requests,
    )
}

#[tokio::test]
async fn one_put_is_one_put_request() {
    let fixture = MemoryFixture::new();
    let storage = fixture.open_s3().await;
    let before = storage.stats();

    let outcome = storage
        .put(&partition("default", 4), entries("five-hundred", 500))
        .await
        .unwrap();
    assert_eq!(outcome.stored, 500);
    assert_eq!(
        sent(before, storage.stats()),
        (1, 0, 0, 0),
        "one PUT, nothing else"
    );
    assert_eq!(storage.stats().packs_stored, 1);

    let keys = pack_keys(fixture.store.as_ref()).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let key = &keys[0];
    assert_eq!(
        outcome.pack.as_deref(),
        Some(format!("memory://test/{key}").as_str())
    );
    let file = key
        .strip_prefix("archive/packs/default/2026-12-04/")
        .unwrap_or_else(|| panic!("pack key outside its partition: {key}"));
    let (seq, name) = file.split_once('-').unwrap();
    assert_eq!(seq.len(), 20, "{file}");
    assert!(seq.bytes().all(|b| b.is_ascii_digit()), "{file}");
    assert_eq!(name, pack::name(&entries("five-hundred", 500)));
}

#[tokio::test]
async fn get_is_one_ranged_get() {
    let fixture = MemoryFixture::new();
    let batch = entries("read", 20);
    fixture
        .open_s3()
        .await
        .put(&partition("default", 4), batch.clone())
        .await
        .unwrap();

    let storage = fixture.open_s3().await;
    let before = storage.stats();
    let got = storage.get(&batch[7].info.id).await.unwrap();
    assert_eq!(got.frame, batch[7].frame);
    assert_eq!(sent(before, storage.stats()), (0, 1, 0, 0), "one GET");
    assert_eq!(
        storage.stats().bytes_downloaded - before.bytes_downloaded,
        batch[7].frame.len() as u64,
        "the GET reads the frame only"
    );
}

#[tokio::test]
async fn reopen_reads_footers_from_cache() {
    let fixture = MemoryFixture::new();
    let day = partition("default", 4);
    {
        let storage = fixture.open_s3().await;
        for n in 0..3 {
            storage
                .put(&day, entries(&format!("cached{n}"), 10))
                .await
                .unwrap();
        }
    }

    let warm = fixture.open_s3().await;
    assert_eq!(
        sent(RequestStats::default(), warm.stats()),
        (0, 0, 0, 2),
        "two LISTs (packs, dictionaries) and no footer GET"
    );
    assert_eq!(warm.list(&day).await.unwrap().len(), 30);

    let empty_cache = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        cache_dir: Some(empty_cache.path().to_path_buf()),
        ..fixture.options()
    };
    let cold = S3Storage::open_store(fixture.store.clone(), options.clone())
        .await
        .unwrap();
    assert_eq!(
        sent(RequestStats::default(), cold.stats()),
        (0, 3, 0, 2),
        "one footer GET per small pack"
    );
    drop(cold);
    let rewarmed = S3Storage::open_store(fixture.store.clone(), options)
        .await
        .unwrap();
    assert_eq!(
        rewarmed.stats().get_requests,
        0,
        "the cold open filled the cache"
    );
}

#[tokio::test]
async fn no_cache_reads_every_footer() {
    let fixture = MemoryFixture::new();
    let day = partition("default", 4);
    fixture
        .open_s3()
        .await
        .put(&day, entries("uncached", 5))
        .await
        .unwrap();
    let options = StoreOptions {
        cache_dir: None,
        ..fixture.options()
    };
    for _ in 0..2 {
        let storage = S3Storage::open_store(fixture.store.clone(), options.clone())
            .await
            .unwrap();
        assert_eq!(storage.stats().get_requests, 1);
        assert_eq!(storage.list(&day).await.unwrap().len(), 5);
    }
}

#[tokio::test]
async fn large_footer_needs_second_get() {
    let fixture = MemoryFixture::new();
    let day = partition("default", 4);
    let batch = entries("a-message-id-long-enough-to-grow-the-footer-rows", 3000);
    fixture
        .open_s3()
        .await
        .put(&day, batch.clone())
        .await
        .unwrap();

    let options = StoreOptions {
        cache_dir: None,
        ..fixture.options()
    };
    let storage = S3Storage::open_store(fixture.store.clone(), options)
        .await
        .unwrap();
    assert_eq!(
        storage.stats().get_requests,
        2,
        "footer longer than the first read"
    );
    assert_eq!(listed_ids(&storage, &day).await, ids(&batch));
}

#[tokio::test]
async fn list_keeps_store_order_of_many_packs() {
    let fixture = MemoryFixture::new();
    let day = partition("default", 4);
    let batches: Vec<Vec<PackEntry>> = (0..12).map(|n| entries(&format!("order{n}"), 3)).collect();
    {
        let storage = fixture.open_s3().await;
        for batch in &batches {
            storage.put(&day, batch.clone()).await.unwrap();
        }
    }

    let expected: Vec<ArchiveId> = batches.iter().flat_map(|batch| ids(batch)).collect();
    let storage = fixture.open_s3().await;
    assert_eq!(listed_ids(&storage, &day).await, expected);
    let keys = pack_keys(fixture.store.as_ref()).await;
    assert_eq!(keys.len(), 12, "one object per pack");
}

#[tokio::test]
async fn sequence_continues_above_listed_packs() {
    let fixture = MemoryFixture::new();
    let day = partition("default", 4);
    let early = entries("from-the-future", 2);
    let (bytes, _) = pack::encode(&early);
    let future_key = format!(
        "{PREFIX}/packs/default/2026-12-04/10000000000000000000-{}",
        pack::name(&early)
    );
    fixture
        .store
        .put(&Path::from(future_key.as_str()), PutPayload::from(bytes))
        .await
        .unwrap();

    let storage = fixture.open_s3().await;
    let late = entries("after", 2);
    storage.put(&day, late.clone()).await.unwrap();

    let keys = pack_keys(fixture.store.as_ref()).await;
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], future_key);
    assert!(
        keys[1].contains("/10000000000000000001-"),
        "new pack follows the highest listed sequence: {keys:?}"
    );
    let expected: Vec<ArchiveId> = ids(&early).into_iter().chain(ids(&late)).collect();
    assert_eq!(listed_ids(&storage, &day).await, expected);
}

#[tokio::test]
async fn lost_reply_is_not_uploaded_twice() {
    let (memory, faulty, storage) = open_faulty().await;
    let day = partition("default", 4);
    let batch = entries("lost-reply", 50);

    faulty.script(&[PutFault::LoseReply]);
    let outcome = storage.put(&day, batch.clone()).await.unwrap();
    assert_eq!(outcome.stored, 50);
    let stats = storage.stats();
    assert_eq!(stats.put_requests, 2, "the first PUT, and its retry");
    assert_eq!(
        stats.head_requests, 1,
        "the retry reads the existing pack's size"
    );
    assert_eq!(stats.packs_stored, 1);
    assert_eq!(pack_keys(memory.as_ref()).await.len(), 1, "one object");
    assert_eq!(listed_ids(&storage, &day).await, ids(&batch));
}

#[tokio::test]
async fn retried_batch_reuses_its_key() {
    let (memory, faulty, storage) = open_faulty().await;
    let day = partition("default", 4);
    let batch = entries("retried", 40);

    // The pack lands, its reply is lost, and then the server goes away.
    faulty.script(&[PutFault::LoseReply, PutFault::Refuse, PutFault::Refuse]);
    let error = storage.put(&day, batch.clone()).await.unwrap_err();
    assert!(error.is_retryable(), "{error}");
    assert_eq!(faulty.faults_left(), 0);
    assert!(!storage.contains(&batch[0].info.id).await.unwrap());
    let keys_after_failure = pack_keys(memory.as_ref()).await;
    assert_eq!(keys_after_failure.len(), 1);

    let outcome = storage.put(&day, batch.clone()).await.unwrap();
    assert_eq!(outcome.stored, 40);
    assert_eq!(
        pack_keys(memory.as_ref()).await,
        keys_after_failure,
        "the retry found the pack at the same key"
    );
    assert_eq!(listed_ids(&storage, &day).await, ids(&batch));
}

#[tokio::test]
async fn unavailable_store_is_retryable_and_names_key() {
    let (memory, faulty, storage) = open_faulty().await;
    let batch = entries("refused", 3);

    faulty.script(&[PutFault::Refuse; 3]);
    let error = storage
        .put(&partition("default", 4), batch.clone())
        .await
        .unwrap_err();
    assert!(error.is_retryable(), "{error}");
    assert!(
        matches!(error, StorageError::Unavailable { backend: "s3", .. }),
        "{error:?}"
    );
    let message = error.to_string();
    let expected =
        "storage backend s3 is unavailable: PUT memory://test/archive/packs/default/2026-12-04/";
    assert!(message.starts_with(expected), "{message}");
    assert!(message.contains(&pack::name(&batch)), "{message}");
    assert!(message.contains("the server is unavailable"), "{message}");
    assert_eq!(storage.stats().put_requests, 3, "three quick attempts");
    assert!(pack_keys(memory.as_ref()).await.is_empty());
}

#[tokio::test]
async fn damaged_footer_is_reported_at_open() {
    let fixture = MemoryFixture::new();
    let day = partition("default", 4);
    let good = entries("good", 2);
    fixture
        .open_s3()
        .await
        .put(&day, good.clone())
        .await
        .unwrap();
    let bad_key = format!("{PREFIX}/packs/default/2026-12-04/00000000000000000001-bad.pack");
    fixture
        .store
        .put(
            &Path::from(bad_key.as_str()),
            PutPayload::from(vec![7u8; 200]),
        )
        .await
        .unwrap();

    let storage = fixture.open_s3().await;
    let damage = storage.damage().await.unwrap();
    assert_eq!(damage.len(), 1, "{damage:?}");
    assert_eq!(damage[0].location, format!("memory://test/{bad_key}"));
    assert!(
        damage[0].reason.contains("end marker"),
        "{}",
        damage[0].reason
    );
    assert_eq!(listed_ids(&storage, &day).await, ids(&good));
}

#[tokio::test]
async fn damaged_frame_is_corrupt() {
    let fixture = MemoryFixture::new();
    let day = partition("default", 4);
    let batch = entries("flip", 2);
    let storage = fixture.open_s3().await;
    storage.put(&day, batch.clone()).await.unwrap();

    let key = Path::from(pack_keys(fixture.store.as_ref()).await[0].as_str());
    let mut bytes = fixture
        .store
        .get(&key)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let listed = storage.list(&day).await.unwrap();
    bytes[listed[1].location.offset as usize + 2] ^= 0xff;
    fixture
        .store
        .put(&key, PutPayload::from(bytes))
        .await
        .unwrap();

    let error = storage.get(&batch[1].info.id).await.unwrap_err();
    let StorageError::Corrupt { location, reason } = &error else {
        panic!("expected Corrupt, got {error:?}");
    };
    assert_eq!(location, &listed[1].location.to_string());
    assert!(reason.contains("fails its checksum"), "{reason}");
    assert_eq!(storage.damage().await.unwrap().len(), 1);
    assert!(
        storage.get(&batch[0].info.id).await.is_ok(),
        "the other frame is intact"
    );
}

#[tokio::test]
async fn missing_pack_object_is_corrupt() {
    let fixture = MemoryFixture::new();
    let day = partition("default", 4);
    let batch = entries("vanished", 1);
    let storage = fixture.open_s3().await;
    storage.put(&day, batch.clone()).await.unwrap();
    let key = Path::from(pack_keys(fixture.store.as_ref()).await[0].as_str());
    fixture.store.delete(&key).await.unwrap();

    let error = storage.get(&batch[0].info.id).await.unwrap_err();
    let StorageError::Corrupt { reason, .. } = &error else {
        panic!("expected Corrupt, got {error:?}");
    };
    assert_eq!(reason, "the pack object is missing from the bucket");
}

#[tokio::test]
async fn foreign_objects_are_ignored() {
    let fixture = MemoryFixture::new();
    for key in [
        "archive/packs/default/2026-12-04/notes.txt",
        "archive/packs/README",
        "archive/dictionaries/junk.bin",
    ] {
        fixture
            .store
            .put(&Path::from(key), PutPayload::from_static(b"x"))
            .await
            .unwrap();
    }
    let storage = fixture.open_s3().await;
    assert!(storage.partitions().await.unwrap().is_empty());
    assert!(storage.dictionaries().await.unwrap().is_empty());
    assert!(storage.damage().await.unwrap().is_empty());
}

#[tokio::test]
async fn delete_removes_objects_and_cache() {
    let fixture = MemoryFixture::new();
    let doomed = partition("default", 10);
    let kept = partition("default", 11);
    let storage = fixture.open_s3().await;
    storage.put(&doomed, entries("doomed-a", 2)).await.unwrap();
    storage.put(&doomed, entries("doomed-b", 3)).await.unwrap();
    storage.put(&kept, entries("kept", 1)).await.unwrap();
    let cached = fixture
        .cache
        .path()
        .join("archive/packs/default/2026-12-10");
    assert!(cached.is_dir(), "puts fill the cache");

    assert_eq!(storage.delete_partition(&doomed).await.unwrap(), 5);
    let keys = pack_keys(fixture.store.as_ref()).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(
        keys[0].starts_with("archive/packs/default/2026-12-11/"),
        "{keys:?}"
    );
    assert!(!cached.exists(), "the partition's cache entries are gone");
    assert_eq!(storage.stats().deleted_objects, 2);
}

#[tokio::test]
async fn dictionary_keys_keep_store_order() {
    let fixture = MemoryFixture::new();
    let storage = fixture.open_s3().await;
    storage
        .put_dictionary(900, Bytes::from_static(b"first"))
        .await
        .unwrap();
    storage
        .put_dictionary(12, Bytes::from_static(b"second"))
        .await
        .unwrap();
    assert_eq!(
        keys_under(fixture.store.as_ref(), "archive/dictionaries").await,
        vec![
            "archive/dictionaries/000000000001-0000000900.zdict".to_owned(),
            "archive/dictionaries/000000000002-0000000012.zdict".to_owned(),
        ]
    );

    let reopened = fixture.open_s3().await;
    assert_eq!(
        reopened.get_dictionary(12).await.unwrap(),
        Bytes::from_static(b"second")
    );
    assert_eq!(
        reopened.stats().get_requests,
        0,
        "the dictionary came from the cache"
    );
}
