//! Errors of the file backend and how they map onto `StorageError`.

use std::io;
use std::path::{Path, PathBuf};

use archive_core::{ArchiveId, Location, StorageError};

/// Name of this backend in `StorageError::Other`.
const BACKEND: &str = "fs";

/// A failure inside the file backend, converted to [`StorageError`] at the
/// `Storage` boundary.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FsError {
    /// A file system call failed.
    #[error("{operation} {} failed: {source}", path.display())]
    Io {
        operation: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Another process or `FsStorage` holds the directory lock.
    #[error(
        "lock archive directory {} failed: another process (a sentmail command, or an application with the \
         archive open) is using it; stop it or open another directory",
        root.display()
    )]
    Locked { root: PathBuf },
    /// A frame does not match its footer row, or the pack ends before it.
    #[error("damaged data in {location}: {reason}")]
    CorruptFrame { location: Location, reason: String },
    /// A frame that the pack format cannot hold.
    #[error("frame of {id} is {length} bytes, but a pack frame must be shorter than 4 GiB")]
    FrameTooLarge { id: ArchiveId, length: usize },
    /// A dictionary id is already stored with other bytes.
    #[error("dictionary {id} is already stored with other bytes in {}", path.display())]
    DictionaryConflict { id: u32, path: PathBuf },
    /// No dictionary with this id is stored.
    #[error("compression dictionary {id} is not in storage")]
    DictionaryNotFound { id: u32 },
    /// A blocking task did not run because the Tokio runtime is shutting down.
    #[error("{operation} was cancelled because the Tokio runtime is shutting down")]
    Cancelled { operation: &'static str },
}

impl FsError {
    /// Returns a closure that wraps an `io::Error` of `operation` on `path`.
    pub(crate) fn io(operation: &'static str, path: &Path) -> impl FnOnce(io::Error) -> FsError {
        let path = path.to_path_buf();
        move |source| FsError::Io {
            operation,
            path,
            source,
        }
    }
}

impl From<FsError> for StorageError {
    fn from(error: FsError) -> StorageError {
        match error {
            FsError::Io {
                operation,
                path,
                source,
            } => StorageError::Io {
                operation,
                path: path.display().to_string(),
                source,
            },
            FsError::Locked { ref root } => StorageError::Io {
                operation: "lock archive directory",
                path: root.display().to_string(),
                source: io::Error::new(
                    io::ErrorKind::WouldBlock,
                    "another process (a sentmail command, or an application with the \
                     archive open) is using it; stop it or open another directory",
                ),
            },
            FsError::CorruptFrame { location, reason } => StorageError::Corrupt {
                location: location.to_string(),
                reason,
            },
            FsError::FrameTooLarge { .. } | FsError::DictionaryConflict { .. } => {
                StorageError::InvalidInput {
                    reason: error.to_string(),
                }
            }
            FsError::DictionaryNotFound { id } => StorageError::DictionaryNotFound { id },
            FsError::Cancelled { .. } => StorageError::Other {
                backend: BACKEND,
                source: Box::new(error),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_error_names_operation_and_path() {
        let error = FsError::io("write pack", Path::new("/x/y.tmp"))(io::Error::other("disk full"));
        let storage: StorageError = error.into();
        assert_eq!(storage.to_string(), "write pack /x/y.tmp failed: disk full");
    }

    #[test]
    fn locked_error_names_directory() {
        let storage: StorageError = FsError::Locked {
            root: PathBuf::from("/srv/mail"),
        }
        .into();
        let message = storage.to_string();
        assert!(message.contains("/srv/mail"), "{message}");
        assert!(message.contains("another process"), "{message}");
    }

    #[test]
    fn corrupt_frame_names_pack_and_offset() {
        let storage: StorageError = FsError::CorruptFrame {
            location: Location {
                pack: "/x/1-a.pack".into(),
                offset: 8,
                length: 10,
            },
            reason: "checksum".into(),
        }
        .into();
        assert!(matches!(&storage, StorageError::Corrupt { location, .. }
            if location == "/x/1-a.pack at offset 8 (10 bytes)"));
    }
}
