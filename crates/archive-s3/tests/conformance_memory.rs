//! The storage conformance suite on `S3Storage` over object_store's
//! in-memory store.

mod support;

use archive_core::testing::Capabilities;
use support::memory::MemoryFixture;

archive_core::storage_conformance!(MemoryFixture::new(), Capabilities::default());
