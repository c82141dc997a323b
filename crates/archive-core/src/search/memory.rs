//! An in-memory `Index` that evaluates the reference meaning directly.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::document::IndexDocument;
use super::index::{Index, IndexError, IndexHit, SearchPage};
use super::matcher::matches;
use super::query::Query;
use crate::ArchiveId;

/// Keeps documents in memory and scans them all for every search. Exact by
/// definition; fast enough for tests and small archives.
#[derive(Debug, Default)]
pub struct MemoryIndex {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    committed: BTreeMap<ArchiveId, IndexDocument>,
    staged: Vec<Change>,
}

#[derive(Debug)]
enum Change {
    Add(Box<IndexDocument>),
    Delete(ArchiveId),
}

impl MemoryIndex {
    /// Creates an empty index.
    pub fn new() -> MemoryIndex {
        MemoryIndex::default()
    }
}

#[async_trait]
impl Index for MemoryIndex {
    async fn add(&self, documents: Vec<IndexDocument>) -> Result<(), IndexError> {
        let mut state = self.state.lock().expect("memory index lock");
        state.staged.extend(
            documents
                .into_iter()
                .map(|document| Change::Add(Box::new(document))),
        );
        Ok(())
    }

    async fn delete(&self, ids: &[ArchiveId]) -> Result<(), IndexError> {
        let mut state = self.state.lock().expect("memory index lock");
        state.staged.extend(ids.iter().copied().map(Change::Delete));
        Ok(())
    }

    async fn commit(&self) -> Result<(), IndexError> {
        let mut state = self.state.lock().expect("memory index lock");
        for change in std::mem::take(&mut state.staged) {
            match change {
                Change::Add(document) => {
                    state.committed.insert(document.id, *document);
                }
                Change::Delete(id) => {
                    state.committed.remove(&id);
                }
            }
        }
        Ok(())
    }

    async fn search(
        &self,
        query: &Query,
        offset: usize,
        limit: usize,
    ) -> Result<SearchPage, IndexError> {
        let state = self.state.lock().expect("memory index lock");
        let mut hits: Vec<IndexHit> = state
            .committed
            .values()
            .filter(|document| matches(document, query))
            .map(|document| IndexHit {
                id: document.id,
                date: document.date,
            })
            .collect();
        hits.sort_by(|a, b| b.date.cmp(&a.date).then_with(|| a.id.cmp(&b.id)));
        let total = hits.len() as u64;
        let hits = hits.into_iter().skip(offset).take(limit).collect();
        Ok(SearchPage { total, hits })
    }

    async fn contains(&self, id: &ArchiveId) -> Result<bool, IndexError> {
        Ok(self
            .state
            .lock()
            .expect("memory index lock")
            .committed
            .contains_key(id))
    }

    async fn count(&self) -> Result<u64, IndexError> {
        Ok(self
            .state
            .lock()
            .expect("memory index lock")
            .committed
            .len() as u64)
    }

    async fn clear(&self) -> Result<(), IndexError> {
        let mut state = self.state.lock().expect("memory index lock");
        state.committed.clear();
        state.staged.clear();
        Ok(())
    }
}
