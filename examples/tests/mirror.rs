//! The custom storage example passes the storage conformance suite, and
//! reads fall back to the mirror.

use std::sync::Arc;

use archive_core::testing::storage::{entries, partition};
use archive_core::testing::{Capabilities, StorageFixture};
use archive_core::{MemoryStorage, Storage};
use async_trait::async_trait;
use sentmail_examples::mirror::MirrorStorage;

/// Two memory storages; every open mirrors the same pair.
#[derive(Default)]
struct MirrorFixture {
    primary: Arc<MemoryStorage>,
    secondary: Arc<MemoryStorage>,
}

#[async_trait]
impl StorageFixture for MirrorFixture {
    async fn open(&self) -> Arc<dyn Storage> {
        Arc::new(MirrorStorage::new(
            self.primary.clone(),
            self.secondary.clone(),
        ))
    }
}

archive_core::storage_conformance!(MirrorFixture::default(), Capabilities::default());

#[tokio::test]
async fn reads_fall_back_to_the_mirror() {
    let primary = Arc::new(MemoryStorage::new());
    let secondary = Arc::new(MemoryStorage::new());
    let mirror = MirrorStorage::new(primary.clone(), secondary.clone());
    let batch = entries("mirror", 3);
    let day = partition("default", 4);
    mirror.put(&day, batch.clone()).await.unwrap();

    assert_eq!(primary.list(&day).await.unwrap().len(), 3);
    assert_eq!(secondary.list(&day).await.unwrap().len(), 3);

    // Losing the first copy leaves every message readable.
    primary.delete_partition(&day).await.unwrap();
    for entry in &batch {
        assert_eq!(mirror.get(&entry.info.id).await.unwrap(), *entry);
    }
}
