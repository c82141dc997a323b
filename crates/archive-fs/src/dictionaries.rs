//! Compression dictionaries, one file each under `<root>/dictionaries`.
//!
//! A dictionary file is named `<seq>-<id>.zdict`, where `<seq>` is a
//! zero-padded sequence number that keeps the store order across restarts.
//! It is written like a pack: to a `.tmp` file, flushed, renamed, and the
//! directory flushed. Dictionaries are never deleted, because frames that
//! use them cannot be read without them.

use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::durable::{DurableDirs, Written, remove_quietly, rename, sync_dir, write_new_file};
use crate::error::FsError;

/// The directory of dictionaries under the root.
pub(crate) const DICTIONARIES_DIR: &str = "dictionaries";
const EXTENSION: &str = "zdict";

/// The stored dictionaries, in store order.
#[derive(Debug, Default)]
pub(crate) struct DictionaryFiles {
    dir: PathBuf,
    files: Vec<(u32, PathBuf)>,
}

impl DictionaryFiles {
    /// Lists the dictionaries under `root`, removing leftover `.tmp` files
    /// of writes that a crash interrupted.
    pub(crate) fn open(root: &Path, dirs: &DurableDirs) -> Result<DictionaryFiles, FsError> {
        let dir = root.join(DICTIONARIES_DIR);
        dirs.ensure(&dir)?;
        let mut files = Vec::new();
        let listing = std::fs::read_dir(&dir).map_err(FsError::io("list dictionaries in", &dir))?;
        for item in listing {
            let item = item.map_err(FsError::io("list dictionaries in", &dir))?;
            let path = item.path();
            let name = item.file_name().to_string_lossy().into_owned();
            if name.ends_with(".tmp") {
                tracing::info!(path = %path.display(), "removing unfinished dictionary file");
                remove_quietly(&path);
            } else if let Some((seq, id)) = parse_name(&name) {
                files.push((seq, id, path));
            } else {
                tracing::warn!(path = %path.display(), "ignoring unexpected file among dictionaries");
            }
        }
        files.sort_unstable();
        Ok(DictionaryFiles {
            dir,
            files: files.into_iter().map(|(_, id, path)| (id, path)).collect(),
        })
    }

    /// The stored ids in store order.
    pub(crate) fn ids(&self) -> Vec<u32> {
        self.files.iter().map(|(id, _)| *id).collect()
    }

    fn path_of(&self, id: u32) -> Option<&Path> {
        self.files
            .iter()
            .find(|(known, _)| *known == id)
            .map(|(_, path)| path.as_path())
    }

    /// Reads dictionary `id`.
    pub(crate) fn read(&self, id: u32) -> Result<Bytes, FsError> {
        let path = self.path_of(id).ok_or(FsError::DictionaryNotFound { id })?;
        let bytes = std::fs::read(path).map_err(FsError::io("read dictionary", path))?;
        Ok(Bytes::from(bytes))
    }

    /// Stores dictionary `id` durably, or checks that the stored one has
    /// the same bytes.
    pub(crate) fn write(&mut self, id: u32, bytes: &[u8]) -> Result<(), FsError> {
        if let Some(path) = self.path_of(id) {
            let stored = std::fs::read(path).map_err(FsError::io("read dictionary", path))?;
            if stored == bytes {
                return Ok(());
            }
            return Err(FsError::DictionaryConflict {
                id,
                path: path.to_owned(),
            });
        }

        let seq = self.files.len() as u64 + 1;
        let name = format!("{seq:012}-{id:010}.{EXTENSION}");
        let path = self.dir.join(&name);
        let temp = self.dir.join(format!("{name}.tmp"));
        write_new_file(&temp, bytes, Written::Dictionary)?;
        if let Err(error) = rename(&temp, &path, Written::Dictionary) {
            remove_quietly(&temp);
            return Err(error);
        }
        sync_dir(&self.dir)?;
        self.files.push((id, path));
        Ok(())
    }
}

/// Parses `<seq>-<id>.zdict`.
fn parse_name(name: &str) -> Option<(u64, u32)> {
    let stem = name.strip_suffix(&format!(".{EXTENSION}"))?;
    let (seq, id) = stem.split_once('-')?;
    Some((seq.parse().ok()?, id.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(parse_name("000000000003-0000004242.zdict"), Some((3, 4242)));
        assert_eq!(parse_name("junk.zdict"), None);
        assert_eq!(parse_name("000000000003-0000004242.zdict.tmp"), None);
    }

    #[test]
    fn leftover_temp_file_is_removed() {
        let root = tempfile::tempdir().unwrap();
        let dirs = DurableDirs::default();
        let mut files = DictionaryFiles::open(root.path(), &dirs).unwrap();
        files.write(9, b"dictionary").unwrap();
        let temp = root
            .path()
            .join(DICTIONARIES_DIR)
            .join("000000000002-0000000010.zdict.tmp");
        std::fs::write(&temp, b"half").unwrap();

        let reopened = DictionaryFiles::open(root.path(), &dirs).unwrap();
        assert!(!temp.exists());
        assert_eq!(reopened.ids(), vec![9]);
        assert_eq!(&reopened.read(9).unwrap()[..], b"dictionary");
    }
}
