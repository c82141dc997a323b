//! The storage conformance suite on `MemoryStorage`.

use archive_core::testing::{Capabilities, MemoryFixture};

archive_core::storage_conformance!(MemoryFixture::default(), Capabilities::default());
