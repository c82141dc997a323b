//! `put`: reserve the new ids, write one pack durably, then publish it.

use std::collections::HashSet;
use std::sync::Arc;

use archive_core::{ArchiveId, PackEntry, Partition, PutOutcome, StorageError, pack};

use crate::durable::{Written, remove_quietly, rename, sync_dir, write_new_file};
use crate::error::FsError;
use crate::layout::{pack_file_name, partition_dir, temp_file_name};
use crate::storage::{Inner, blocking};

/// Stores the entries of `batch` whose ids are not stored yet as one pack.
///
/// The blocking task publishes the pack into the catalog itself, so a put
/// whose future is dropped after the write began still completes.
pub(crate) async fn put(
    inner: &Arc<Inner>,
    partition: &Partition,
    batch: Vec<PackEntry>,
) -> Result<PutOutcome, StorageError> {
    check_frame_lengths(&batch)?;
    if batch.is_empty() {
        return Ok(PutOutcome::default());
    }

    let layout = inner.layout.clone().read_owned().await;
    let (reservation, skipped) = reserve(inner, batch).await;
    let Some(reservation) = reservation else {
        return Ok(PutOutcome {
            stored: 0,
            skipped,
            pack: None,
        });
    };

    let partition = partition.clone();
    blocking(move || {
        let _layout = layout;
        let path = write_pack(&reservation, &partition)?;
        Ok(PutOutcome {
            stored: reservation.entries.len(),
            skipped,
            pack: Some(path),
        })
    })
    .await
}

fn check_frame_lengths(batch: &[PackEntry]) -> Result<(), FsError> {
    for entry in batch {
        if u32::try_from(entry.frame.len()).is_err() {
            return Err(FsError::FrameTooLarge {
                id: entry.info.id,
                length: entry.frame.len(),
            });
        }
    }
    Ok(())
}

/// The new entries of one put, whose ids it has reserved, and the sequence
/// number of its pack. Dropping it releases the ids and wakes waiting puts.
struct Reservation {
    inner: Arc<Inner>,
    entries: Vec<PackEntry>,
    seq: u64,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let ids: Vec<ArchiveId> = self.entries.iter().map(|entry| entry.info.id).collect();
        self.inner.catalog().release(&ids);
        self.inner.released.notify_waiters();
    }
}

/// Splits `batch` into new entries, which it reserves, and skipped ones.
/// Waits while another put has reserved one of the ids, because
/// skipping that id before the other put is durable would break the
/// durability promise of this put.
async fn reserve(inner: &Arc<Inner>, mut batch: Vec<PackEntry>) -> (Option<Reservation>, usize) {
    loop {
        // Created before the check, so a release between the check and the
        // await still wakes this put.
        let released = inner.released.notified();
        {
            let mut catalog = inner.catalog();
            if let Some(new) = select_new(&catalog, &batch) {
                let skipped = batch.len() - new.len();
                if new.is_empty() {
                    return (None, skipped);
                }
                let entries = take_selected(&mut batch, &new);
                let ids: Vec<ArchiveId> = entries.iter().map(|entry| entry.info.id).collect();
                catalog.reserve(&ids);
                let seq = catalog.allocate_seq();
                let reservation = Reservation {
                    inner: inner.clone(),
                    entries,
                    seq,
                };
                return (Some(reservation), skipped);
            }
        }
        released.await;
    }
}

/// Returns the indices of entries to store: not stored, and not repeated
/// earlier in the batch. Returns `None` if another put reserved one of them.
fn select_new(catalog: &crate::catalog::Catalog, batch: &[PackEntry]) -> Option<Vec<usize>> {
    let mut seen = HashSet::with_capacity(batch.len());
    let mut new = Vec::with_capacity(batch.len());
    for (index, entry) in batch.iter().enumerate() {
        let id = entry.info.id;
        if catalog.contains(&id) || !seen.insert(id) {
            continue;
        }
        if catalog.is_reserved(&id) {
            return None;
        }
        new.push(index);
    }
    Some(new)
}

/// Moves the entries at the ascending `indices` out of `batch`.
fn take_selected(batch: &mut Vec<PackEntry>, indices: &[usize]) -> Vec<PackEntry> {
    let mut pending = indices.iter().peekable();
    let mut selected = Vec::with_capacity(indices.len());
    for (index, entry) in std::mem::take(batch).into_iter().enumerate() {
        if pending.next_if_eq(&&index).is_some() {
            selected.push(entry);
        }
    }
    selected
}

/// Writes the reserved entries as one pack, makes it durable, adds it to
/// the catalog and returns its path.
fn write_pack(reservation: &Reservation, partition: &Partition) -> Result<String, FsError> {
    let inner = &reservation.inner;
    let (bytes, rows) = pack::encode(&reservation.entries);
    let name = pack::name(&reservation.entries);
    let dir = partition_dir(&inner.packs_dir, partition);
    inner.dirs.ensure(&dir)?;

    let temp = dir.join(temp_file_name(reservation.seq, &name));
    let path = dir.join(pack_file_name(reservation.seq, &name));
    write_new_file(&temp, &bytes, Written::Pack)?;
    if let Err(error) = rename(&temp, &path, Written::Pack) {
        remove_quietly(&temp);
        return Err(error);
    }
    if let Err(error) = sync_dir(&dir) {
        // Whether the rename reached the disk is unknown. Removing the pack
        // keeps the disk in line with the catalog, which never saw it.
        remove_quietly(&path);
        return Err(error);
    }

    let location = path.display().to_string();
    let stored = inner
        .catalog()
        .add_pack(partition, reservation.seq, path, rows);
    tracing::debug!(path = %location, entries = stored, bytes = bytes.len(), "wrote pack");
    Ok(location)
}

#[cfg(test)]
mod tests {
    use super::*;
    use archive_core::testing::storage::entries;

    #[test]
    fn take_selected_keeps_order() {
        let mut batch = entries("take", 5);
        let expected = vec![batch[1].info.id, batch[3].info.id, batch[4].info.id];
        let taken = take_selected(&mut batch, &[1, 3, 4]);
        let ids: Vec<ArchiveId> = taken.iter().map(|entry| entry.info.id).collect();
        assert_eq!(ids, expected);
    }
}
