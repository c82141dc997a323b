//! Mapping of tantivy and file errors onto [`IndexError`].

use std::path::Path;

use archive_core::search::IndexError;
use tantivy::TantivyError;

/// The backend name in [`IndexError`] messages.
pub const BACKEND: &str = "tantivy";

/// A tantivy failure with the operation and the partition directory.
#[derive(Debug, thiserror::Error)]
#[error("{operation} in {directory} failed: {source}")]
pub struct PartitionError {
    /// The operation that failed.
    pub operation: &'static str,
    /// The partition directory.
    pub directory: String,
    /// The tantivy error.
    #[source]
    pub source: TantivyError,
}

/// Maps a tantivy error of `operation` on the partition in `directory`.
/// Lock failures (another writer holds the partition) are retryable, I/O
/// errors keep their kind, and everything else is a plain failure.
pub fn tantivy_error(operation: &'static str, directory: &Path, error: TantivyError) -> IndexError {
    let path = directory.display().to_string();
    match error {
        TantivyError::IoError(io) => IndexError::Io {
            operation,
            path,
            source: std::io::Error::new(io.kind(), io.to_string()),
        },
        TantivyError::LockFailure(..) => IndexError::Unavailable {
            backend: BACKEND,
            source: Box::new(PartitionError {
                operation,
                directory: path,
                source: error,
            }),
        },
        error => IndexError::Other {
            backend: BACKEND,
            source: Box::new(PartitionError {
                operation,
                directory: path,
                source: error,
            }),
        },
    }
}

/// Maps a file error of `operation` on `path`.
pub fn io_error(operation: &'static str, path: &Path, source: std::io::Error) -> IndexError {
    IndexError::Io {
        operation,
        path: path.display().to_string(),
        source,
    }
}
