//! The index conformance suite on `MemoryIndex`, the reference.

use archive_core::testing::MemoryIndexFixture;

archive_core::index_conformance!(MemoryIndexFixture::default());
