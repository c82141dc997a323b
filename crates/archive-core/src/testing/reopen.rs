//! Reopening an archive whose last handle was dropped without `close`.

use std::time::Duration;

use crate::journal::JournalError;
use crate::{Archive, ArchiveBuilder, OpenError};

/// Opens the archive that `builder` makes, retrying for up to 5 s while
/// the journal is still locked. After the last handle of an archive is
/// dropped without `close`, its background tasks end and release the
/// journal lock shortly afterwards, not at once.
///
/// # Panics
///
/// Panics when opening fails for another reason or the lock stays.
pub async fn reopen(builder: impl Fn() -> ArchiveBuilder) -> Archive {
    for _ in 0..500 {
        match builder().open().await {
            Ok(archive) => return archive,
            Err(OpenError::Journal(JournalError::Locked { .. })) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(error) => panic!("reopening the archive failed: {error}"),
        }
    }
    panic!("the journal stayed locked for 5 s after the archive was dropped");
}
