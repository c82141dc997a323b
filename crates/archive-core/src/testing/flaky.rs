//! Storage and index wrappers that fail on demand, for outage tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;

use crate::search::{Index, IndexDocument, IndexError, Query, SearchPage};
use crate::{
    ArchiveId, Damage, ListedEntry, PackEntry, Partition, PutOutcome, Storage, StorageError,
};

/// Wraps a storage and makes `put` fail with
/// [`StorageError::Unavailable`] while it is switched off. Reads always
/// pass through. Counts the puts that reached the inner storage.
#[derive(Debug)]
pub struct FlakyStorage {
    inner: Arc<dyn Storage>,
    available: AtomicBool,
    puts: AtomicU64,
    rejected: AtomicU64,
}

#[derive(Debug, thiserror::Error)]
#[error("storage switched off by the test")]
struct SwitchedOff;

impl FlakyStorage {
    /// Wraps `inner`, initially available.
    pub fn new(inner: Arc<dyn Storage>) -> FlakyStorage {
        FlakyStorage {
            inner,
            available: AtomicBool::new(true),
            puts: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
        }
    }

    /// Switches writes on or off.
    pub fn set_available(&self, available: bool) {
        self.available.store(available, Ordering::SeqCst);
    }

    /// Number of puts passed to the inner storage.
    pub fn puts(&self) -> u64 {
        self.puts.load(Ordering::SeqCst)
    }

    /// Number of puts rejected while switched off.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Storage for FlakyStorage {
    async fn put(
        &self,
        partition: &Partition,
        entries: Vec<PackEntry>,
    ) -> Result<PutOutcome, StorageError> {
        if !self.available.load(Ordering::SeqCst) {
            self.rejected.fetch_add(1, Ordering::SeqCst);
            return Err(StorageError::Unavailable {
                backend: "flaky",
                source: Box::new(SwitchedOff),
            });
        }
        self.puts.fetch_add(1, Ordering::SeqCst);
        self.inner.put(partition, entries).await
    }

    async fn get(&self, id: &ArchiveId) -> Result<PackEntry, StorageError> {
        self.inner.get(id).await
    }

    async fn contains(&self, id: &ArchiveId) -> Result<bool, StorageError> {
        self.inner.contains(id).await
    }

    async fn partitions(&self) -> Result<Vec<Partition>, StorageError> {
        self.inner.partitions().await
    }

    async fn list(&self, partition: &Partition) -> Result<Vec<ListedEntry>, StorageError> {
        self.inner.list(partition).await
    }

    async fn delete_partition(&self, partition: &Partition) -> Result<u64, StorageError> {
        self.inner.delete_partition(partition).await
    }

    async fn put_dictionary(&self, id: u32, bytes: Bytes) -> Result<(), StorageError> {
        if !self.available.load(Ordering::SeqCst) {
            self.rejected.fetch_add(1, Ordering::SeqCst);
            return Err(StorageError::Unavailable {
                backend: "flaky",
                source: Box::new(SwitchedOff),
            });
        }
        self.inner.put_dictionary(id, bytes).await
    }

    async fn get_dictionary(&self, id: u32) -> Result<Bytes, StorageError> {
        self.inner.get_dictionary(id).await
    }

    async fn dictionaries(&self) -> Result<Vec<u32>, StorageError> {
        self.inner.dictionaries().await
    }

    async fn damage(&self) -> Result<Vec<Damage>, StorageError> {
        self.inner.damage().await
    }
}

/// Wraps an index and makes `add` and `commit` fail with
/// [`IndexError::Unavailable`] while it is switched off. Searches pass
/// through.
#[derive(Debug)]
pub struct FlakyIndex {
    inner: Arc<dyn Index>,
    available: AtomicBool,
    rejected: AtomicU64,
}

impl FlakyIndex {
    /// Wraps `inner`, initially available.
    pub fn new(inner: Arc<dyn Index>) -> FlakyIndex {
        FlakyIndex {
            inner,
            available: AtomicBool::new(true),
            rejected: AtomicU64::new(0),
        }
    }

    /// Switches writes on or off.
    pub fn set_available(&self, available: bool) {
        self.available.store(available, Ordering::SeqCst);
    }

    /// Number of writes rejected while switched off.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::SeqCst)
    }

    fn check(&self) -> Result<(), IndexError> {
        if self.available.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.rejected.fetch_add(1, Ordering::SeqCst);
        Err(IndexError::Unavailable {
            backend: "flaky",
            source: Box::new(SwitchedOff),
        })
    }
}

#[async_trait]
impl Index for FlakyIndex {
    async fn add(&self, documents: Vec<IndexDocument>) -> Result<(), IndexError> {
        self.check()?;
        self.inner.add(documents).await
    }

    async fn delete(&self, ids: &[ArchiveId]) -> Result<(), IndexError> {
        self.check()?;
        self.inner.delete(ids).await
    }

    async fn commit(&self) -> Result<(), IndexError> {
        self.check()?;
        self.inner.commit().await
    }

    async fn search(
        &self,
        query: &Query,
        offset: usize,
        limit: usize,
    ) -> Result<SearchPage, IndexError> {
        self.inner.search(query, offset, limit).await
    }

    async fn contains(&self, id: &ArchiveId) -> Result<bool, IndexError> {
        self.inner.contains(id).await
    }

    async fn count(&self) -> Result<u64, IndexError> {
        self.inner.count().await
    }

    async fn clear(&self) -> Result<(), IndexError> {
        self.inner.clear().await
    }
}
