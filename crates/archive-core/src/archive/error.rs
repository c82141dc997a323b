//! Errors of the `Archive` API.

use crate::journal::JournalError;
use crate::{ArchiveId, StorageError};

/// The error type of [`Archive::record`](super::Archive::record).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The message has no bytes.
    #[error("message is empty; there is nothing to record")]
    Empty,
    /// The message is larger than the configured maximum.
    #[error(
        "message of {size} bytes exceeds the limit of {limit} bytes; raise max_message_bytes to accept it"
    )]
    TooLarge {
        /// Size of the message in bytes.
        size: u64,
        /// The configured maximum.
        limit: u64,
    },
    /// The metadata is larger than the fixed maximum.
    #[error("metadata of {size} bytes exceeds the limit of {limit} bytes; record less metadata")]
    MetaTooLarge {
        /// Size of the metadata as JSON.
        size: usize,
        /// The maximum.
        limit: usize,
    },
    /// The capture journal is full because storage is behind. Retry later.
    #[error(
        "capture journal is full ({used} of {limit} bytes) because storage is behind; retry later"
    )]
    JournalFull {
        /// Bytes in use.
        used: u64,
        /// The configured maximum.
        limit: u64,
    },
    /// The index document given with the message belongs to other bytes.
    #[error("the index document is of message {document}, not of the recorded message {id}")]
    DocumentMismatch {
        /// The id of the recorded bytes.
        id: ArchiveId,
        /// The id in the document.
        document: ArchiveId,
    },
    /// The archive was closed.
    #[error("archive is closed")]
    Closed,
    /// Writing the capture journal failed.
    #[error("recording failed: {0}")]
    Journal(#[source] JournalError),
    /// A send status names a message the archive does not hold.
    #[error("message {id} is not in the archive; record it before its send status")]
    UnknownMessage {
        /// The id given.
        id: ArchiveId,
    },
    /// Reading the message a send status belongs to failed.
    #[error("reading the message of a send status failed: {0}")]
    Read(#[source] Box<ReadError>),
    /// Checking storage for an existing copy failed.
    #[error("checking storage for message {id} failed: {source}")]
    Storage {
        /// The message's archive id.
        id: ArchiveId,
        /// The underlying error.
        #[source]
        source: StorageError,
    },
}

impl RecordError {
    /// Returns true when the same call may succeed later, so the caller
    /// should retry (over SMTP: a 4xx reply).
    pub fn is_retryable(&self) -> bool {
        match self {
            RecordError::JournalFull { .. } => true,
            RecordError::Journal(error) => error.is_retryable(),
            RecordError::Storage { source, .. } => source.is_retryable(),
            RecordError::Read(error) => match error.as_ref() {
                ReadError::Storage(source) => source.is_retryable(),
                _ => false,
            },
            _ => false,
        }
    }
}

impl From<JournalError> for RecordError {
    fn from(error: JournalError) -> Self {
        match error {
            JournalError::Full { used, limit } => RecordError::JournalFull { used, limit },
            JournalError::Closed => RecordError::Closed,
            other => RecordError::Journal(other),
        }
    }
}

/// The error type of reading messages back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// No message with this id is archived.
    #[error("message {id} is not in the archive")]
    NotFound {
        /// The id looked up.
        id: ArchiveId,
    },
    /// No message has an id starting with this text, or several do.
    #[error("{reason}")]
    Ambiguous {
        /// The matching ids, or that none matched.
        reason: String,
    },
    /// The stored copy failed a check.
    #[error("stored copy of message {id} at {location} is damaged: {reason}")]
    Corrupt {
        /// The message's archive id.
        id: ArchiveId,
        /// The pack and offset, or the journal position, of the copy.
        location: String,
        /// What failed.
        reason: String,
    },
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Reading the capture journal failed.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// The error type of opening an archive.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// A setting is invalid.
    #[error("invalid archive settings: {reason}")]
    InvalidOptions {
        /// The invalid setting and the reason.
        reason: String,
    },
    /// The capture journal could not be opened.
    #[error("opening the capture journal failed: {0}")]
    Journal(#[from] JournalError),
    /// Storage could not be read.
    #[error("reading storage failed while opening the archive: {0}")]
    Storage(#[from] StorageError),
}

/// The error type of [`Archive::flush`](super::Archive::flush) and
/// [`Archive::close`](super::Archive::close).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FlushError {
    /// Storage did not accept the pending messages in time. They stay
    /// durable in the journal and move on the next open.
    #[error(
        "storage did not accept {pending} pending messages within {seconds} s; they stay in the capture journal and move to storage on the next start"
    )]
    TimedOut {
        /// Messages still waiting.
        pending: usize,
        /// The wait in seconds.
        seconds: u64,
    },
    /// The background task that moves messages into storage has stopped.
    #[error("the archive's background task has stopped")]
    Stopped,
}

/// The error type of [`Archive::search`](super::Archive::search) and
/// [`Archive::reindex`](super::Archive::reindex).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SearchError {
    /// The archive was opened without a search index.
    #[error("this archive has no search index; open it with one to search")]
    NoIndex,
    /// The query text is invalid.
    #[error(transparent)]
    Query(#[from] crate::search::QueryError),
    /// The index failed.
    #[error("searching failed: {0}")]
    Index(#[from] crate::search::IndexError),
    /// Reading messages failed.
    #[error(transparent)]
    Read(#[from] ReadError),
}
