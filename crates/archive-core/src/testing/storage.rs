//! The storage conformance suite: one async check per rule of the
//! [`Storage`](crate::Storage) contract.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, NaiveDate};

use crate::{
    ArchiveId, EntryInfo, MemoryStorage, PackEntry, Partition, RecordMeta, Storage, StorageError,
    encode_frame,
};

/// Opens the storage under test. A second `open` on the same fixture must
/// reach the same stored data, as a process restart would.
#[async_trait]
pub trait StorageFixture: Send + Sync {
    /// Opens (or reopens) the storage.
    async fn open(&self) -> Arc<dyn Storage>;
}

/// What differs between backends, passed to the checks that depend on it.
#[derive(Debug, Clone, Copy)]
pub struct Capabilities {
    /// Size of the largest frame the suite writes, in bytes.
    pub large_frame_bytes: usize,
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities {
            large_frame_bytes: 8 << 20,
        }
    }
}

/// The fixture for [`MemoryStorage`]: every `open` returns the same
/// instance, which is what a restart means for memory.
#[derive(Debug, Default)]
pub struct MemoryFixture {
    storage: Arc<MemoryStorage>,
}

#[async_trait]
impl StorageFixture for MemoryFixture {
    async fn open(&self) -> Arc<dyn Storage> {
        self.storage.clone()
    }
}

/// Returns the partition `class/2026-12-DD`.
pub fn partition(class: &str, day: u32) -> Partition {
    Partition::new(
        class,
        NaiveDate::from_ymd_opt(2026, 12, day).expect("valid day"),
    )
    .expect("valid class")
}

/// Builds a pack entry for `raw` with a real compressed frame.
pub fn entry_for(raw: &[u8], message_id: Option<&str>) -> PackEntry {
    let info = EntryInfo {
        id: ArchiveId::of(raw),
        date: DateTime::from_timestamp_millis(1_764_840_000_123).expect("valid time"),
        recorded_at: DateTime::from_timestamp_millis(1_764_840_005_456).expect("valid time"),
        raw_len: raw.len() as u64,
        message_id: message_id.map(str::to_owned),
        idempotency_key: None,
        role: crate::EntryRole::Message,
        source: crate::Source::Import,
    };
    PackEntry {
        info,
        frame: encode_frame(&RecordMeta::default(), raw, 3, None),
    }
}

/// Builds `count` distinct entries whose bytes start with `tag`.
pub fn entries(tag: &str, count: usize) -> Vec<PackEntry> {
    (0..count)
        .map(|n| {
            let raw = format!("Message-ID: <{tag}.{n}@example.com>\r\n\r\nbody {n}\r\n");
            entry_for(raw.as_bytes(), Some(&format!("{tag}.{n}@example.com")))
        })
        .collect()
}

fn ids(entries: &[PackEntry]) -> Vec<ArchiveId> {
    entries.iter().map(|entry| entry.info.id).collect()
}

async fn listed_ids(storage: &dyn Storage, partition: &Partition) -> Vec<ArchiveId> {
    let listed = storage.list(partition).await.expect("list");
    listed.iter().map(|entry| entry.info.id).collect()
}

/// Stored entries read back with identical facts and frames.
pub async fn put_then_get(fixture: &dyn StorageFixture) {
    let storage = fixture.open().await;
    let batch = entries("get", 3);

    let outcome = storage
        .put(&partition("default", 4), batch.clone())
        .await
        .unwrap();
    assert_eq!(outcome.stored, 3, "all new entries are stored");
    assert_eq!(outcome.skipped, 0);
    assert!(
        outcome.pack.is_some(),
        "a pack is named when entries are stored"
    );

    for expected in &batch {
        let got = storage.get(&expected.info.id).await.unwrap();
        assert_eq!(got.info, expected.info, "facts read back unchanged");
        assert_eq!(got.frame, expected.frame, "frame read back byte for byte");
    }
}

/// `get` of an unknown id is `NotFound` and `contains` is false.
pub async fn missing_is_not_found(fixture: &dyn StorageFixture) {
    let storage = fixture.open().await;
    storage
        .put(&partition("default", 4), entries("present", 1))
        .await
        .unwrap();
    let unknown = ArchiveId::of(b"never stored");

    let error = storage.get(&unknown).await.unwrap_err();
    assert!(
        matches!(error, StorageError::NotFound { id } if id == unknown),
        "expected NotFound for an unknown id, got {error:?}"
    );
    assert!(!storage.contains(&unknown).await.unwrap());
}

/// `contains` is true exactly for stored ids.
pub async fn contains_stored_ids(fixture: &dyn StorageFixture) {
    let storage = fixture.open().await;
    let batch = entries("contains", 2);
    assert!(!storage.contains(&batch[0].info.id).await.unwrap());

    storage
        .put(&partition("default", 4), batch.clone())
        .await
        .unwrap();
    for id in ids(&batch) {
        assert!(
            storage.contains(&id).await.unwrap(),
            "stored id {id} is contained"
        );
    }
}

/// Putting the same batch twice stores each message once.
pub async fn put_is_idempotent(fixture: &dyn StorageFixture) {
    let storage = fixture.open().await;
    let day = partition("default", 5);
    let batch = entries("again", 4);

    storage.put(&day, batch.clone()).await.unwrap();
    let second = storage.put(&day, batch.clone()).await.unwrap();
    assert_eq!(second.stored, 0, "nothing new on the second put");
    assert_eq!(second.skipped, 4, "every entry is reported as skipped");
    assert_eq!(second.pack, None, "no pack is written for known entries");
    assert_eq!(
        listed_ids(storage.as_ref(), &day).await,
        ids(&batch),
        "one copy each"
    );
}

/// A batch mixing known and new ids stores only the new ones.
pub async fn put_skips_known_ids(fixture: &dyn StorageFixture) {
    let storage = fixture.open().await;
    let day = partition("default", 5);
    let all = entries("mixed", 5);
    storage.put(&day, all[..2].to_vec()).await.unwrap();

    let outcome = storage.put(&day, all.clone()).await.unwrap();
    assert_eq!(outcome.stored, 3);
    assert_eq!(outcome.skipped, 2);
    assert_eq!(listed_ids(storage.as_ref(), &day).await, ids(&all));
}

/// An empty batch writes nothing and creates no partition.
pub async fn empty_put_is_noop(fixture: &dyn StorageFixture) {
    let storage = fixture.open().await;
    let outcome = storage
        .put(&partition("default", 6), Vec::new())
        .await
        .unwrap();
    assert_eq!(outcome.stored, 0);
    assert_eq!(outcome.pack, None);
    assert!(
        storage.partitions().await.unwrap().is_empty(),
        "no partition appears"
    );
}

/// `list` returns exactly a partition's entries in store order, with
/// locations; other partitions do not leak in.
pub async fn list_is_exact_and_ordered(fixture: &dyn StorageFixture) {
    let storage = fixture.open().await;
    let day = partition("default", 7);
    let other = partition("default", 8);
    let first = entries("list-a", 3);
    let second = entries("list-b", 2);
    storage.put(&day, first.clone()).await.unwrap();
    storage.put(&other, entries("list-other", 2)).await.unwrap();
    storage.put(&day, second.clone()).await.unwrap();

    let listed = storage.list(&day).await.unwrap();
    let expected: Vec<ArchiveId> = ids(&first).into_iter().chain(ids(&second)).collect();
    let got: Vec<ArchiveId> = listed.iter().map(|entry| entry.info.id).collect();
    assert_eq!(
        got, expected,
        "entries of this partition only, in store order"
    );
    for entry in &listed {
        assert!(
            !entry.location.pack.is_empty(),
            "every entry names its pack"
        );
        assert!(entry.location.length > 0, "every entry has a frame length");
    }
    assert!(
        storage
            .list(&partition("default", 30))
            .await
            .unwrap()
            .is_empty()
    );
}

/// `partitions` lists exactly the non-empty partitions, sorted.
pub async fn partitions_are_sorted(fixture: &dyn StorageFixture) {
    let storage = fixture.open().await;
    let expected = vec![
        partition("default", 2),
        partition("default", 9),
        partition("marketing", 1),
    ];
    for (n, part) in expected.iter().rev().enumerate() {
        storage
            .put(part, entries(&format!("parts{n}"), 1))
            .await
            .unwrap();
    }
    assert_eq!(storage.partitions().await.unwrap(), expected);
}

/// Deleting a partition removes its messages and nothing else.
pub async fn delete_partition_is_exact(fixture: &dyn StorageFixture) {
    let storage = fixture.open().await;
    let doomed = partition("default", 10);
    let kept = partition("default", 11);
    let gone = entries("doomed", 3);
    let stay = entries("kept", 2);
    storage.put(&doomed, gone[..2].to_vec()).await.unwrap();
    storage.put(&doomed, gone[2..].to_vec()).await.unwrap();
    storage.put(&kept, stay.clone()).await.unwrap();

    assert_eq!(
        storage.delete_partition(&doomed).await.unwrap(),
        3,
        "count of deleted messages"
    );
    assert_eq!(storage.partitions().await.unwrap(), vec![kept.clone()]);
    for id in ids(&gone) {
        assert!(
            !storage.contains(&id).await.unwrap(),
            "deleted id {id} is gone"
        );
        assert!(matches!(
            storage.get(&id).await,
            Err(StorageError::NotFound { .. })
        ));
    }
    for id in ids(&stay) {
        assert!(storage.get(&id).await.is_ok(), "other partitions keep {id}");
    }
    assert_eq!(
        storage.delete_partition(&doomed).await.unwrap(),
        0,
        "second delete is empty"
    );
}

/// A deleted message can be stored again.
pub async fn put_after_delete(fixture: &dyn StorageFixture) {
    let storage = fixture.open().await;
    let day = partition("default", 12);
    let batch = entries("revive", 2);
    storage.put(&day, batch.clone()).await.unwrap();
    storage.delete_partition(&day).await.unwrap();

    let outcome = storage.put(&day, batch.clone()).await.unwrap();
    assert_eq!(outcome.stored, 2);
    assert_eq!(listed_ids(storage.as_ref(), &day).await, ids(&batch));
}

/// Frames of every byte value and of several megabytes survive unchanged.
pub async fn frames_are_opaque(fixture: &dyn StorageFixture, caps: Capabilities) {
    let storage = fixture.open().await;
    let all_bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let mut binary = entry_for(&all_bytes, None);
    binary.frame = Bytes::from(all_bytes.clone());
    let mut large = entry_for(b"large", Some("large@example.com"));
    let noise: Vec<u8> = (0..caps.large_frame_bytes as u64)
        .map(|n| (n.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    large.frame = Bytes::from(noise);

    storage
        .put(
            &partition("default", 13),
            vec![binary.clone(), large.clone()],
        )
        .await
        .unwrap();
    assert_eq!(
        storage.get(&binary.info.id).await.unwrap().frame,
        binary.frame
    );
    assert_eq!(
        storage.get(&large.info.id).await.unwrap().frame,
        large.frame
    );
}

/// Every `EntryInfo` field survives, including absent and non-ASCII ones.
pub async fn entry_info_round_trips(fixture: &dyn StorageFixture) {
    let storage = fixture.open().await;
    let mut with_key = entry_for("Subject: 注文\r\n\r\n本文".as_bytes(), Some("注文@例え.jp"));
    with_key.info.idempotency_key = Some("order-42/メール".into());
    with_key.info.date = DateTime::from_timestamp_millis(-86_400_001).unwrap();
    let without = entry_for(b"\r\n", None);

    let day = partition("default", 14);
    storage
        .put(&day, vec![with_key.clone(), without.clone()])
        .await
        .unwrap();
    assert_eq!(
        storage.get(&with_key.info.id).await.unwrap().info,
        with_key.info
    );
    assert_eq!(
        storage.get(&without.info.id).await.unwrap().info,
        without.info
    );
    let listed = storage.list(&day).await.unwrap();
    assert_eq!(listed[0].info, with_key.info, "list carries the same facts");
}

/// Concurrent puts to several partitions all land.
pub async fn concurrent_puts(fixture: &dyn StorageFixture) {
    let storage = fixture.open().await;
    let mut tasks = Vec::new();
    for n in 0..8u32 {
        let storage = storage.clone();
        tasks.push(tokio::spawn(async move {
            let batch = entries(&format!("concurrent{n}"), 20);
            storage
                .put(&partition("default", 1 + n % 3), batch.clone())
                .await
                .unwrap();
            batch
        }));
    }
    let mut expected = 0;
    for task in tasks {
        for entry in task.await.unwrap() {
            assert!(storage.contains(&entry.info.id).await.unwrap());
            expected += 1;
        }
    }
    let mut total = 0;
    for part in storage.partitions().await.unwrap() {
        total += storage.list(&part).await.unwrap().len();
    }
    assert_eq!(total, expected, "every entry listed once");
}

/// Data stored before a reopen is there after it.
pub async fn survives_reopen(fixture: &dyn StorageFixture) {
    let day = partition("default", 15);
    let batch = entries("reopen", 3);
    {
        let storage = fixture.open().await;
        storage.put(&day, batch.clone()).await.unwrap();
    }

    let storage = fixture.open().await;
    assert_eq!(storage.partitions().await.unwrap(), vec![day.clone()]);
    assert_eq!(listed_ids(storage.as_ref(), &day).await, ids(&batch));
    for expected in &batch {
        assert_eq!(
            storage.get(&expected.info.id).await.unwrap().frame,
            expected.frame
        );
    }
}

/// Dictionaries read back byte for byte and list in store order.
pub async fn dictionaries_round_trip(fixture: &dyn StorageFixture) {
    let storage = fixture.open().await;
    assert!(storage.dictionaries().await.unwrap().is_empty());
    let first = Bytes::from(vec![7u8; 40_000]);
    let second = Bytes::from_static(b"second dictionary");

    storage.put_dictionary(900, first.clone()).await.unwrap();
    storage.put_dictionary(12, second.clone()).await.unwrap();
    assert_eq!(storage.get_dictionary(900).await.unwrap(), first);
    assert_eq!(storage.get_dictionary(12).await.unwrap(), second);
    assert_eq!(
        storage.dictionaries().await.unwrap(),
        vec![900, 12],
        "store order"
    );
}

/// Storing a dictionary again is a no-op; other bytes under its id are
/// rejected; an unknown id is not found.
pub async fn dictionary_ids_are_immutable(fixture: &dyn StorageFixture) {
    let storage = fixture.open().await;
    storage
        .put_dictionary(5, Bytes::from_static(b"one"))
        .await
        .unwrap();
    storage
        .put_dictionary(5, Bytes::from_static(b"one"))
        .await
        .expect("same bytes again");

    let conflict = storage
        .put_dictionary(5, Bytes::from_static(b"two"))
        .await
        .unwrap_err();
    assert!(
        matches!(conflict, StorageError::InvalidInput { .. }),
        "got {conflict:?}"
    );
    assert_eq!(
        storage.get_dictionary(5).await.unwrap(),
        Bytes::from_static(b"one")
    );
    assert_eq!(storage.dictionaries().await.unwrap(), vec![5]);

    let missing = storage.get_dictionary(6).await.unwrap_err();
    assert!(
        matches!(missing, StorageError::DictionaryNotFound { id: 6 }),
        "got {missing:?}"
    );
}

/// Dictionaries survive a reopen and the deletion of every partition.
pub async fn dictionaries_survive_reopen_and_delete(fixture: &dyn StorageFixture) {
    let day = partition("default", 16);
    {
        let storage = fixture.open().await;
        storage
            .put_dictionary(77, Bytes::from_static(b"kept"))
            .await
            .unwrap();
        storage.put(&day, entries("dict", 2)).await.unwrap();
        storage.delete_partition(&day).await.unwrap();
    }

    let storage = fixture.open().await;
    assert_eq!(storage.dictionaries().await.unwrap(), vec![77]);
    assert_eq!(
        storage.get_dictionary(77).await.unwrap(),
        Bytes::from_static(b"kept")
    );
}

/// Expands to one `#[tokio::test]` per conformance check.
///
/// `$fixture` is evaluated once per test, so each test starts empty;
/// `$caps` is a [`Capabilities`] value.
#[macro_export]
macro_rules! storage_conformance {
    ($fixture:expr, $caps:expr) => {
        mod storage_conformance {
            #[allow(unused_imports)]
            use super::*;
            use $crate::testing::storage as suite;

            #[tokio::test]
            async fn put_then_get() {
                suite::put_then_get(&$fixture).await;
            }
            #[tokio::test]
            async fn missing_is_not_found() {
                suite::missing_is_not_found(&$fixture).await;
            }
            #[tokio::test]
            async fn contains_stored_ids() {
                suite::contains_stored_ids(&$fixture).await;
            }
            #[tokio::test]
            async fn put_is_idempotent() {
                suite::put_is_idempotent(&$fixture).await;
            }
            #[tokio::test]
            async fn put_skips_known_ids() {
                suite::put_skips_known_ids(&$fixture).await;
            }
            #[tokio::test]
            async fn empty_put_is_noop() {
                suite::empty_put_is_noop(&$fixture).await;
            }
            #[tokio::test]
            async fn list_is_exact_and_ordered() {
                suite::list_is_exact_and_ordered(&$fixture).await;
            }
            #[tokio::test]
            async fn partitions_are_sorted() {
                suite::partitions_are_sorted(&$fixture).await;
            }
            #[tokio::test]
            async fn delete_partition_is_exact() {
                suite::delete_partition_is_exact(&$fixture).await;
            }
            #[tokio::test]
            async fn put_after_delete() {
                suite::put_after_delete(&$fixture).await;
            }
            #[tokio::test]
            async fn frames_are_opaque() {
                suite::frames_are_opaque(&$fixture, $caps).await;
            }
            #[tokio::test]
            async fn entry_info_round_trips() {
                suite::entry_info_round_trips(&$fixture).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_puts() {
                suite::concurrent_puts(&$fixture).await;
            }
            #[tokio::test]
            async fn survives_reopen() {
                suite::survives_reopen(&$fixture).await;
            }
            #[tokio::test]
            async fn dictionaries_round_trip() {
                suite::dictionaries_round_trip(&$fixture).await;
            }
            #[tokio::test]
            async fn dictionary_ids_are_immutable() {
                suite::dictionary_ids_are_immutable(&$fixture).await;
            }
            #[tokio::test]
            async fn dictionaries_survive_reopen_and_delete() {
                suite::dictionaries_survive_reopen_and_delete(&$fixture).await;
            }
        }
    };
}
