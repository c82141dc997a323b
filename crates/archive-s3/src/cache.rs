//! The local cache of pack footers and dictionaries.
//!
//! Packs and dictionaries are written once and never changed, so the end
//! of an object (a pack's footer and trailer, or a whole dictionary) can be
//! kept on local disk under the object's key. With the cache, opening the
//! archive lists the bucket but reads no footer it has seen before, and
//! reading a message needs only the ranged GET of its frame.
//!
//! A cache file is `<cache dir>/<bucket>/<key>.cached`: the magic
//! `SMCACHE\x01`, the object's size (u64), the CRC-32C of the cached bytes
//! (u32), both little-endian, then the bytes at the end of the object. An
//! entry whose size differs from the object's, or whose checksum fails, is
//! ignored, so a damaged file costs one GET, never wrong bytes. The
//! cache is advisory: failures to read or write it are logged and ignored.

use std::io;
use std::path::{Path as FsPath, PathBuf};

use object_store::path::Path;

const MAGIC: &[u8; 8] = b"SMCACHE\x01";
const HEADER_LEN: usize = MAGIC.len() + 8 + 4;
const EXTENSION: &str = "cached";

/// The cache of one bucket, or no cache.
#[derive(Debug, Clone)]
pub(crate) struct Cache {
    dir: Option<PathBuf>,
}

impl Cache {
    /// Creates a cache in `dir`, or no cache for `None`.
    pub(crate) fn new(dir: Option<PathBuf>) -> Cache {
        Cache { dir }
    }

    fn file(&self, key: &Path) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        let mut file = dir.clone();
        for part in key.parts() {
            file.push(part.as_ref());
        }
        let name = format!("{}.{EXTENSION}", file.file_name()?.to_string_lossy());
        file.set_file_name(name);
        Some(file)
    }

    /// Returns the cached end of the object at `key`, if the cache has
    /// one for an object of `size` bytes.
    pub(crate) fn load(&self, key: &Path, size: u64) -> Option<Vec<u8>> {
        let file = self.file(key)?;
        let bytes = match std::fs::read(&file) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return None,
            Err(error) => {
                tracing::warn!(path = %file.display(), %error, "reading the footer cache failed; fetching from the bucket");
                return None;
            }
        };
        let (header, tail) = bytes.split_at_checked(HEADER_LEN)?;
        let (magic, fields) = header.split_at(MAGIC.len());
        let cached_size = u64::from_le_bytes(fields[..8].try_into().ok()?);
        let crc = u32::from_le_bytes(fields[8..].try_into().ok()?);
        let valid = magic == MAGIC
            && cached_size == size
            && tail.len() as u64 <= size
            && crc32c::crc32c(tail) == crc;
        if !valid {
            tracing::debug!(path = %file.display(), "cache entry does not match the object; fetching from the bucket");
            return None;
        }
        Some(tail.to_vec())
    }

    /// Stores `tail`, the last bytes of the object at `key` of `size`
    /// bytes. The file is written under a temporary name and renamed, so a
    /// reader never sees half of it.
    pub(crate) fn store(&self, key: &Path, size: u64, tail: &[u8]) {
        let Some(file) = self.file(key) else {
            return;
        };
        if let Err(error) = write_entry(&file, size, tail) {
            tracing::warn!(path = %file.display(), %error, "writing the footer cache failed; the next open fetches this footer again");
        }
    }

    /// Removes the cached entries of every key under `prefix`.
    pub(crate) fn remove_prefix(&self, prefix: &Path) {
        let Some(dir) = self.dir.as_ref() else {
            return;
        };
        let mut target = dir.clone();
        for part in prefix.parts() {
            target.push(part.as_ref());
        }
        match std::fs::remove_dir_all(&target) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => {
                tracing::warn!(path = %target.display(), %error, "removing deleted footers from the cache failed");
            }
        }
    }
}

fn write_entry(file: &FsPath, size: u64, tail: &[u8]) -> io::Result<()> {
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut bytes = Vec::with_capacity(HEADER_LEN + tail.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&size.to_le_bytes());
    bytes.extend_from_slice(&crc32c::crc32c(tail).to_le_bytes());
    bytes.extend_from_slice(tail);
    let mut temp = file.as_os_str().to_owned();
    temp.push(".tmp");
    std::fs::write(&temp, &bytes)?;
    std::fs::rename(&temp, file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(Some(dir.path().to_path_buf()));
        let key = Path::from("archive/packs/default/2026-12-04/00000000000000000001-ab.pack");
        cache.store(&key, 1000, b"footer and trailer");

        assert_eq!(
            cache.load(&key, 1000).as_deref(),
            Some(&b"footer and trailer"[..])
        );
        assert_eq!(
            cache.load(&key, 999),
            None,
            "another size is another object"
        );
        assert!(
            dir.path()
                .join("archive/packs/default/2026-12-04/00000000000000000001-ab.pack.cached")
                .is_file()
        );
    }

    #[test]
    fn damaged_entry_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(Some(dir.path().to_path_buf()));
        let key = Path::from("a/b.pack");
        std::fs::create_dir_all(dir.path().join("a")).unwrap();
        std::fs::write(dir.path().join("a/b.pack.cached"), b"SMCACHE").unwrap();
        assert_eq!(cache.load(&key, 10), None);

        cache.store(&key, 4, b"longer than four");
        assert_eq!(cache.load(&key, 4), None, "a tail longer than the object");

        cache.store(&key, 100, b"footer");
        let file = dir.path().join("a/b.pack.cached");
        let mut stored = std::fs::read(&file).unwrap();
        let last = stored.len() - 1;
        stored[last] ^= 0x01;
        std::fs::write(&file, &stored).unwrap();
        assert_eq!(
            cache.load(&key, 100),
            None,
            "a flipped bit fails the checksum"
        );
    }

    #[test]
    fn remove_prefix_removes_partition() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(Some(dir.path().to_path_buf()));
        let doomed = Path::from("p/packs/default/2026-12-04/1-a.pack");
        let kept = Path::from("p/packs/default/2026-12-05/1-a.pack");
        cache.store(&doomed, 10, b"x");
        cache.store(&kept, 10, b"y");

        cache.remove_prefix(&Path::from("p/packs/default/2026-12-04"));
        assert_eq!(cache.load(&doomed, 10), None);
        assert_eq!(cache.load(&kept, 10).as_deref(), Some(&b"y"[..]));
    }

    #[test]
    fn no_directory_caches_nothing() {
        let cache = Cache::new(None);
        let key = Path::from("a/b.pack");
        cache.store(&key, 10, b"x");
        assert_eq!(cache.load(&key, 10), None);
    }
}
