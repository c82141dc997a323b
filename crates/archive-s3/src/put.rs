//! `put`: reserve the new ids, upload one pack with a create-only PUT, then
//! publish it in the catalog.

use std::collections::HashSet;
use std::sync::Arc;

use archive_core::pack::{self, FooterEntry, TRAILER_LEN};
use archive_core::{ArchiveId, PackEntry, Partition, PutOutcome, StorageError};
use bytes::Bytes;
use object_store::path::Path;
use object_store::{PutMode, PutOptions, PutPayload};

use crate::error::{BACKEND, Failure};
use crate::index::{self, IndexError};
use crate::request::{self, Counters};
use crate::storage::Inner;

/// Stores the entries of `batch` whose ids are not stored yet as one pack
/// object.
///
/// The upload runs in its own task, so a put whose future is dropped still
/// finishes and publishes its pack.
pub(crate) async fn put(
    inner: &Arc<Inner>,
    partition: &Partition,
    batch: Vec<PackEntry>,
) -> Result<PutOutcome, StorageError> {
    if let Some(entry) = batch
        .iter()
        .find(|entry| u32::try_from(entry.frame.len()).is_err())
    {
        return Err(StorageError::InvalidInput {
            reason: format!(
                "frame of {} is {} bytes, but a pack frame must be shorter than 4 GiB",
                entry.info.id,
                entry.frame.len()
            ),
        });
    }
    if batch.is_empty() {
        return Ok(PutOutcome::default());
    }

    let guard = inner.partition_guard.clone().read_owned().await;
    let (reserved, skipped) = reserve(inner, batch).await;
    if reserved.entries.is_empty() {
        return Ok(PutOutcome {
            stored: 0,
            skipped,
            pack: None,
        });
    }

    let inner = inner.clone();
    let partition = partition.clone();
    let upload = tokio::spawn(async move {
        let _guard = guard;
        let pack = upload(&inner, &partition, &reserved.entries).await?;
        Ok(PutOutcome {
            stored: reserved.entries.len(),
            skipped,
            pack: Some(pack),
        })
    });
    match upload.await {
        Ok(result) => result,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(error) => Err(StorageError::Other {
            backend: BACKEND,
            source: Box::new(error),
        }),
    }
}

/// Entries whose ids a put has reserved. Dropping it releases the ids and
/// wakes the puts waiting for them.
struct Reserved {
    inner: Arc<Inner>,
    entries: Vec<PackEntry>,
}

impl Drop for Reserved {
    fn drop(&mut self) {
        let ids: Vec<ArchiveId> = self.entries.iter().map(|entry| entry.info.id).collect();
        self.inner.catalog().release(&ids);
        self.inner.released.notify_waiters();
    }
}

/// Takes the entries of `batch` that are neither stored nor repeated
/// earlier in the batch, reserves their ids, and returns them with the
/// number skipped. While another put has reserved one of these ids, waits:
/// skipping the id before that put has stored it would let this put
/// succeed without its entries being durable.
async fn reserve(inner: &Arc<Inner>, batch: Vec<PackEntry>) -> (Reserved, usize) {
    loop {
        // Created before the check, so a release between the check and the
        // wait still wakes this put.
        let released = inner.released.notified();
        {
            let mut catalog = inner.catalog();
            let waits = batch
                .iter()
                .any(|entry| catalog.is_reserved(&entry.info.id));
            if !waits {
                let total = batch.len();
                let mut seen = HashSet::with_capacity(total);
                let entries: Vec<PackEntry> = batch
                    .into_iter()
                    .filter(|entry| !catalog.contains(&entry.info.id) && seen.insert(entry.info.id))
                    .collect();
                let ids: Vec<ArchiveId> = entries.iter().map(|entry| entry.info.id).collect();
                catalog.reserve(&ids);
                let skipped = total - entries.len();
                let reserved = Reserved {
                    inner: inner.clone(),
                    entries,
                };
                return (reserved, skipped);
            }
        }
        released.await;
    }
}

/// Uploads `entries` as one pack, publishes it and returns its name for
/// `PutOutcome::pack`.
async fn upload(
    inner: &Inner,
    partition: &Partition,
    entries: &[PackEntry],
) -> Result<String, StorageError> {
    let name = pack::name(entries);
    let seq = inner.pack_seq(partition, &name);
    let key = inner.layout.pack(partition, seq, &name);
    let location = inner.display(&key);
    let (bytes, rows) = pack::encode(entries);
    let size = bytes.len() as u64;
    let footer_offset = pack::decode_trailer(&bytes[bytes.len() - TRAILER_LEN..], size)
        .expect("a freshly encoded pack has a valid trailer")
        .footer_offset;
    let bytes = Bytes::from(bytes);

    let options = || PutOptions {
        mode: PutMode::Create,
        ..PutOptions::default()
    };
    let payload = PutPayload::from_bytes(bytes.clone());
    let created = request::send("PUT", &location, &inner.counters.put, || {
        Counters::add(&inner.counters.uploaded, size);
        inner.store.put_opts(&key, payload.clone(), options())
    })
    .await;

    let (rows, tail, size) = match created {
        Ok(_) => (rows, bytes.slice(footer_offset as usize..).to_vec(), size),
        Err(error) if error.failure == Failure::AlreadyExists => {
            let index = adopt_existing(inner, partition, &name, &key, &location, &rows).await?;
            (index.rows, index.tail, index.size)
        }
        Err(error) => return Err(error.into()),
    };

    store_in_cache(inner, &key, size, tail).await;
    let stored = inner
        .catalog()
        .add_pack(partition, seq, key, location.clone(), rows);
    inner.forget_unfinished(partition, &name);
    Counters::add(&inner.counters.packs, 1);
    tracing::debug!(pack = %location, entries = stored, bytes = size, "stored pack");
    Ok(location)
}

/// Handles a create-only PUT that found its key taken: an earlier attempt
/// of the same batch stored the pack and its reply was lost. The existing
/// pack counts as this put's pack if its footer lists exactly the batch's
/// ids. Otherwise the key is forgotten, so the next attempt uses another.
async fn adopt_existing(
    inner: &Inner,
    partition: &Partition,
    name: &str,
    key: &Path,
    location: &str,
    expected: &[FooterEntry],
) -> Result<index::PackIndex, StorageError> {
    let size = index::head_size(inner, key, location).await?;
    let existing = match index::fetch(inner, key, location, size).await {
        Ok(existing) => existing,
        Err(IndexError::Request(error)) => return Err(error.into()),
        Err(IndexError::Damaged(reason)) => {
            inner.forget_unfinished(partition, name);
            return Err(StorageError::Corrupt {
                location: location.to_owned(),
                reason: format!(
                    "an object already exists at the pack's key and is not a readable pack: {reason}"
                ),
            });
        }
    };
    let same_ids = existing.rows.len() == expected.len()
        && existing
            .rows
            .iter()
            .zip(expected)
            .all(|(found, wanted)| found.info.id == wanted.info.id);
    if !same_ids {
        inner.forget_unfinished(partition, name);
        return Err(StorageError::Corrupt {
            location: location.to_owned(),
            reason: "an object already exists at the pack's key and contains other messages, so the next attempt uses a new key".into(),
        });
    }
    tracing::info!(
        pack = %location,
        entries = expected.len(),
        "pack was already stored by an earlier attempt whose reply was lost; using it"
    );
    Ok(existing)
}

/// Writes the pack's tail to the cache on the blocking pool.
async fn store_in_cache(inner: &Inner, key: &Path, size: u64, tail: Vec<u8>) {
    let cache = inner.cache.clone();
    let key = key.clone();
    let _ = tokio::task::spawn_blocking(move || cache.store(&key, size, &tail)).await;
}
