//! The index conformance suite on `TantivyIndex`.

use std::sync::Arc;

use archive_core::search::Index;
use archive_core::testing::IndexFixture;
use archive_tantivy::TantivyIndex;
use async_trait::async_trait;

/// A temporary index root; every `open` opens a new `TantivyIndex` on it,
/// as a restarted process would.
struct TempIndex {
    root: tempfile::TempDir,
}

impl TempIndex {
    fn new() -> TempIndex {
        TempIndex {
            root: tempfile::tempdir().expect("temporary directory"),
        }
    }
}

#[async_trait]
impl IndexFixture for TempIndex {
    async fn open(&self) -> Arc<dyn Index> {
        Arc::new(TantivyIndex::open(self.root.path()).expect("open index"))
    }
}

archive_core::index_conformance!(TempIndex::new());
