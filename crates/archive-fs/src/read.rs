//! `get`: one positioned read of a frame, checked against its footer row.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use archive_core::{ArchiveId, Damage, PackEntry, StorageError, pack};
use bytes::Bytes;

use crate::catalog::EntryRef;
use crate::error::FsError;
use crate::storage::{Inner, blocking};

/// Reads the frame of `id` and checks its length and CRC-32C.
///
/// A frame that fails the check is recorded as damage and returned as
/// `StorageError::Corrupt` naming the pack path and the offset.
pub(crate) async fn get(inner: &Arc<Inner>, id: &ArchiveId) -> Result<PackEntry, StorageError> {
    // Held until the read ends, so a concurrent delete cannot remove the pack.
    let layout = inner.layout.clone().read_owned().await;
    let entry = inner
        .catalog()
        .lookup(id)
        .ok_or(StorageError::NotFound { id: *id })?;

    let inner = inner.clone();
    blocking(move || {
        let _layout = layout;
        let frame =
            read_frame(&entry).inspect_err(|error| record_corruption(&inner, &entry, error))?;
        Ok(PackEntry {
            info: entry.row().info.clone(),
            frame,
        })
    })
    .await
}

fn read_frame(entry: &EntryRef) -> Result<Bytes, FsError> {
    let path = &entry.pack.path;
    let row = entry.row();
    // Opened on every call: caching handles saved about 2 of 8 µs per get
    // (BENCHMARKS.md) but would keep a descriptor open for every pack read.
    let file = File::open(path).map_err(FsError::io("open pack", path))?;
    let mut frame = vec![0u8; row.length as usize];
    match file.read_exact_at(&mut frame, row.offset) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => {
            return Err(corrupt(
                entry,
                "the pack ends before the end of the frame".into(),
            ));
        }
        Err(error) => return Err(FsError::io("read frame from", path)(error)),
    }
    pack::check_frame(&frame, row).map_err(|error| corrupt(entry, error.0))?;
    Ok(Bytes::from(frame))
}

fn corrupt(entry: &EntryRef, reason: String) -> FsError {
    FsError::CorruptFrame {
        location: entry.pack.location(entry.row()),
        reason,
    }
}

fn record_corruption(inner: &Inner, entry: &EntryRef, error: &FsError) {
    let FsError::CorruptFrame { location, reason } = error else {
        return;
    };
    tracing::error!(%location, %reason, "frame is damaged");
    let damage = Damage {
        location: location.to_string(),
        reason: reason.clone(),
    };
    inner.catalog().record_damage(&entry.pack.path, damage);
}
