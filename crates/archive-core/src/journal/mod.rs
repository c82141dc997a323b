//! The durable capture journal.
//!
//! Every recorded message is appended here first, and `record` returns only
//! after the entry is on stable storage. A background task later moves the
//! entries into storage and then releases them, and a segment file is
//! deleted once all its entries are released.
//!
//! - **Group commit.** One writer thread appends entries and calls
//!   `fdatasync` once for every entry that arrived while the previous sync
//!   ran, so concurrent callers share syncs.
//! - **Checksums.** Each entry carries a CRC-32C. At open, a torn tail (an
//!   append that a crash interrupted, so never acknowledged) is cut off, and
//!   damaged bytes in the middle of a segment are skipped and reported.
//! - **Bounded.** The journal never holds more than
//!   [`JournalOptions::max_bytes`]; an append past it fails at once with
//!   [`JournalError::Full`], which callers should treat as "retry later".
//! - **Replay.** Opening a journal returns every entry not yet released.
//!   Replaying is idempotent because storage skips ids it already holds.
//!
//! Appends go to a fresh segment after every open, so a file that held a
//! torn tail is never appended to again.

mod format;
mod segments;
mod writer;

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::{EntryInfo, Partition};
use format::{DecodedEntry, decode_entry, encode_entry, scan};
use segments::{
    DAMAGED_EXTENSION, Retired, SEGMENT_EXTENSION, SegmentTable, segment_number, segment_path,
};
use writer::{Request, Writer};

/// Settings of the capture journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalOptions {
    /// Maximum bytes on disk. Appends past it fail with
    /// [`JournalError::Full`]. Default 1 GiB.
    pub max_bytes: u64,
    /// Size at which the active segment file is closed and a new one
    /// started. Default 64 MiB.
    pub segment_bytes: u64,
    /// Share one sync among concurrent appends. Turning it off syncs once
    /// per entry; benchmarks use that as the baseline. Default true.
    pub group_commit: bool,
}

impl Default for JournalOptions {
    fn default() -> Self {
        JournalOptions {
            max_bytes: 1 << 30,
            segment_bytes: 64 << 20,
            group_commit: true,
        }
    }
}

/// Position of an entry in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JournalPos {
    /// The segment number.
    pub segment: u64,
    /// Byte offset of the entry in the segment.
    pub offset: u64,
    /// Length of the whole entry in bytes.
    pub len: u32,
}

/// An entry found at open that was never released.
#[derive(Debug, Clone)]
pub struct ReplayedEntry {
    /// Position of the entry.
    pub pos: JournalPos,
    /// The partition the message belongs to.
    pub partition: Partition,
    /// Facts about the message.
    pub info: EntryInfo,
}

/// Result of opening the journal.
#[derive(Debug, Default)]
pub struct Recovery {
    /// Entries to move into storage again, oldest first.
    pub entries: Vec<ReplayedEntry>,
    /// Bytes of torn tails cut off (appends a crash interrupted).
    pub torn_bytes: u64,
    /// Damaged stretches in the middle of segments, as "path: start..end".
    pub damaged: Vec<String>,
}

/// The error type of journal operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// A file operation failed.
    #[error("{operation} {path} failed: {source}")]
    Io {
        /// The operation.
        operation: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Another process has locked the journal directory.
    #[error(
        "journal directory {dir} is in use by another process (a sentmail command, or an application with the archive open); stop it or choose another data directory"
    )]
    Locked {
        /// The journal directory.
        dir: PathBuf,
    },
    /// The journal has reached its maximum size because storage is behind.
    #[error(
        "capture journal is full ({used} of {limit} bytes) because storage is behind; retry later"
    )]
    Full {
        /// Bytes in use.
        used: u64,
        /// The configured maximum.
        limit: u64,
    },
    /// An earlier write or sync failed and the journal stopped accepting
    /// appends. Reopening it replays what was durable.
    #[error("capture journal stopped after an earlier failure: {reason}; restart to recover")]
    Failed {
        /// The earlier failure.
        reason: String,
    },
    /// A stored entry failed its checksum or did not decode.
    #[error("journal entry in {path} at offset {offset} is damaged: {reason}")]
    Corrupt {
        /// The segment file.
        path: PathBuf,
        /// Byte offset of the entry.
        offset: u64,
        /// What failed.
        reason: String,
    },
    /// The journal was closed.
    #[error("capture journal is closed")]
    Closed,
}

impl JournalError {
    /// Returns true when retrying later can succeed: the journal was full,
    /// or a write failed for a reason that can pass, such as a full disk.
    pub fn is_retryable(&self) -> bool {
        match self {
            JournalError::Full { .. } => true,
            JournalError::Io { source, .. } => matches!(
                source.kind(),
                io::ErrorKind::StorageFull | io::ErrorKind::Interrupted | io::ErrorKind::TimedOut
            ),
            _ => false,
        }
    }

    /// Makes an equal error for each of several waiting callers.
    fn duplicate(&self) -> JournalError {
        match self {
            JournalError::Io {
                operation,
                path,
                source,
            } => JournalError::Io {
                operation,
                path: path.clone(),
                source: io::Error::new(source.kind(), source.to_string()),
            },
            JournalError::Locked { dir } => JournalError::Locked { dir: dir.clone() },
            JournalError::Full { used, limit } => JournalError::Full {
                used: *used,
                limit: *limit,
            },
            JournalError::Failed { reason } => JournalError::Failed {
                reason: reason.clone(),
            },
            JournalError::Corrupt {
                path,
                offset,
                reason,
            } => JournalError::Corrupt {
                path: path.clone(),
                offset: *offset,
                reason: reason.clone(),
            },
            JournalError::Closed => JournalError::Closed,
        }
    }
}

fn io_error(operation: &'static str, path: &Path, source: io::Error) -> JournalError {
    JournalError::Io {
        operation,
        path: path.to_owned(),
        source,
    }
}

fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(|source| io_error("sync journal directory", dir, source))
}

/// State shared by the journal handle and its writer thread.
struct Shared {
    dir: PathBuf,
    options: JournalOptions,
    /// Bytes of segment files on disk plus appends in flight.
    used: AtomicU64,
    table: Mutex<SegmentTable>,
    readers: Mutex<HashMap<u64, Arc<File>>>,
    failure: Mutex<Option<String>>,
    /// Number of `fdatasync` calls made, for tests and benchmarks.
    syncs: AtomicU64,
}

impl Shared {
    fn failure(&self) -> Option<String> {
        self.failure.lock().expect("journal failure lock").clone()
    }

    fn set_failure(&self, reason: String) {
        tracing::error!(dir = %self.dir.display(), %reason, "capture journal stopped accepting appends");
        self.failure
            .lock()
            .expect("journal failure lock")
            .get_or_insert(reason);
    }

    /// Deletes a segment whose entries are all released, or renames it when
    /// it contained damaged bytes.
    fn retire(&self, retired: Retired) {
        self.readers
            .lock()
            .expect("journal readers lock")
            .remove(&retired.number);
        let path = segment_path(&self.dir, retired.number);
        let outcome = if retired.damaged {
            let kept = path.with_extension(DAMAGED_EXTENSION);
            tracing::warn!(path = %kept.display(), "keeping journal segment with damaged bytes for inspection");
            std::fs::rename(&path, &kept)
        } else {
            std::fs::remove_file(&path)
        };
        match outcome {
            Ok(()) => {
                self.used.fetch_sub(retired.size, Ordering::AcqRel);
            }
            Err(error) => {
                tracing::error!(path = %path.display(), %error, "could not remove released journal segment");
            }
        }
    }

    /// Reserves room for an append of `len` bytes.
    fn reserve(&self, len: u64) -> Result<(), JournalError> {
        let limit = self.options.max_bytes;
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                (used + len <= limit).then_some(used + len)
            })
            .map(|_| ())
            .map_err(|used| JournalError::Full { used, limit })
    }
}

/// The capture journal of one archive. See the module documentation.
pub struct Journal {
    shared: Arc<Shared>,
    sender: Mutex<Option<mpsc::Sender<Request>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// The locked `LOCK` file; unlocked by `close` or when dropped.
    lock: File,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("dir", &self.shared.dir)
            .field("used", &self.used_bytes())
            .finish()
    }
}

impl Journal {
    /// Opens (or creates) the journal in `dir`, cuts torn tails, and returns
    /// the entries that were never released.
    pub fn open(dir: &Path, options: JournalOptions) -> Result<(Journal, Recovery), JournalError> {
        std::fs::create_dir_all(dir)
            .map_err(|source| io_error("create journal directory", dir, source))?;
        let lock = lock_dir(dir)?;

        let mut table = SegmentTable::default();
        let mut recovery = Recovery::default();
        let mut used = 0;
        let mut last = 0;
        for (number, path) in list_segments(dir)? {
            let found = recover_segment(&path, number, &mut recovery)?;
            table.add_existing(number, found.size, found.entries, found.damaged);
            used += found.size;
            last = number;
        }

        let active = last + 1;
        let active_path = segment_path(dir, active);
        let file = OpenOptions::new()
            .create_new(true)
            .read(true)
            .write(true)
            .open(&active_path)
            .map_err(|source| io_error("create journal segment", &active_path, source))?;
        sync_dir(dir)?;
        table.activate(active);
        let idle = table.take_idle();

        let shared = Arc::new(Shared {
            dir: dir.to_owned(),
            options,
            used: AtomicU64::new(used),
            table: Mutex::new(table),
            readers: Mutex::new(HashMap::new()),
            failure: Mutex::new(None),
            syncs: AtomicU64::new(0),
        });
        for retired in idle {
            shared.retire(retired);
        }

        let (sender, receiver) = mpsc::channel();
        let writer = Writer::new(shared.clone(), file, active);
        let handle = std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || writer.run(receiver))
            .map_err(|source| io_error("start journal writer thread for", dir, source))?;

        let journal = Journal {
            shared,
            sender: Mutex::new(Some(sender)),
            writer: Mutex::new(Some(handle)),
            lock,
        };
        Ok((journal, recovery))
    }

    /// Appends an entry and returns once it is durable.
    pub async fn append(
        &self,
        partition: &Partition,
        info: &EntryInfo,
        frame: &[u8],
    ) -> Result<JournalPos, JournalError> {
        if let Some(reason) = self.shared.failure() {
            return Err(JournalError::Failed { reason });
        }
        let entry = encode_entry(partition, info, frame);
        let len = entry.len() as u64;
        self.shared.reserve(len)?;

        let (reply, answer) = oneshot::channel();
        let sent = match self.sender.lock().expect("journal sender lock").as_ref() {
            Some(sender) => sender.send(Request { entry, reply }).is_ok(),
            None => false,
        };
        if !sent {
            self.shared.used.fetch_sub(len, Ordering::AcqRel);
            return Err(JournalError::Closed);
        }
        answer.await.unwrap_or(Err(JournalError::Closed))
    }

    /// Reads an entry back. Blocking: call it off the async executor.
    pub fn read(&self, pos: JournalPos) -> Result<(Partition, EntryInfo, Bytes), JournalError> {
        let path = segment_path(&self.shared.dir, pos.segment);
        let file = self.reader(pos.segment, &path)?;
        let mut bytes = vec![0; pos.len as usize];
        file.read_exact_at(&mut bytes, pos.offset)
            .map_err(|source| io_error("read journal segment", &path, source))?;
        let DecodedEntry {
            partition,
            info,
            frame,
        } = decode_entry(&bytes).map_err(|reason| JournalError::Corrupt {
            path,
            offset: pos.offset,
            reason,
        })?;
        Ok((partition, info, frame))
    }

    fn reader(&self, segment: u64, path: &Path) -> Result<Arc<File>, JournalError> {
        let mut readers = self.shared.readers.lock().expect("journal readers lock");
        if let Some(file) = readers.get(&segment) {
            return Ok(file.clone());
        }
        let file = Arc::new(
            File::open(path).map_err(|source| io_error("open journal segment", path, source))?,
        );
        readers.insert(segment, file.clone());
        Ok(file)
    }

    /// Marks an entry as moved into storage. Its segment is deleted once
    /// every entry in it is released.
    pub fn release(&self, pos: JournalPos) {
        let retired = self
            .shared
            .table
            .lock()
            .expect("journal table lock")
            .release(pos.segment);
        if let Some(retired) = retired {
            self.shared.retire(retired);
        }
    }

    /// Bytes of the journal on disk, including appends in flight.
    pub fn used_bytes(&self) -> u64 {
        self.shared.used.load(Ordering::Acquire)
    }

    /// Returns the configured maximum size.
    pub fn max_bytes(&self) -> u64 {
        self.shared.options.max_bytes
    }

    /// Returns the oldest segment that still contains unreleased entries.
    pub fn oldest_outstanding_segment(&self) -> Option<u64> {
        self.shared
            .table
            .lock()
            .expect("journal table lock")
            .oldest_outstanding()
    }

    /// Number of `fdatasync` calls made since open.
    pub fn sync_count(&self) -> u64 {
        self.shared.syncs.load(Ordering::Relaxed)
    }

    /// Number of segment files on disk.
    pub fn segment_count(&self) -> usize {
        self.shared.table.lock().expect("journal table lock").len()
    }

    /// Stops accepting appends, lets the writer finish the ones queued,
    /// waits for it, and unlocks the journal directory. Reads still work.
    pub fn close(&self) {
        self.stop_appends();
        if let Err(error) = self.lock.unlock() {
            tracing::warn!(dir = %self.shared.dir.display(), %error, "unlocking the journal directory failed");
        }
    }

    /// Stops accepting appends, lets the writer finish the ones queued, and
    /// waits for it. The directory stays locked, because entries may still
    /// be released.
    pub fn stop_appends(&self) {
        self.sender.lock().expect("journal sender lock").take();
        let Some(handle) = self.writer.lock().expect("journal writer lock").take() else {
            return;
        };
        let _ = handle.join();
        let retired = self
            .shared
            .table
            .lock()
            .expect("journal table lock")
            .deactivate();
        if let Some(retired) = retired {
            self.shared.retire(retired);
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.close();
    }
}

fn lock_dir(dir: &Path) -> Result<File, JournalError> {
    let path = dir.join("LOCK");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| io_error("open journal lock file", &path, source))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(JournalError::Locked {
            dir: dir.to_owned(),
        }),
        Err(std::fs::TryLockError::Error(source)) => {
            Err(io_error("lock journal directory", dir, source))
        }
    }
}

fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, JournalError> {
    let read = std::fs::read_dir(dir).map_err(|source| io_error("list journal", dir, source))?;
    let mut segments = Vec::new();
    for item in read {
        let item = item.map_err(|source| io_error("list journal", dir, source))?;
        let name = item.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(number) = segment_number(name) {
            segments.push((number, item.path()));
        } else if name.ends_with(SEGMENT_EXTENSION) {
            tracing::warn!(file = %item.path().display(), "ignoring unexpected file in the journal directory");
        }
    }
    segments.sort();
    Ok(segments)
}

struct RecoveredSegment {
    size: u64,
    entries: u64,
    damaged: bool,
}

/// Scans one segment, cuts its torn tail and collects its entries.
fn recover_segment(
    path: &Path,
    number: u64,
    recovery: &mut Recovery,
) -> Result<RecoveredSegment, JournalError> {
    let data =
        std::fs::read(path).map_err(|source| io_error("read journal segment", path, source))?;
    let scanned = scan(&data);

    if scanned.valid_end < data.len() as u64 {
        let torn = data.len() as u64 - scanned.valid_end;
        tracing::info!(path = %path.display(), bytes = torn, "cutting torn tail of journal segment");
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|source| io_error("open journal segment", path, source))?;
        file.set_len(scanned.valid_end)
            .and_then(|()| file.sync_all())
            .map_err(|source| io_error("truncate journal segment", path, source))?;
        recovery.torn_bytes += torn;
    }
    for range in &scanned.damaged {
        tracing::error!(path = %path.display(), start = range.start, end = range.end, "skipping damaged bytes in journal segment");
        recovery.damaged.push(format!(
            "{}: bytes {}..{}",
            path.display(),
            range.start,
            range.end
        ));
    }

    let entries = scanned.entries.len() as u64;
    recovery
        .entries
        .extend(scanned.entries.into_iter().map(|scanned| ReplayedEntry {
            pos: JournalPos {
                segment: number,
                offset: scanned.offset,
                len: scanned.len,
            },
            partition: scanned.entry.partition,
            info: scanned.entry.info,
        }));
    Ok(RecoveredSegment {
        size: scanned.valid_end,
        entries,
        damaged: !scanned.damaged.is_empty(),
    })
}

#[cfg(test)]
mod tests;
