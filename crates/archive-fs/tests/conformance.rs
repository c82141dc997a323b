//! The storage conformance suite on `FsStorage`.

use std::sync::Arc;

use archive_core::Storage;
use archive_core::testing::{Capabilities, StorageFixture};
use archive_fs::FsStorage;
use async_trait::async_trait;
use tempfile::TempDir;

/// Opens a new `FsStorage` on the same temporary directory at every call,
/// as a process restart would. The suite drops the previous storage first,
/// which releases the directory lock.
struct FsFixture {
    dir: TempDir,
}

impl FsFixture {
    fn new() -> FsFixture {
        FsFixture {
            dir: tempfile::tempdir().expect("create temporary directory"),
        }
    }
}

#[async_trait]
impl StorageFixture for FsFixture {
    async fn open(&self) -> Arc<dyn Storage> {
        Arc::new(
            FsStorage::open(self.dir.path())
                .await
                .expect("open FsStorage"),
        )
    }
}

archive_core::storage_conformance!(FsFixture::new(), Capabilities::default());
