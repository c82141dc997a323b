//! `delete_partition`: rename the partition directory to a tombstone, make
//! the rename durable, then remove the tombstone.

use std::fs;
use std::io;
use std::path::Path;
use std::sync::Arc;

use archive_core::{Partition, StorageError};

use crate::durable::sync_dir;
use crate::error::FsError;
use crate::layout::{is_tombstone_of, partition_dir, tombstone_name};
use crate::storage::{Inner, blocking};

/// Deletes the pack files of `partition` and returns how many catalog
/// entries it held. Waits until running puts and reads have finished.
///
/// If removing the renamed directory fails, the error is returned but the
/// partition is already gone from the catalog. A second call, or the next
/// open, removes the remaining files.
pub(crate) async fn delete_partition(
    inner: &Arc<Inner>,
    partition: &Partition,
) -> Result<u64, StorageError> {
    let layout = inner.layout.clone().write_owned().await;
    let inner = inner.clone();
    let partition = partition.clone();
    blocking(move || {
        let _layout = layout;
        delete_blocking(&inner, &partition)
    })
    .await
}

fn delete_blocking(inner: &Inner, partition: &Partition) -> Result<u64, FsError> {
    let dir = partition_dir(&inner.packs_dir, partition);
    let class_dir = dir
        .parent()
        .expect("a partition directory has a class directory");

    if dir.is_dir() {
        let seq = inner.catalog().allocate_seq();
        let tombstone = class_dir.join(tombstone_name(partition.day(), seq));
        fs::rename(&dir, &tombstone).map_err(FsError::io("rename partition directory", &dir))?;
        sync_dir(class_dir)?;
        inner.dirs.forget(&dir);
    }

    // From here on the partition stays deleted, even after a crash, because
    // open removes tombstones.
    let removed = {
        let mut catalog = inner.catalog();
        catalog.forget_damage_under(&dir);
        catalog.remove_partition(partition)
    };
    remove_tombstones(class_dir, partition)?;
    tracing::info!(%partition, messages = removed, "deleted partition");
    Ok(removed)
}

/// Removes every tombstone of `partition`, including those left by an
/// earlier delete whose removal failed.
fn remove_tombstones(class_dir: &Path, partition: &Partition) -> Result<(), FsError> {
    let listing = match fs::read_dir(class_dir) {
        Ok(listing) => listing,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(FsError::io("list class directory", class_dir)(error)),
    };
    for item in listing {
        let path = item
            .map_err(FsError::io("list class directory", class_dir))?
            .path();
        let is_tombstone = path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| is_tombstone_of(name, partition.day()));
        if is_tombstone {
            fs::remove_dir_all(&path).map_err(FsError::io("remove deleted partition", &path))?;
        }
    }
    Ok(())
}
