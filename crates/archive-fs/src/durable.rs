//! File system calls that make their effect durable with `fsync`.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::FsError;

/// The kind of file written, which names the operations in errors.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Written {
    Pack,
    Dictionary,
}

impl Written {
    fn create(self) -> &'static str {
        match self {
            Written::Pack => "create pack",
            Written::Dictionary => "create dictionary",
        }
    }

    fn write(self) -> &'static str {
        match self {
            Written::Pack => "write pack",
            Written::Dictionary => "write dictionary",
        }
    }

    fn fsync(self) -> &'static str {
        match self {
            Written::Pack => "fsync pack",
            Written::Dictionary => "fsync dictionary",
        }
    }

    fn rename(self) -> &'static str {
        match self {
            Written::Pack => "rename pack",
            Written::Dictionary => "rename dictionary",
        }
    }
}

/// Creates `path`, which must not exist, writes `bytes` and flushes the file.
/// On failure the file is removed again (best effort).
pub(crate) fn write_new_file(path: &Path, bytes: &[u8], what: Written) -> Result<(), FsError> {
    let mut file = File::create_new(path).map_err(FsError::io(what.create(), path))?;
    let written = file
        .write_all(bytes)
        .map_err(FsError::io(what.write(), path))
        .and_then(|()| file.sync_all().map_err(FsError::io(what.fsync(), path)));
    if written.is_err() {
        remove_quietly(path);
    }
    written
}

/// Renames `from` to `to`. The caller flushes the directory afterwards.
pub(crate) fn rename(from: &Path, to: &Path, what: Written) -> Result<(), FsError> {
    fs::rename(from, to).map_err(FsError::io(what.rename(), from))
}

/// Flushes the directory `path`, which makes creations, renames and
/// removals of its entries durable.
pub(crate) fn sync_dir(path: &Path) -> Result<(), FsError> {
    File::open(path)
        .and_then(|dir| dir.sync_all())
        .map_err(FsError::io("fsync directory", path))
}

/// Removes a file and logs instead of failing, for cleanup after an error.
pub(crate) fn remove_quietly(path: &Path) {
    if let Err(error) = fs::remove_file(path) {
        tracing::warn!(path = %path.display(), %error, "remove unfinished file failed");
    }
}

/// The directories whose entry in their parent is known to be durable.
///
/// A pack is durable only when every directory on its path is, so a put
/// creates missing directories and flushes their parents before its pack
/// counts as stored.
#[derive(Debug, Default)]
pub(crate) struct DurableDirs {
    known: Mutex<HashSet<PathBuf>>,
}

impl DurableDirs {
    /// Records `path` as durable, for directories flushed by the caller.
    pub(crate) fn insert(&self, path: PathBuf) {
        self.known().insert(path);
    }

    /// Forgets `path` and everything below it, after a removal or rename.
    pub(crate) fn forget(&self, path: &Path) {
        self.known().retain(|known| !known.starts_with(path));
    }

    /// Creates `path` and any missing parent, and flushes the parent of each
    /// directory not yet known to be durable.
    ///
    /// The parent of a directory that already exists is flushed anyway,
    /// because a concurrent put may have created the directory and not yet
    /// flushed its parent.
    pub(crate) fn ensure(&self, path: &Path) -> Result<(), FsError> {
        if self.known().contains(path) {
            return Ok(());
        }
        let parent = path.parent().ok_or_else(|| FsError::Io {
            operation: "create directory",
            path: path.to_path_buf(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "the path has no parent"),
        })?;
        if !parent.is_dir() {
            self.ensure(parent)?;
        }
        match fs::create_dir(path) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
            Err(error) => return Err(FsError::io("create directory", path)(error)),
        }
        sync_dir(parent)?;
        self.insert(path.to_path_buf());
        Ok(())
    }

    fn known(&self) -> std::sync::MutexGuard<'_, HashSet<PathBuf>> {
        self.known
            .lock()
            .expect("durable directory set lock poisoned")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ensure_creates_nested_directories() {
        let temp = tempfile::tempdir().unwrap();
        let dirs = DurableDirs::default();
        let nested = temp.path().join("a/b/c");
        dirs.ensure(&nested).unwrap();
        assert!(nested.is_dir());
        assert!(dirs.known().contains(&nested));
        assert!(dirs.known().contains(&temp.path().join("a")));

        dirs.forget(&temp.path().join("a/b"));
        assert!(!dirs.known().contains(&nested));
        assert!(dirs.known().contains(&temp.path().join("a")));
    }

    #[test]
    fn write_new_file_rejects_existing() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("x.tmp");
        write_new_file(&path, b"one", Written::Pack).unwrap();
        let error = write_new_file(&path, b"two", Written::Pack).unwrap_err();
        assert!(error.to_string().starts_with("create pack "), "{error}");
        assert_eq!(
            fs::read(&path).unwrap(),
            b"one",
            "the existing file is kept"
        );
    }
}
