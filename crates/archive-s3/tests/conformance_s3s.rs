//! The storage conformance suite on `S3Storage` against s3s-fs, a real
//! S3-compatible server with signature checking, on loopback.
//!
//! Needs the feature `server-tests` and the server that
//! scripts/with-s3s.sh starts; without the server every test fails with
//! a message saying how to run it.

#![cfg(feature = "server-tests")]

mod support;

use std::sync::Arc;

use archive_core::Storage;
use archive_core::testing::{Capabilities, StorageFixture};
use archive_s3::S3Storage;
use async_trait::async_trait;
use support::server::{Server, unique_prefix};
use tempfile::TempDir;

/// A fresh prefix in the shared bucket and a cache directory; every open
/// reaches both, as a restart would.
struct S3sFixture {
    server: Server,
    prefix: String,
    cache: TempDir,
}

impl S3sFixture {
    fn new() -> S3sFixture {
        S3sFixture {
            server: Server::shared(),
            prefix: unique_prefix("conformance"),
            cache: tempfile::tempdir().expect("create temporary directory"),
        }
    }
}

#[async_trait]
impl StorageFixture for S3sFixture {
    async fn open(&self) -> Arc<dyn Storage> {
        let config = self.server.config(&self.prefix);
        let storage = S3Storage::open(&config, Some(self.cache.path().to_path_buf()))
            .await
            .expect("open S3Storage on s3s-fs");
        Arc::new(storage)
    }
}

archive_core::storage_conformance!(S3sFixture::new(), Capabilities::default());
