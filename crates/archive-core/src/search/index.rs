//! The `Index` trait: the only thing searches read.
//!
//! The archive builds an [`IndexDocument`] for every message and hands
//! batches to [`Index::add`]; it calls [`Index::commit`] at most about once
//! a second, so a recorded message is searchable within a second. Storage
//! stays the source of truth: an index can always be cleared and rebuilt
//! from storage (`sentmail reindex`).
//!
//! # Contract
//!
//! - **Exact results.** `search` returns exactly the documents for which
//!   [`matches`](super::matches) is true, each once, ordered by date (newest
//!   first) and then by id, with `total` counting all of them. No false
//!   positives, no misses, whatever the engine does inside.
//! - **Visibility and durability.** Documents given to `add` and ids given
//!   to `delete` take effect for `search`, `contains` and `count` when
//!   `commit` returns, and survive a restart from then on.
//! - **Idempotence.** Adding a document whose id is indexed replaces it;
//!   adding the same document twice leaves one.
//! - **Errors** say whether a retry can help: see
//!   [`IndexError::is_retryable`].
//!
//! The conformance suite in `testing` (feature `testing`) checks this
//! contract with exact result sets; every backend runs it.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::document::IndexDocument;
use super::query::Query;
use crate::ArchiveId;

/// One search result: a message id and its date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexHit {
    /// The archive id.
    pub id: ArchiveId,
    /// The message date.
    pub date: DateTime<Utc>,
}

/// One page of search results.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchPage {
    /// Number of matching messages in all pages.
    pub total: u64,
    /// The hits of this page, newest first.
    pub hits: Vec<IndexHit>,
}

/// The error type of [`Index`] operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// The backend cannot run this query.
    #[error("the search index cannot run this query: {reason}")]
    Unsupported {
        /// Why.
        reason: String,
    },
    /// A local file operation failed.
    #[error("{operation} {path} failed: {source}")]
    Io {
        /// The operation.
        operation: &'static str,
        /// The path concerned.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The backend is unreachable or overloaded; retrying later can help.
    #[error("search index {backend} is unavailable: {source}")]
    Unavailable {
        /// The backend's name.
        backend: &'static str,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Any other backend failure.
    #[error("search index {backend} failed: {source}")]
    Other {
        /// The backend's name.
        backend: &'static str,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl IndexError {
    /// Returns true when the same request may succeed later.
    pub fn is_retryable(&self) -> bool {
        match self {
            IndexError::Unavailable { .. } => true,
            IndexError::Io { source, .. } => !matches!(
                source.kind(),
                std::io::ErrorKind::NotFound
                    | std::io::ErrorKind::PermissionDenied
                    | std::io::ErrorKind::InvalidData
            ),
            _ => false,
        }
    }
}

/// A search index of archived messages.
///
/// See the module documentation for the contract every implementation keeps.
#[async_trait]
pub trait Index: Send + Sync + fmt::Debug {
    /// Adds or replaces documents; they take effect at the next commit.
    async fn add(&self, documents: Vec<IndexDocument>) -> Result<(), IndexError>;

    /// Removes documents; they disappear at the next commit. Unknown ids are
    /// ignored.
    async fn delete(&self, ids: &[ArchiveId]) -> Result<(), IndexError>;

    /// Makes every earlier `add` and `delete` searchable and durable.
    async fn commit(&self) -> Result<(), IndexError>;

    /// Returns one page of the messages matching `query`, newest first,
    /// and the total count.
    async fn search(
        &self,
        query: &Query,
        offset: usize,
        limit: usize,
    ) -> Result<SearchPage, IndexError>;

    /// Returns true if a committed document has this id.
    async fn contains(&self, id: &ArchiveId) -> Result<bool, IndexError>;

    /// Returns the number of committed documents.
    async fn count(&self) -> Result<u64, IndexError>;

    /// Removes every document, committed at once. Used before a rebuild.
    async fn clear(&self) -> Result<(), IndexError>;
}
