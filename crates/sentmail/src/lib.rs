//! The embedded sent-mail archive, for a shop backend that records the
//! mail it sends in-process: packs on the local filesystem, a tantivy
//! search index and the capture journal, all in one data directory.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use archive_core::{RecordMeta, Source};
//! use sentmail::EmbeddedArchive;
//!
//! let archive = EmbeddedArchive::open("./sentmail-data").await?;
//! let raw = b"From: shop@example.jp\r\nTo: hoge.123@example.com\r\n\
//!             Subject: order\r\n\r\nORD-2026-0012345\r\n";
//! let meta = RecordMeta::new(Source::App)
//!     .with_kind("order_confirmation")
//!     .with_order_id("ORD-2026-0012345");
//! let receipt = archive.record(&raw[..], meta).await?;
//! println!("archived as {}", receipt.id);
//! archive.close().await?;
//! # Ok(())
//! # }
//! ```
//!
//! The `sentmail` command reads the same directory: `sentmail search
//! order:ORD-2026-0012345 --data ./sentmail-data`.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use archive_core::search::IndexError;
use archive_core::{Archive, ArchiveOptions, FlushError, OpenError, Storage, StorageError};
use archive_fs::FsStorage;
use archive_tantivy::TantivyIndex;

pub use archive_core;

/// How long [`EmbeddedArchive::close`] waits for pending messages to reach
/// storage and the index.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(600);

/// The error of opening or closing an [`EmbeddedArchive`].
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// The pack storage could not be opened.
    #[error("opening the archive storage in {dir} failed: {source}")]
    Storage {
        /// The data directory.
        dir: PathBuf,
        /// The underlying error.
        #[source]
        source: StorageError,
    },
    /// The search index could not be opened or closed.
    #[error("the search index in {dir} failed: {source}")]
    Index {
        /// The index directory.
        dir: PathBuf,
        /// The underlying error.
        #[source]
        source: IndexError,
    },
    /// The archive could not be opened.
    #[error("opening the archive in {dir} failed: {source}")]
    Open {
        /// The data directory.
        dir: PathBuf,
        /// The underlying error.
        #[source]
        source: OpenError,
    },
    /// Pending messages did not reach storage and the index in time. They
    /// stay in the capture journal and move on the next open.
    #[error("moving pending messages into storage and the index failed: {0}")]
    Flush(#[source] FlushError),
}

/// An archive opened in a data directory: `DIR/packs` and
/// `DIR/dictionaries` (or other storage), `DIR/index` and `DIR/journal`.
/// It dereferences to [`Archive`], so `record`, `open` and `search` work
/// on it directly.
#[derive(Debug, Clone)]
pub struct EmbeddedArchive {
    archive: Archive,
    index: Arc<TantivyIndex>,
    dir: PathBuf,
}

impl EmbeddedArchive {
    /// Opens or creates the archive in `dir` with default options.
    pub async fn open(dir: impl AsRef<Path>) -> Result<EmbeddedArchive, EmbeddedError> {
        EmbeddedArchive::open_with(dir, ArchiveOptions::default()).await
    }

    /// Opens or creates the archive in `dir` with `options`.
    pub async fn open_with(
        dir: impl AsRef<Path>,
        options: ArchiveOptions,
    ) -> Result<EmbeddedArchive, EmbeddedError> {
        let dir = dir.as_ref().to_owned();
        let storage = FsStorage::open(&dir)
            .await
            .map_err(|source| EmbeddedError::Storage {
                dir: dir.clone(),
                source,
            })?;
        EmbeddedArchive::open_on(Arc::new(storage), dir, options).await
    }

    /// Opens the archive on `storage`, with the index and the journal in
    /// `dir`.
    pub async fn open_on(
        storage: Arc<dyn Storage>,
        dir: impl AsRef<Path>,
        options: ArchiveOptions,
    ) -> Result<EmbeddedArchive, EmbeddedError> {
        let dir = dir.as_ref().to_owned();
        let index_dir = dir.join("index");
        let opened = tokio::task::spawn_blocking({
            let index_dir = index_dir.clone();
            move || TantivyIndex::open(&index_dir)
        })
        .await
        .expect("index open task");
        let index = Arc::new(opened.map_err(|source| EmbeddedError::Index {
            dir: index_dir,
            source,
        })?);
        let archive = Archive::builder(storage, dir.join("journal"))
            .index(index.clone())
            .options(options)
            .open()
            .await
            .map_err(|source| EmbeddedError::Open {
                dir: dir.clone(),
                source,
            })?;
        Ok(EmbeddedArchive {
            archive,
            index,
            dir,
        })
    }

    /// Returns the archive.
    pub fn archive(&self) -> &Archive {
        &self.archive
    }

    /// Moves pending messages into storage and the index, waiting at most
    /// [`CLOSE_TIMEOUT`], and closes both. Other clones can still read.
    pub async fn close(&self) -> Result<(), EmbeddedError> {
        self.archive
            .close(CLOSE_TIMEOUT)
            .await
            .map_err(EmbeddedError::Flush)?;
        self.index
            .close()
            .await
            .map_err(|source| EmbeddedError::Index {
                dir: self.dir.join("index"),
                source,
            })
    }
}

impl From<&EmbeddedArchive> for Archive {
    fn from(embedded: &EmbeddedArchive) -> Archive {
        embedded.archive.clone()
    }
}

impl Deref for EmbeddedArchive {
    type Target = Archive;

    fn deref(&self) -> &Archive {
        &self.archive
    }
}
