//! The `Archive` engine: the one API that the application, the SMTP
//! receiver, the importer and the web UI use to record and read mail.
//!
//! Write path: [`Archive::record`] checks the size, computes the archive id,
//! reads the header block for the date and Message-ID, compresses the
//! message and appends it to the capture journal. It returns once the
//! journal entry is durable. A background task (see `mover`) later writes
//! the entries of each partition to storage as packs and releases them
//! from the journal.
//!
//! Read path: a message still waiting in the journal is read from there;
//! any other from storage. Either way its SHA-256 is checked against the
//! id before the bytes are returned.

mod dictionaries;
mod error;
mod mover;
mod options;
mod pending;
mod read;
mod record;

pub use error::{FlushError, OpenError, ReadError, RecordError};
pub use options::{ArchiveOptions, DEFAULT_MAX_MESSAGE_BYTES, MAX_META_BYTES};
pub use read::{Damage as VerifyDamage, VerifyReport};

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::Storage;
use crate::journal::{Journal, Recovery};
use dictionaries::Dictionaries;
use mover::{Command, Mover, Waiting};
use pending::{KeyRegistry, Pending};

/// State shared by the archive handles and the background mover.
pub(crate) struct Shared {
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) journal: Journal,
    pub(crate) pending: Pending,
    pub(crate) dictionaries: Arc<Dictionaries>,
    pub(crate) options: ArchiveOptions,
}

struct Inner {
    shared: Arc<Shared>,
    keys: KeyRegistry,
    commands: mpsc::UnboundedSender<Command>,
    mover: Mutex<Option<JoinHandle<()>>>,
    closed: AtomicBool,
    runtime: tokio::runtime::Handle,
}

/// An open archive. Cloning is cheap; clones share one archive.
///
/// Open it with [`Archive::builder`]. It must be opened inside a Tokio
/// runtime, which runs its background task.
#[derive(Clone)]
pub struct Archive {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Archive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Archive")
            .field("storage", &self.inner.shared.storage)
            .field("journal", &self.inner.shared.journal)
            .finish()
    }
}

/// Figures about an open archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveStats {
    /// Messages durable in the journal and not yet in storage.
    pub pending_messages: usize,
    /// Bytes the journal uses on disk.
    pub journal_bytes: u64,
    /// The journal's maximum size.
    pub journal_max_bytes: u64,
    /// `fdatasync` calls the journal made since open.
    pub journal_syncs: u64,
}

/// Configures and opens an [`Archive`].
pub struct ArchiveBuilder {
    storage: Arc<dyn Storage>,
    journal_dir: PathBuf,
    options: ArchiveOptions,
}

impl Archive {
    /// Starts configuring an archive on `storage`, with its capture journal
    /// in `journal_dir`.
    pub fn builder(storage: Arc<dyn Storage>, journal_dir: impl AsRef<Path>) -> ArchiveBuilder {
        ArchiveBuilder {
            storage,
            journal_dir: journal_dir.as_ref().to_owned(),
            options: ArchiveOptions::default(),
        }
    }

    /// Returns figures about the archive.
    pub fn stats(&self) -> ArchiveStats {
        let shared = &self.inner.shared;
        ArchiveStats {
            pending_messages: shared.pending.len(),
            journal_bytes: shared.journal.used_bytes(),
            journal_max_bytes: shared.journal.max_bytes(),
            journal_syncs: shared.journal.sync_count(),
        }
    }

    /// The archive's settings.
    pub fn options(&self) -> &ArchiveOptions {
        &self.inner.shared.options
    }

    /// Moves every message waiting in the journal into storage and waits,
    /// at most `timeout`, until storage has accepted them.
    pub async fn flush(&self, timeout: Duration) -> Result<(), FlushError> {
        let (reply, done) = oneshot::channel();
        self.inner
            .commands
            .send(Command::Flush(reply))
            .map_err(|_| FlushError::Stopped)?;
        match tokio::time::timeout(timeout, done).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(FlushError::Stopped),
            Err(_) => Err(FlushError::TimedOut {
                pending: self.inner.shared.pending.len(),
                seconds: timeout.as_secs(),
            }),
        }
    }

    /// Stops accepting new messages, flushes the journal into storage
    /// (waiting at most `timeout`) and closes the journal. Other clones of
    /// this archive can still read but no longer record.
    ///
    /// When `close` returns `Ok`, the journal directory is unlocked, so the
    /// archive can be opened again at once.
    pub async fn close(&self, timeout: Duration) -> Result<(), FlushError> {
        self.inner.closed.store(true, Ordering::Release);
        let flushed = self.flush(timeout).await;

        // After a timeout the mover keeps retrying storage and may still
        // release journal entries, so the journal stays locked until the
        // process ends. After a successful flush both stop now.
        let succeeded = flushed.is_ok();
        if succeeded {
            let _ = self.inner.commands.send(Command::Stop);
            let mover = self.inner.mover.lock().expect("mover handle lock").take();
            if let Some(mover) = mover {
                let _ = mover.await;
            }
        }
        let shared = self.inner.shared.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if succeeded {
                shared.journal.close();
            } else {
                shared.journal.stop_appends();
            }
        })
        .await;
        flushed
    }

    fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }
}

impl ArchiveBuilder {
    /// Replaces all settings.
    pub fn options(mut self, options: ArchiveOptions) -> ArchiveBuilder {
        self.options = options;
        self
    }

    /// Sets the maximum message size in bytes.
    pub fn max_message_bytes(mut self, limit: u64) -> ArchiveBuilder {
        self.options.max_message_bytes = limit;
        self
    }

    /// Sets the maximum journal size in bytes.
    pub fn journal_max_bytes(mut self, limit: u64) -> ArchiveBuilder {
        self.options.journal.max_bytes = limit;
        self
    }

    /// Opens the journal, replays its unreleased entries and starts the
    /// background task. Must be called inside a Tokio runtime.
    pub async fn open(self) -> Result<Archive, OpenError> {
        validate_options(&self.options)?;
        let journal_dir = self.journal_dir.clone();
        let journal_options = self.options.journal.clone();
        let (journal, recovery) =
            tokio::task::spawn_blocking(move || Journal::open(&journal_dir, journal_options))
                .await
                .expect("journal open task")?;
        log_recovery(&self.journal_dir, &recovery);

        let dictionaries = Dictionaries::load(
            self.storage.as_ref(),
            self.options.dictionary_training_messages,
            self.options.dictionary_max_bytes,
        )
        .await?;
        let shared = Arc::new(Shared {
            storage: self.storage,
            journal,
            pending: Pending::default(),
            dictionaries: Arc::new(dictionaries),
            options: self.options,
        });
        let keys = KeyRegistry::default();
        load_keys(&shared, &keys).await?;
        let replay = replay(&shared, &keys, recovery).await?;

        let (commands, receiver) = mpsc::unbounded_channel();
        for waiting in replay {
            let _ = commands.send(Command::Entry(waiting));
        }
        let mover = tokio::spawn(Mover::new(shared.clone()).run(receiver));

        Ok(Archive {
            inner: Arc::new(Inner {
                shared,
                keys,
                commands,
                mover: Mutex::new(Some(mover)),
                closed: AtomicBool::new(false),
                runtime: tokio::runtime::Handle::current(),
            }),
        })
    }
}

fn validate_options(options: &ArchiveOptions) -> Result<(), OpenError> {
    let day = chrono::NaiveDate::default();
    for (kind, class) in &options.retention_classes {
        crate::Partition::new(class, day).map_err(|error| OpenError::InvalidOptions {
            reason: format!("retention class of kind {kind:?}: {error}"),
        })?;
    }
    if options.pack_max_messages == 0 {
        return Err(OpenError::InvalidOptions {
            reason: "pack_max_messages must be at least 1".into(),
        });
    }
    Ok(())
}

fn log_recovery(dir: &Path, recovery: &Recovery) {
    if !recovery.entries.is_empty() || recovery.torn_bytes > 0 {
        tracing::info!(
            journal = %dir.display(),
            entries = recovery.entries.len(),
            torn_bytes = recovery.torn_bytes,
            "replaying capture journal"
        );
    }
    for damage in &recovery.damaged {
        tracing::error!(%damage, "capture journal held damaged bytes");
    }
}

/// Registers the idempotency keys of every stored message.
async fn load_keys(shared: &Shared, keys: &KeyRegistry) -> Result<(), OpenError> {
    for partition in shared.storage.partitions().await? {
        for listed in shared.storage.list(&partition).await? {
            if let Some(key) = listed.info.idempotency_key {
                keys.insert_known(key, listed.info.id);
            }
        }
    }
    Ok(())
}

/// Sorts replayed journal entries into those storage already holds (which
/// are released) and those still to move.
async fn replay(
    shared: &Shared,
    keys: &KeyRegistry,
    recovery: Recovery,
) -> Result<Vec<Waiting>, OpenError> {
    let mut waiting = Vec::new();
    for entry in recovery.entries {
        if let Some(key) = &entry.info.idempotency_key {
            keys.insert_known(key.clone(), entry.info.id);
        }
        let stored = shared.storage.contains(&entry.info.id).await?;
        if stored || !shared.pending.insert(entry.pos, &entry.info) {
            shared.journal.release(entry.pos);
            continue;
        }
        waiting.push(Waiting {
            pos: entry.pos,
            partition: entry.partition,
            info: entry.info,
        });
    }
    Ok(waiting)
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The mover stops by itself once the command channel closes; the
        // journal keeps whatever it had not moved.
        self.mover.lock().expect("mover handle lock").take();
    }
}
