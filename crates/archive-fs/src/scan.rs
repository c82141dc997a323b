//! The scan at open: find every pack, remove what crashes left behind, and
//! build the catalog from trailers and footers.

use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use archive_core::pack::{self, FooterEntry, HEADER, TRAILER_LEN};
use archive_core::{Damage, Partition};
use chrono::NaiveDate;

use crate::catalog::Catalog;
use crate::durable::sync_dir;
use crate::error::FsError;
use crate::layout::{DirKind, FileKind, classify_dir, classify_file};

/// A pack file found by the scan.
struct Found {
    seq: u64,
    partition: Partition,
    path: PathBuf,
}

/// The outcome of a scan: the catalog and the directories it flushed.
pub(crate) struct Scanned {
    /// The catalog of every readable pack.
    pub(crate) catalog: Catalog,
    /// The directories found and flushed, whose entries are now durable.
    pub(crate) dirs: Vec<PathBuf>,
}

/// Scans `<root>/packs`. The caller must hold the directory lock, because
/// the scan deletes temporary files and tombstones.
pub(crate) fn scan(packs_dir: &Path) -> Result<Scanned, FsError> {
    let mut walk = Walk::default();
    for class_dir in subdirectories(packs_dir)? {
        walk.class(&class_dir)?;
    }
    sync_dir(packs_dir)?;

    walk.found.sort_by_key(|found| found.seq);
    let mut catalog = Catalog::new(walk.max_seq + 1);
    for found in &walk.found {
        load_pack(&mut catalog, found)?;
    }
    Ok(Scanned {
        catalog,
        dirs: walk.dirs,
    })
}

/// Adds one pack to the catalog, or records it as damage.
fn load_pack(catalog: &mut Catalog, found: &Found) -> Result<(), FsError> {
    let path = &found.path;
    let file = File::open(path).map_err(FsError::io("open pack", path))?;
    // A crashed process may have renamed this pack without flushing it.
    file.sync_all().map_err(FsError::io("fsync pack", path))?;
    match read_index(&file) {
        Ok(rows) => {
            let count = rows.len();
            let served = catalog.add_pack(&found.partition, found.seq, path.clone(), rows);
            if served < count {
                tracing::info!(
                    path = %path.display(),
                    duplicates = count - served,
                    "pack holds ids that an older pack already stores; the older copies serve them"
                );
            }
        }
        Err(reason) => {
            tracing::error!(
                path = %path.display(),
                %reason,
                "pack is damaged; its entries are left out of the catalog"
            );
            let damage = Damage {
                location: path.display().to_string(),
                reason,
            };
            catalog.record_damage(path, damage);
        }
    }
    Ok(())
}

/// Reads the trailer and footer of a pack with two positioned reads and
/// returns its rows, or why they could not be read.
fn read_index(file: &File) -> Result<Vec<FooterEntry>, String> {
    let pack_len = file
        .metadata()
        .map_err(|e| format!("read file size: {e}"))?
        .len();
    let min_len = (HEADER.len() + TRAILER_LEN) as u64;
    if pack_len < min_len {
        return Err(format!(
            "file is {pack_len} bytes, shorter than an empty pack ({min_len})"
        ));
    }

    let mut tail = [0u8; TRAILER_LEN];
    file.read_exact_at(&mut tail, pack_len - TRAILER_LEN as u64)
        .map_err(|e| format!("read trailer: {e}"))?;
    let trailer = pack::decode_trailer(&tail, pack_len).map_err(|e| e.to_string())?;

    let mut footer = vec![0u8; trailer.footer_len as usize];
    file.read_exact_at(&mut footer, trailer.footer_offset)
        .map_err(|e| format!("read footer: {e}"))?;
    pack::decode_footer(&footer, &trailer).map_err(|e| e.to_string())
}

/// The directory walk: packs found, directories flushed, highest sequence.
#[derive(Default)]
struct Walk {
    found: Vec<Found>,
    dirs: Vec<PathBuf>,
    max_seq: u64,
}

impl Walk {
    fn class(&mut self, class_dir: &Path) -> Result<(), FsError> {
        let Some(class) = file_name(class_dir) else {
            return Ok(());
        };
        if let Err(error) = Partition::new(class, NaiveDate::default()) {
            ignore(class_dir, &error.to_string());
            return Ok(());
        }
        for dir in subdirectories(class_dir)? {
            let Some(name) = file_name(&dir) else {
                continue;
            };
            match classify_dir(name) {
                DirKind::Day(day) => match Partition::new(class, day) {
                    Ok(partition) => self.partition(&dir, partition)?,
                    Err(error) => ignore(&dir, &error.to_string()),
                },
                DirKind::Tombstone { seq } => {
                    self.max_seq = self.max_seq.max(seq);
                    tracing::info!(path = %dir.display(), "removing partition whose deletion a crash interrupted");
                    fs::remove_dir_all(&dir)
                        .map_err(FsError::io("remove deleted partition", &dir))?;
                }
                DirKind::Unknown => ignore(&dir, "not a partition directory"),
            }
        }
        sync_dir(class_dir)?;
        self.dirs.push(class_dir.to_path_buf());
        Ok(())
    }

    fn partition(&mut self, dir: &Path, partition: Partition) -> Result<(), FsError> {
        let listing = fs::read_dir(dir).map_err(FsError::io("list partition directory", dir))?;
        for item in listing {
            let path = item
                .map_err(FsError::io("list partition directory", dir))?
                .path();
            let Some(name) = file_name(&path) else {
                continue;
            };
            match classify_file(name) {
                FileKind::Pack { seq } => {
                    self.max_seq = self.max_seq.max(seq);
                    self.found.push(Found {
                        seq,
                        partition: partition.clone(),
                        path,
                    });
                }
                FileKind::Temp { seq } => {
                    self.max_seq = self.max_seq.max(seq.unwrap_or(0));
                    tracing::info!(path = %path.display(), "removing unfinished pack left by a crash");
                    fs::remove_file(&path).map_err(FsError::io("remove unfinished pack", &path))?;
                }
                FileKind::Unknown => ignore(&path, "not a pack"),
            }
        }
        sync_dir(dir)?;
        self.dirs.push(dir.to_path_buf());
        Ok(())
    }
}

/// Lists the subdirectories of `dir` and warns about anything else.
fn subdirectories(dir: &Path) -> Result<Vec<PathBuf>, FsError> {
    let listing = fs::read_dir(dir).map_err(FsError::io("list directory", dir))?;
    let mut dirs = Vec::new();
    for item in listing {
        let item = item.map_err(FsError::io("list directory", dir))?;
        let is_dir = item
            .file_type()
            .map_err(FsError::io("read file type of", &item.path()))?
            .is_dir();
        if is_dir {
            dirs.push(item.path());
        } else {
            ignore(&item.path(), "not a directory");
        }
    }
    Ok(dirs)
}

fn file_name(path: &Path) -> Option<&str> {
    let name = path.file_name()?.to_str();
    if name.is_none() {
        ignore(path, "the name is not UTF-8");
    }
    name
}

fn ignore(path: &Path, reason: &str) {
    tracing::warn!(path = %path.display(), reason, "ignoring unexpected entry in the packs directory");
}
