//! The exclusive lock that keeps a second process out of the archive root.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

use crate::error::FsError;
use crate::layout::LOCK_FILE;

/// Opens `<root>/LOCK` and locks it exclusively without waiting. The lock
/// lasts as long as the returned file is open.
///
/// On Linux std implements `try_lock` with `flock`, so a second open in the
/// same process is rejected too, and the kernel releases the lock when the
/// holding process dies.
pub(crate) fn lock_root(root: &Path) -> Result<File, FsError> {
    let path = root.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(FsError::io("open lock file", &path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(FsError::Locked {
            root: root.to_path_buf(),
        }),
        Err(TryLockError::Error(error)) => Err(FsError::io("lock", &path)(error)),
    }
}
