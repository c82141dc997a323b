//! `get`: one ranged GET of a frame, checked against its footer row.

use archive_core::{ArchiveId, Damage, PackEntry, StorageError, pack};
use object_store::ObjectStoreExt;

use crate::catalog::EntryRef;
use crate::error::Failure;
use crate::request::{self, Counters};
use crate::storage::Inner;

/// Reads the frame of `id` and checks its length and CRC-32C.
///
/// A frame that fails the check, or whose pack object has vanished, is
/// recorded as damage and returned as `StorageError::Corrupt` naming the
/// pack key and offset.
pub(crate) async fn get(inner: &Inner, id: &ArchiveId) -> Result<PackEntry, StorageError> {
    // Held until the read ends, so a partition delete cannot remove the pack.
    let _guard = inner.partition_guard.read().await;
    let entry = inner
        .catalog()
        .lookup(id)
        .ok_or(StorageError::NotFound { id: *id })?;
    let row = entry.row();
    let range = row.offset..row.offset + u64::from(row.length);

    let read = request::send("GET", &entry.pack.display, &inner.counters.get, || {
        inner.store.get_range(&entry.pack.key, range.clone())
    })
    .await;
    let frame = match read {
        Ok(frame) => frame,
        Err(error) if error.failure == Failure::NotFound => {
            return Err(corrupt(
                inner,
                &entry,
                "the pack object is missing from the bucket".into(),
            ));
        }
        Err(error) => return Err(error.into()),
    };
    Counters::add(&inner.counters.downloaded, frame.len() as u64);
    if let Err(error) = pack::check_frame(&frame, row) {
        return Err(corrupt(inner, &entry, error.0));
    }
    Ok(PackEntry {
        info: row.info.clone(),
        frame,
    })
}

/// Records damage at the entry's location and returns it as an error.
fn corrupt(inner: &Inner, entry: &EntryRef, reason: String) -> StorageError {
    let location = entry.pack.location(entry.row()).to_string();
    tracing::error!(%location, %reason, "frame is damaged");
    inner.catalog().record_damage(
        &entry.pack.partition,
        Damage {
            location: location.clone(),
            reason: reason.clone(),
        },
    );
    StorageError::Corrupt { location, reason }
}
