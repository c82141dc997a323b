//! Compression dictionaries, one object each under `<prefix>/dictionaries/`.
//!
//! A dictionary's key carries a sequence number (`<seq>-<id>.zdict`), so
//! listing the prefix after a restart gives the store order. Each is
//! written once with a create-only PUT and never deleted, because frames
//! that use it cannot be read without it.

use archive_core::StorageError;
use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use crate::error::{Failure, RequestError};
use crate::request::{self, Counters};
use crate::storage::Inner;

/// One stored dictionary.
#[derive(Debug, Clone)]
pub(crate) struct DictionaryObject {
    /// The dictionary id.
    pub(crate) id: u32,
    /// Its sequence number: its place in the store order.
    pub(crate) seq: u64,
    /// The object key.
    pub(crate) key: Path,
    /// The object size in bytes.
    pub(crate) size: u64,
}

/// The stored dictionaries in store order.
#[derive(Debug, Default)]
pub(crate) struct DictionaryObjects {
    objects: Vec<DictionaryObject>,
}

impl DictionaryObjects {
    /// Builds the list from listed objects in any order. Of two objects with
    /// the same id, the one stored first counts.
    pub(crate) fn from_listing(mut objects: Vec<DictionaryObject>) -> DictionaryObjects {
        objects.sort_by_key(|object| object.seq);
        let mut kept: Vec<DictionaryObject> = Vec::with_capacity(objects.len());
        for object in objects {
            if kept.iter().any(|known| known.id == object.id) {
                tracing::warn!(id = object.id, key = %object.key, "ignoring a second object of a stored dictionary id");
                continue;
            }
            kept.push(object);
        }
        DictionaryObjects { objects: kept }
    }

    /// Returns the ids in store order.
    pub(crate) fn ids(&self) -> Vec<u32> {
        self.objects.iter().map(|object| object.id).collect()
    }

    fn find(&self, id: u32) -> Option<&DictionaryObject> {
        self.objects.iter().find(|object| object.id == id)
    }

    /// Reads dictionary `id` from the cache, or with one GET.
    pub(crate) async fn read(&self, inner: &Inner, id: u32) -> Result<Bytes, StorageError> {
        let object = self
            .find(id)
            .ok_or(StorageError::DictionaryNotFound { id })?;
        read_object(inner, &object.key, object.size).await
    }

    /// Stores dictionary `id`, or checks that the stored one has the same
    /// bytes.
    pub(crate) async fn write(
        &mut self,
        inner: &Inner,
        id: u32,
        bytes: Bytes,
    ) -> Result<(), StorageError> {
        if let Some(object) = self.find(id) {
            let stored = read_object(inner, &object.key, object.size).await?;
            return check_same(inner, &object.key, id, &stored, &bytes);
        }

        let seq = self
            .objects
            .iter()
            .map(|object| object.seq)
            .max()
            .unwrap_or(0)
            + 1;
        let key = inner.layout.dictionary(seq, id);
        let location = inner.display(&key);
        let size = bytes.len() as u64;
        let payload = PutPayload::from_bytes(bytes.clone());
        let created = request::send("PUT", &location, &inner.counters.put, || {
            Counters::add(&inner.counters.uploaded, size);
            let options = PutOptions {
                mode: PutMode::Create,
                ..PutOptions::default()
            };
            inner.store.put_opts(&key, payload.clone(), options)
        })
        .await;
        match created {
            Ok(_) => {}
            // An earlier attempt whose reply was lost stored it.
            Err(error) if error.failure == Failure::AlreadyExists => {
                let stored = get_object(inner, &key, &location).await?;
                check_same(inner, &key, id, &stored, &bytes)?;
            }
            Err(error) => return Err(error.into()),
        }
        store_in_cache(inner, &key, &bytes).await;
        self.objects.push(DictionaryObject { id, seq, key, size });
        tracing::info!(id, key = %location, bytes = size, "stored compression dictionary");
        Ok(())
    }
}

fn check_same(
    inner: &Inner,
    key: &Path,
    id: u32,
    stored: &[u8],
    offered: &[u8],
) -> Result<(), StorageError> {
    if stored == offered {
        return Ok(());
    }
    Err(StorageError::InvalidInput {
        reason: format!(
            "dictionary {id} is already stored with other bytes in {}",
            inner.display(key)
        ),
    })
}

/// Reads a whole dictionary object from the cache, or with one GET that
/// then fills the cache.
async fn read_object(inner: &Inner, key: &Path, size: u64) -> Result<Bytes, StorageError> {
    let cache = inner.cache.clone();
    let cache_key = key.clone();
    let cached = tokio::task::spawn_blocking(move || cache.load(&cache_key, size))
        .await
        .ok()
        .flatten();
    if let Some(bytes) = cached.filter(|bytes| bytes.len() as u64 == size) {
        return Ok(Bytes::from(bytes));
    }
    let bytes = get_object(inner, key, &inner.display(key)).await?;
    store_in_cache(inner, key, &bytes).await;
    Ok(bytes)
}

async fn get_object(inner: &Inner, key: &Path, location: &str) -> Result<Bytes, RequestError> {
    let bytes = request::send("GET", location, &inner.counters.get, || async {
        inner.store.get(key).await?.bytes().await
    })
    .await?;
    Counters::add(&inner.counters.downloaded, bytes.len() as u64);
    Ok(bytes)
}

async fn store_in_cache(inner: &Inner, key: &Path, bytes: &Bytes) {
    let cache = inner.cache.clone();
    let key = key.clone();
    let bytes = bytes.clone();
    let _ =
        tokio::task::spawn_blocking(move || cache.store(&key, bytes.len() as u64, &bytes)).await;
}
