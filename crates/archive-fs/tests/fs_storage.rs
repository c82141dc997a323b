//! Behaviour of `FsStorage` that the conformance suite cannot see: files on
//! disk, crash leftovers, damage, locking and sequence numbers.

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use archive_core::pack::{self, TRAILER_LEN};
use archive_core::testing::storage::{entries, partition};
use archive_core::{ArchiveId, PackEntry, Storage, StorageError};
use archive_fs::FsStorage;

mod common;
use common::files_below;

fn pack_files(root: &Path) -> Vec<PathBuf> {
    files_below(&root.join("packs"))
}

fn flip_byte(path: &Path, offset: u64) {
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut byte = [0u8; 1];
    file.read_exact_at(&mut byte, offset).unwrap();
    byte[0] ^= 0xff;
    file.write_all_at(&byte, offset).unwrap();
    file.sync_all().unwrap();
}

fn ids(batch: &[PackEntry]) -> Vec<ArchiveId> {
    batch.iter().map(|entry| entry.info.id).collect()
}

async fn listed_ids(storage: &FsStorage, day: &archive_core::Partition) -> Vec<ArchiveId> {
    storage
        .list(day)
        .await
        .unwrap()
        .iter()
        .map(|entry| entry.info.id)
        .collect()
}

fn seq_of(path: &Path) -> u64 {
    let name = path.file_name().unwrap().to_str().unwrap();
    name.split_once('-').unwrap().0.parse().unwrap()
}

#[tokio::test]
async fn one_put_makes_one_pack() {
    let temp = tempfile::tempdir().unwrap();
    let storage = FsStorage::open(temp.path()).await.unwrap();
    let batch = entries("hundred", 100);

    let outcome = storage.put(&partition("default", 4), batch).await.unwrap();
    assert_eq!(outcome.stored, 100);

    let packs = pack_files(temp.path());
    assert_eq!(packs.len(), 1, "one pack file for one put: {packs:?}");
    assert_eq!(outcome.pack.as_deref(), Some(packs[0].to_str().unwrap()));
    let name = packs[0].file_name().unwrap().to_str().unwrap();
    assert!(name.ends_with(".pack"), "{name}");
    assert_eq!(
        name.len(),
        "000000000001-".len() + 32 + ".pack".len(),
        "{name}"
    );
    assert!(packs[0].starts_with(temp.path().join("packs/default/2026-12-04")));
}

#[tokio::test]
async fn leftover_temp_file_is_removed() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("packs/default/2026-12-04");
    fs::create_dir_all(&dir).unwrap();
    let unfinished = entries("unfinished", 3);
    let (bytes, _) = pack::encode(&unfinished);
    let leftover = dir.join(format!("000000000009-{}.tmp", pack::name(&unfinished)));
    fs::write(&leftover, &bytes).unwrap();

    let storage = FsStorage::open(temp.path()).await.unwrap();
    assert!(!leftover.exists(), "open removes the temporary file");
    for id in ids(&unfinished) {
        assert!(
            !storage.contains(&id).await.unwrap(),
            "entry {id} of a temporary file is absent"
        );
    }
    assert!(storage.partitions().await.unwrap().is_empty());
    assert!(
        storage.damage().await.unwrap().is_empty(),
        "a temporary file is not damage"
    );

    let outcome = storage
        .put(&partition("default", 4), entries("after", 1))
        .await
        .unwrap();
    let written = PathBuf::from(outcome.pack.unwrap());
    assert!(
        seq_of(&written) > 9,
        "sequence numbers of removed temporary files are not reused"
    );
}

#[tokio::test]
async fn damaged_footer_is_reported() {
    let temp = tempfile::tempdir().unwrap();
    let day = partition("default", 4);
    let damaged = entries("damaged", 3);
    let healthy = entries("healthy", 2);
    let damaged_pack = {
        let storage = FsStorage::open(temp.path()).await.unwrap();
        let outcome = storage.put(&day, damaged.clone()).await.unwrap();
        storage.put(&day, healthy.clone()).await.unwrap();
        PathBuf::from(outcome.pack.unwrap())
    };
    let len = fs::metadata(&damaged_pack).unwrap().len();
    flip_byte(&damaged_pack, len - TRAILER_LEN as u64 - 5);

    let storage = FsStorage::open(temp.path()).await.unwrap();
    let damage = storage.damage().await.unwrap();
    assert_eq!(damage.len(), 1, "{damage:?}");
    assert_eq!(damage[0].location, damaged_pack.display().to_string());
    assert!(
        damage[0].reason.contains("footer checksum"),
        "{}",
        damage[0].reason
    );
    assert!(damaged_pack.exists(), "a damaged pack stays on disk");

    for id in ids(&damaged) {
        assert!(
            !storage.contains(&id).await.unwrap(),
            "entry {id} of the damaged pack is absent"
        );
        assert!(matches!(
            storage.get(&id).await,
            Err(StorageError::NotFound { .. })
        ));
    }
    for entry in &healthy {
        assert_eq!(
            storage.get(&entry.info.id).await.unwrap().frame,
            entry.frame
        );
    }
    assert_eq!(listed_ids(&storage, &day).await, ids(&healthy));

    let again = storage.put(&day, damaged.clone()).await.unwrap();
    assert_eq!(
        again.stored, 3,
        "entries of a damaged pack can be stored again"
    );
}

#[tokio::test]
async fn truncated_pack_is_reported() {
    let temp = tempfile::tempdir().unwrap();
    let pack_path = {
        let storage = FsStorage::open(temp.path()).await.unwrap();
        let outcome = storage
            .put(&partition("default", 4), entries("cut", 2))
            .await
            .unwrap();
        PathBuf::from(outcome.pack.unwrap())
    };
    let len = fs::metadata(&pack_path).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&pack_path)
        .unwrap()
        .set_len(len - 10)
        .unwrap();

    let storage = FsStorage::open(temp.path()).await.unwrap();
    let damage = storage.damage().await.unwrap();
    assert_eq!(damage.len(), 1, "{damage:?}");
    assert!(
        damage[0].reason.contains("end marker"),
        "{}",
        damage[0].reason
    );
    assert!(storage.partitions().await.unwrap().is_empty());
}

#[tokio::test]
async fn flipped_frame_byte_is_corrupt() {
    let temp = tempfile::tempdir().unwrap();
    let storage = FsStorage::open(temp.path()).await.unwrap();
    let day = partition("default", 4);
    let batch = entries("flip", 3);
    storage.put(&day, batch.clone()).await.unwrap();
    let listed = storage.list(&day).await.unwrap();
    let target = &listed[1].location;

    flip_byte(Path::new(&target.pack), target.offset + 3);

    let error = storage.get(&batch[1].info.id).await.unwrap_err();
    let StorageError::Corrupt { location, reason } = &error else {
        panic!("expected Corrupt, got {error:?}");
    };
    assert_eq!(
        location,
        &format!(
            "{} at offset {} ({} bytes)",
            target.pack, target.offset, target.length
        )
    );
    assert!(reason.contains("checksum"), "{reason}");
    assert!(!error.is_retryable());

    let damage = storage.damage().await.unwrap();
    assert_eq!(damage.len(), 1, "the damaged frame is reported: {damage:?}");
    assert_eq!(&damage[0].location, location);
    assert_eq!(
        storage.get(&batch[0].info.id).await.unwrap().frame,
        batch[0].frame
    );
}

#[tokio::test]
async fn second_open_is_rejected() {
    let temp = tempfile::tempdir().unwrap();
    let first = FsStorage::open(temp.path()).await.unwrap();

    let error = FsStorage::open(temp.path()).await.unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains(&temp.path().display().to_string()),
        "{message}"
    );
    assert!(
        message.contains("another process (a sentmail command, or an application with the archive open) is using it"),
        "{message}"
    );

    drop(first);
    FsStorage::open(temp.path())
        .await
        .expect("open after the first storage is dropped");
}

#[tokio::test]
async fn deleted_partition_stays_deleted() {
    let temp = tempfile::tempdir().unwrap();
    let doomed = partition("default", 10);
    let remaining = partition("default", 11);
    let deleted = entries("gone", 3);
    {
        let storage = FsStorage::open(temp.path()).await.unwrap();
        storage.put(&doomed, deleted.clone()).await.unwrap();
        storage.put(&remaining, entries("kept", 1)).await.unwrap();
        assert_eq!(storage.delete_partition(&doomed).await.unwrap(), 3);
    }

    let storage = FsStorage::open(temp.path()).await.unwrap();
    assert_eq!(storage.partitions().await.unwrap(), vec![remaining]);
    for id in ids(&deleted) {
        assert!(
            !storage.contains(&id).await.unwrap(),
            "deleted {id} stays deleted"
        );
    }
    let class_dir = temp.path().join("packs/default");
    let names: Vec<String> = fs::read_dir(&class_dir)
        .unwrap()
        .map(|item| item.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["2026-12-11".to_owned()],
        "only the kept partition is on disk"
    );
}

#[tokio::test]
async fn interrupted_delete_finishes_on_open() {
    let temp = tempfile::tempdir().unwrap();
    let day = partition("default", 10);
    let batch = entries("interrupted", 2);
    {
        let storage = FsStorage::open(temp.path()).await.unwrap();
        storage.put(&day, batch.clone()).await.unwrap();
    }
    let class_dir = temp.path().join("packs/default");
    let tombstone = class_dir.join("2026-12-10.deleting-99");
    fs::rename(class_dir.join("2026-12-10"), &tombstone).unwrap();

    let storage = FsStorage::open(temp.path()).await.unwrap();
    assert!(!tombstone.exists(), "open removes the tombstone");
    assert!(storage.partitions().await.unwrap().is_empty());
    assert!(!storage.contains(&batch[0].info.id).await.unwrap());

    let outcome = storage.put(&day, entries("next", 1)).await.unwrap();
    assert!(
        seq_of(Path::new(&outcome.pack.unwrap())) > 99,
        "tombstone sequence is not reused"
    );
}

#[tokio::test]
async fn list_order_survives_reopen() {
    let temp = tempfile::tempdir().unwrap();
    let day = partition("default", 4);
    let mut stored = Vec::new();
    let mut names = Vec::new();
    {
        let storage = FsStorage::open(temp.path()).await.unwrap();
        for n in 0..12 {
            let batch = entries(&format!("order{n}"), 1);
            names.push(pack::name(&batch));
            stored.extend(ids(&batch));
            storage.put(&day, batch).await.unwrap();
        }
    }
    let mut sorted_names = names.clone();
    sorted_names.sort();
    assert_ne!(
        sorted_names, names,
        "pack names alone would give another order"
    );

    let storage = FsStorage::open(temp.path()).await.unwrap();
    assert_eq!(
        listed_ids(&storage, &day).await,
        stored,
        "list follows store order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_puts_of_same_batch_store_once() {
    let temp = tempfile::tempdir().unwrap();
    let storage = Arc::new(FsStorage::open(temp.path()).await.unwrap());
    let day = partition("default", 4);
    let batch = entries("same", 50);

    let mut tasks = Vec::new();
    for _ in 0..4 {
        let storage = storage.clone();
        let day = day.clone();
        let batch = batch.clone();
        tasks.push(tokio::spawn(async move {
            storage.put(&day, batch).await.unwrap()
        }));
    }
    let mut stored = 0;
    let mut skipped = 0;
    for task in tasks {
        let outcome = task.await.unwrap();
        stored += outcome.stored;
        skipped += outcome.skipped;
    }

    assert_eq!(stored, 50, "each id stored once");
    assert_eq!(skipped, 150, "every other copy skipped");
    assert_eq!(pack_files(temp.path()).len(), 1, "one pack on disk");
    assert_eq!(listed_ids(&storage, &day).await, ids(&batch));
}

#[tokio::test]
async fn duplicates_in_batch_are_skipped() {
    let temp = tempfile::tempdir().unwrap();
    let storage = FsStorage::open(temp.path()).await.unwrap();
    let day = partition("default", 4);
    let pair = entries("pair", 2);
    let batch = vec![pair[0].clone(), pair[1].clone(), pair[0].clone()];

    let outcome = storage.put(&day, batch).await.unwrap();
    assert_eq!(outcome.stored, 2);
    assert_eq!(outcome.skipped, 1);
    assert_eq!(listed_ids(&storage, &day).await, ids(&pair));
}

#[tokio::test]
async fn copied_pack_is_served_once() {
    let temp = tempfile::tempdir().unwrap();
    let day = partition("default", 4);
    let batch = entries("copied", 3);
    let original = {
        let storage = FsStorage::open(temp.path()).await.unwrap();
        PathBuf::from(
            storage
                .put(&day, batch.clone())
                .await
                .unwrap()
                .pack
                .unwrap(),
        )
    };
    let name = original.file_name().unwrap().to_str().unwrap();
    let copy = original.with_file_name(format!("000000000050{}", &name[12..]));
    fs::copy(&original, &copy).unwrap();

    let storage = FsStorage::open(temp.path()).await.unwrap();
    assert!(storage.damage().await.unwrap().is_empty());
    let listed = storage.list(&day).await.unwrap();
    assert_eq!(listed.len(), 3, "each id listed once");
    for entry in &listed {
        assert_eq!(
            entry.location.pack,
            original.display().to_string(),
            "the older pack serves"
        );
    }
}

#[tokio::test]
async fn unknown_files_are_ignored() {
    let temp = tempfile::tempdir().unwrap();
    let day = partition("default", 4);
    let batch = entries("known", 2);
    {
        let storage = FsStorage::open(temp.path()).await.unwrap();
        storage.put(&day, batch.clone()).await.unwrap();
    }
    fs::write(temp.path().join("packs/README"), "notes").unwrap();
    fs::write(
        temp.path().join("packs/default/2026-12-04/notes.txt"),
        "notes",
    )
    .unwrap();
    fs::create_dir_all(temp.path().join("packs/Not-A-Class/2026-12-04")).unwrap();
    fs::create_dir_all(temp.path().join("packs/default/yesterday")).unwrap();

    let storage = FsStorage::open(temp.path()).await.unwrap();
    assert!(storage.damage().await.unwrap().is_empty());
    assert_eq!(storage.partitions().await.unwrap(), vec![day.clone()]);
    assert_eq!(listed_ids(&storage, &day).await, ids(&batch));
    assert!(
        temp.path()
            .join("packs/default/2026-12-04/notes.txt")
            .exists(),
        "foreign files stay"
    );
}

#[tokio::test]
async fn open_creates_missing_root() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("a/b/archive");
    let storage = FsStorage::open(&root).await.unwrap();
    assert!(root.join("packs").is_dir());
    assert!(root.join("LOCK").is_file());
    assert_eq!(storage.root(), root);
}

#[tokio::test]
async fn delete_removes_leftover_tombstones() {
    let temp = tempfile::tempdir().unwrap();
    let storage = FsStorage::open(temp.path()).await.unwrap();
    let day = partition("default", 10);
    storage.put(&day, entries("tombstone", 2)).await.unwrap();
    let leftover = temp.path().join("packs/default/2026-12-10.deleting-77");
    fs::create_dir(&leftover).unwrap();
    fs::write(leftover.join("000000000001-ab.pack"), b"left behind").unwrap();
    let other_day = temp.path().join("packs/default/2026-12-11.deleting-78");
    fs::create_dir(&other_day).unwrap();

    assert_eq!(storage.delete_partition(&day).await.unwrap(), 2);
    assert!(!leftover.exists(), "a failed earlier removal is finished");
    assert!(other_day.exists(), "tombstones of other days stay");
    assert!(!temp.path().join("packs/default/2026-12-10").exists());
}
