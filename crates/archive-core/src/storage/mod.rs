//! The `Storage` trait: where compressed messages live for good.
//!
//! The archive writes every message to its capture journal first. A
//! background task later hands whole batches of one partition to
//! [`Storage::put`], which writes them as one pack. Storage therefore never
//! receives a half-written message and needs no write-ahead log of its own.
//!
//! # Contract
//!
//! - **Durability.** When `put` returns `Ok`, every entry it was given is
//!   durable and visible to `get`, `contains` and `list`, also after a crash
//!   or restart of the process.
//! - **Atomicity.** A failed or interrupted `put` leaves no partial entries
//!   visible: afterwards each entry is either fully readable or absent.
//! - **Idempotence.** `put` skips entries whose id is already stored and
//!   reports them as skipped. Storing a batch twice leaves one copy of each
//!   message. Replaying the journal after a crash relies on this.
//! - **Not found.** `get` of an id that was never stored, or whose partition
//!   was deleted, returns [`StorageError::NotFound`]. `contains` returns
//!   `false` for such ids.
//! - **Ordering.** `list` returns a partition's entries in the order they
//!   were stored; `partitions` returns partitions sorted.
//! - **Frames are opaque.** Storage keeps `PackEntry::frame` byte for byte
//!   and does not decompress it.
//! - **Dictionaries** are as durable as packs once `put_dictionary`
//!   returns, because frames that use them are unreadable without them.
//!   Storing a dictionary id again with the same bytes is a no-op; with
//!   other bytes it is rejected as `InvalidInput`. `dictionaries` lists ids
//!   in the order they were stored, and they are never deleted with a
//!   partition.
//! - **Errors** say whether a retry can help: see
//!   [`StorageError::is_retryable`].
//!
//! The conformance suite in `testing` (feature `testing`) checks this
//! contract; every backend runs it.

mod memory;

pub use memory::MemoryStorage;

use std::fmt;

use async_trait::async_trait;
use bytes::Bytes;

use crate::{ArchiveId, EntryInfo, PackEntry, Partition};

/// Location of a stored message, for people reading a damage report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The pack that contains the message: a file path or an object key.
    pub pack: String,
    /// Byte offset of the frame in the pack.
    pub offset: u64,
    /// Length of the frame in bytes.
    pub length: u64,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at offset {} ({} bytes)",
            self.pack, self.offset, self.length
        )
    }
}

/// One entry of a partition listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedEntry {
    /// Facts about the message.
    pub info: EntryInfo,
    /// Location of its frame.
    pub location: Location,
}

/// Result of a `put`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PutOutcome {
    /// Entries newly stored.
    pub stored: usize,
    /// Entries skipped because their id was already stored.
    pub skipped: usize,
    /// The pack that was written, if any entry was new.
    pub pack: Option<String>,
}

/// Data that storage found unreadable, reported by [`Storage::damage`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// The pack, file or object concerned.
    pub location: String,
    /// The problem found.
    pub reason: String,
}

/// The error type of [`Storage`] operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// No message with this id is stored.
    #[error("message {id} is not in storage")]
    NotFound {
        /// The id that was looked up.
        id: ArchiveId,
    },
    /// No compression dictionary with this id is stored.
    #[error("compression dictionary {id} is not in storage")]
    DictionaryNotFound {
        /// The dictionary id that was looked up.
        id: u32,
    },
    /// The caller passed something storage cannot accept.
    #[error("invalid storage request: {reason}")]
    InvalidInput {
        /// The cause.
        reason: String,
    },
    /// Stored data failed a checksum or could not be decoded.
    #[error("damaged data in {location}: {reason}")]
    Corrupt {
        /// The pack and offset, or the file.
        location: String,
        /// What failed.
        reason: String,
    },
    /// A local file operation failed.
    #[error("{operation} {path} failed: {source}")]
    Io {
        /// The operation, such as "write pack" or "read footer of".
        operation: &'static str,
        /// The path concerned.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The backend is unreachable or overloaded; retrying later can help.
    #[error("storage backend {backend} is unavailable: {source}")]
    Unavailable {
        /// The backend's name.
        backend: &'static str,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Any other backend failure.
    #[error("storage backend {backend} failed: {source}")]
    Other {
        /// The backend's name.
        backend: &'static str,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StorageError {
    /// Returns true when the same request may succeed later: the backend was
    /// unavailable, or a local I/O error that is usually temporary (such as
    /// a full disk or an interrupted call).
    pub fn is_retryable(&self) -> bool {
        match self {
            StorageError::Unavailable { .. } => true,
            StorageError::Io { source, .. } => !matches!(
                source.kind(),
                std::io::ErrorKind::NotFound
                    | std::io::ErrorKind::PermissionDenied
                    | std::io::ErrorKind::InvalidData
                    | std::io::ErrorKind::InvalidInput
            ),
            _ => false,
        }
    }
}

/// Durable home of compressed messages, grouped into packs by partition.
///
/// See the module documentation for the contract every implementation keeps.
#[async_trait]
pub trait Storage: Send + Sync + fmt::Debug {
    /// Stores `entries`, all of `partition`, as one durable unit (one pack).
    /// Ids already stored are skipped. An empty batch is a no-op.
    async fn put(
        &self,
        partition: &Partition,
        entries: Vec<PackEntry>,
    ) -> Result<PutOutcome, StorageError>;

    /// Reads one message.
    async fn get(&self, id: &ArchiveId) -> Result<PackEntry, StorageError>;

    /// Returns true if `id` is stored.
    async fn contains(&self, id: &ArchiveId) -> Result<bool, StorageError>;

    /// Lists every partition that contains at least one message, sorted.
    async fn partitions(&self) -> Result<Vec<Partition>, StorageError>;

    /// Lists the entries of one partition in the order they were stored.
    /// An unknown partition has no entries.
    async fn list(&self, partition: &Partition) -> Result<Vec<ListedEntry>, StorageError>;

    /// Deletes a whole partition and returns how many messages it held.
    async fn delete_partition(&self, partition: &Partition) -> Result<u64, StorageError>;

    /// Stores a compression dictionary durably under `id`.
    async fn put_dictionary(&self, id: u32, bytes: Bytes) -> Result<(), StorageError>;

    /// Reads a compression dictionary.
    async fn get_dictionary(&self, id: u32) -> Result<Bytes, StorageError>;

    /// Lists the stored dictionary ids in the order they were stored.
    async fn dictionaries(&self) -> Result<Vec<u32>, StorageError>;

    /// Reports data the backend found unreadable, such as a pack whose
    /// footer fails its checksum. The default reports nothing.
    async fn damage(&self) -> Result<Vec<Damage>, StorageError> {
        Ok(Vec::new())
    }
}
