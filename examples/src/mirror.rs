//! A custom [`Storage`]: every pack and dictionary written to two
//! backends, reads served by the first and, when it fails, the second.
//! For example two disks, or a local directory and a bucket.

use std::sync::Arc;

use archive_core::{
    ArchiveId, ListedEntry, PackEntry, Partition, PutOutcome, Storage, StorageError,
};
use async_trait::async_trait;
use bytes::Bytes;

/// Two storages kept identical.
#[derive(Debug, Clone)]
pub struct MirrorStorage {
    primary: Arc<dyn Storage>,
    secondary: Arc<dyn Storage>,
}

impl MirrorStorage {
    /// Mirrors `primary` to `secondary`.
    pub fn new(primary: Arc<dyn Storage>, secondary: Arc<dyn Storage>) -> MirrorStorage {
        MirrorStorage { primary, secondary }
    }
}

#[async_trait]
impl Storage for MirrorStorage {
    /// Stores the pack in both. It is durable only when both have it, so
    /// an error from either fails the put and the archive retries it.
    /// Retrying is safe because each side skips ids it holds.
    async fn put(
        &self,
        partition: &Partition,
        entries: Vec<PackEntry>,
    ) -> Result<PutOutcome, StorageError> {
        let (first, second) = tokio::join!(
            self.primary.put(partition, entries.clone()),
            self.secondary.put(partition, entries)
        );
        second?;
        first
    }

    async fn get(&self, id: &ArchiveId) -> Result<PackEntry, StorageError> {
        match self.primary.get(id).await {
            Ok(entry) => Ok(entry),
            Err(error) => {
                tracing::warn!(%id, %error, "primary storage failed; reading the mirror");
                self.secondary.get(id).await
            }
        }
    }

    async fn contains(&self, id: &ArchiveId) -> Result<bool, StorageError> {
        self.primary.contains(id).await
    }

    async fn partitions(&self) -> Result<Vec<Partition>, StorageError> {
        self.primary.partitions().await
    }

    async fn list(&self, partition: &Partition) -> Result<Vec<ListedEntry>, StorageError> {
        self.primary.list(partition).await
    }

    async fn delete_partition(&self, partition: &Partition) -> Result<u64, StorageError> {
        let (first, second) = tokio::join!(
            self.primary.delete_partition(partition),
            self.secondary.delete_partition(partition)
        );
        second?;
        first
    }

    async fn put_dictionary(&self, id: u32, bytes: Bytes) -> Result<(), StorageError> {
        let (first, second) = tokio::join!(
            self.primary.put_dictionary(id, bytes.clone()),
            self.secondary.put_dictionary(id, bytes)
        );
        first.and(second)
    }

    async fn get_dictionary(&self, id: u32) -> Result<Bytes, StorageError> {
        match self.primary.get_dictionary(id).await {
            Ok(bytes) => Ok(bytes),
            Err(_) => self.secondary.get_dictionary(id).await,
        }
    }

    async fn dictionaries(&self) -> Result<Vec<u32>, StorageError> {
        self.primary.dictionaries().await
    }
}
