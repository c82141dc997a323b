//! The fixture on object_store's `InMemory`: every open reaches the same
//! store and the same cache directory, as a restart would.

use std::sync::Arc;

use archive_core::Storage;
use archive_core::testing::StorageFixture;
use archive_s3::{S3Storage, StoreOptions};
use async_trait::async_trait;
use object_store::memory::InMemory;
use tempfile::TempDir;

/// Key prefix the memory fixtures use.
pub const PREFIX: &str = "archive";

/// An in-memory store and a cache directory that outlive each storage.
pub struct MemoryFixture {
    pub store: Arc<InMemory>,
    pub cache: TempDir,
}

impl MemoryFixture {
    pub fn new() -> MemoryFixture {
        MemoryFixture {
            store: Arc::new(InMemory::new()),
            cache: tempfile::tempdir().expect("create temporary directory"),
        }
    }

    /// Returns the options of every open: prefix, name and cache.
    pub fn options(&self) -> StoreOptions {
        StoreOptions {
            prefix: PREFIX.into(),
            name: "memory://test".into(),
            cache_dir: Some(self.cache.path().to_path_buf()),
        }
    }

    /// Opens a storage on the shared store.
    pub async fn open_s3(&self) -> S3Storage {
        S3Storage::open_store(self.store.clone(), self.options())
            .await
            .expect("open S3Storage on InMemory")
    }
}

#[async_trait]
impl StorageFixture for MemoryFixture {
    async fn open(&self) -> Arc<dyn Storage> {
        Arc::new(self.open_s3().await)
    }
}
