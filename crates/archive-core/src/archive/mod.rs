//! The `Archive` engine: the one API that the application, the SMTP
//! receiver, the importer and the web UI use to record, find and read mail.
//!
//! Write path: [`Archive::record`] checks the size, computes the archive id,
//! reads the header block for the date and Message-ID, compresses the
//! message and appends it to the capture journal. It returns once the
//! journal entry is durable. Two background tasks then take the entry: the
//! mover (`mover`) writes each partition's entries to storage as packs, and
//! the indexer (`indexer`) parses them into the search index. An entry is
//! released from the journal only after both have committed it.
//!
//! Read path: a message still waiting in the journal is read from there;
//! any other from storage. Either way its SHA-256 is checked against the
//! id before the bytes are returned. Searches read the index only.

mod dictionaries;
mod error;
mod indexer;
mod mover;
mod open;
mod options;
mod pending;
mod read;
mod reconcile;
mod record;
mod release;
mod search;
mod status;

pub use error::{FlushError, OpenError, ReadError, RecordError, SearchError};
pub use open::ArchiveBuilder;
pub use options::{ArchiveOptions, DEFAULT_MAX_MESSAGE_BYTES, MAX_META_BYTES};
pub use read::{Damage as VerifyDamage, VerifyReport};
pub use reconcile::{Expectation, Expected, ReconcileReport, Window, WindowReport};
pub use search::{SearchHit, SearchResults};

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::Storage;
use crate::journal::Journal;
use crate::search::{Index, IndexDocument};
use dictionaries::Dictionaries;
use indexer::IndexCommand;
use mover::{Command, Waiting};
use pending::{KeyRegistry, Pending};
use release::{Consumer, Releases};
use status::{Background, Sends, Statuses};

/// Longest wait for room in the indexer's document queue.
const DOCUMENT_SLOT_WAIT: Duration = Duration::from_secs(1);

/// State shared by the archive handles and the background tasks.
pub(crate) struct Shared {
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) index: Option<Arc<dyn Index>>,
    pub(crate) journal: Journal,
    pub(crate) pending: Pending,
    pub(crate) statuses: Statuses,
    pub(crate) releases: Releases,
    pub(crate) dictionaries: Arc<Dictionaries>,
    pub(crate) options: ArchiveOptions,
    /// Set when every `Archive` handle is gone, so that background retries
    /// give up and leave their entries in the journal for the next open.
    pub(crate) abandoned: AtomicBool,
    /// Free places for documents built by callers in the indexer's queue.
    pub(crate) document_slots: tokio::sync::Semaphore,
}

struct Inner {
    shared: Arc<Shared>,
    keys: KeyRegistry,
    commands: mpsc::UnboundedSender<Command>,
    index_commands: Option<mpsc::UnboundedSender<IndexCommand>>,
    mover: Mutex<Option<JoinHandle<()>>>,
    indexer: Mutex<Option<JoinHandle<()>>>,
    closed: AtomicBool,
    runtime: tokio::runtime::Handle,
    /// Send statuses being recorded in the background.
    background: Background,
    /// Sends through the lettre transport in progress.
    sends: Sends,
}

/// An open archive. Cloning is cheap; clones share one archive.
///
/// Open it with [`Archive::builder`]. It must be opened inside a Tokio
/// runtime, which runs its background tasks.
#[derive(Clone)]
pub struct Archive {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Archive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Archive")
            .field("storage", &self.inner.shared.storage)
            .field("index", &self.inner.shared.index)
            .field("journal", &self.inner.shared.journal)
            .finish()
    }
}

/// Figures about an open archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveStats {
    /// Entries (messages and send statuses) durable in the journal and not
    /// yet in storage.
    pub pending_messages: usize,
    /// Bytes the journal uses on disk.
    pub journal_bytes: u64,
    /// The journal's maximum size.
    pub journal_max_bytes: u64,
    /// `fdatasync` calls the journal made since open.
    pub journal_syncs: u64,
}

impl Archive {
    /// Starts configuring an archive on `storage`, with its capture journal
    /// in `journal_dir`.
    pub fn builder(storage: Arc<dyn Storage>, journal_dir: impl AsRef<Path>) -> ArchiveBuilder {
        ArchiveBuilder {
            storage,
            index: None,
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

    /// Returns the archive's settings.
    pub fn options(&self) -> &ArchiveOptions {
        &self.inner.shared.options
    }

    /// Hands a durable journal entry to the background tasks, with its
    /// index document when the caller built one. Waits, at most
    /// [`DOCUMENT_SLOT_WAIT`], for room in the indexer's queue, so a caller
    /// that builds documents records no faster than the index keeps up;
    /// after that the entry goes without its document and is parsed again.
    async fn dispatch(&self, waiting: Waiting, document: Option<IndexDocument>) {
        let id = waiting.info.id;
        let shared = &self.inner.shared;
        if waiting.info.role != crate::EntryRole::Message {
            // Only messages are searched.
            shared
                .releases
                .done(&shared.journal, waiting.pos, Consumer::Index);
        } else if let Some(indexer) = &self.inner.index_commands {
            let command = match document {
                Some(document) if self.take_document_slot().await => {
                    IndexCommand::Document(waiting.pos, Box::new(document))
                }
                _ => IndexCommand::Entry(waiting.clone()),
            };
            if indexer.send(command).is_err() {
                tracing::error!(%id, "archive indexer has stopped; the message stays in the journal");
            }
        }
        if self.inner.commands.send(Command::Entry(waiting)).is_err() {
            // The entry is durable; the next open moves it to storage.
            tracing::error!(%id, "archive background task has stopped; the message stays in the journal");
        }
    }

    /// Moves every message waiting in the journal into storage and the
    /// search index, and waits at most `timeout` until both have committed
    /// them.
    pub async fn flush(&self, timeout: Duration) -> Result<(), FlushError> {
        self.wait_for_background(timeout).await?;
        let (mover_reply, mover_done) = oneshot::channel();
        self.inner
            .commands
            .send(Command::Flush(mover_reply))
            .map_err(|_| FlushError::Stopped)?;
        let indexer_done = match &self.inner.index_commands {
            Some(indexer) => {
                let (reply, done) = oneshot::channel();
                indexer
                    .send(IndexCommand::Flush(reply))
                    .map_err(|_| FlushError::Stopped)?;
                Some(done)
            }
            None => None,
        };

        let both = async {
            mover_done.await.map_err(|_| FlushError::Stopped)?;
            if let Some(done) = indexer_done {
                done.await.map_err(|_| FlushError::Stopped)?;
            }
            Ok(())
        };
        match tokio::time::timeout(timeout, both).await {
            Ok(result) => result,
            Err(_) => Err(FlushError::TimedOut {
                pending: self.inner.shared.pending.len(),
                seconds: timeout.as_secs(),
            }),
        }
    }

    /// Stops accepting new messages, flushes the journal into storage and
    /// the index (waiting at most `timeout`) and closes the journal. Other
    /// clones of this archive can still read but no longer record.
    ///
    /// When `close` returns `Ok`, the journal directory is unlocked, so the
    /// archive can be opened again at once.
    pub async fn close(&self, timeout: Duration) -> Result<(), FlushError> {
        let stopped = self.inner.mover.lock().expect("task handle lock").is_none();
        if self.is_closed() && stopped {
            // Closed before, successfully.
            return Ok(());
        }
        let waited = self.wait_for_background(timeout).await;
        self.inner.closed.store(true, Ordering::Release);
        waited?;
        let flushed = self.flush(timeout).await;

        // After a timeout the background tasks keep retrying and may still
        // release journal entries, so the journal stays locked until the
        // process ends. After a successful flush they stop now.
        let succeeded = flushed.is_ok();
        if succeeded {
            self.stop_tasks().await;
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

    /// Waits, at most `timeout`, for send statuses recorded in the
    /// background.
    async fn wait_for_background(&self, timeout: Duration) -> Result<(), FlushError> {
        tokio::time::timeout(timeout, self.inner.background.idle())
            .await
            .map_err(|_| FlushError::TimedOut {
                pending: self.inner.shared.pending.len(),
                seconds: timeout.as_secs(),
            })
    }

    async fn stop_tasks(&self) {
        let _ = self.inner.commands.send(Command::Stop);
        if let Some(indexer) = &self.inner.index_commands {
            let _ = indexer.send(IndexCommand::Stop);
        }
        let mover = self.inner.mover.lock().expect("task handle lock").take();
        let indexer = self.inner.indexer.lock().expect("task handle lock").take();
        for task in [mover, indexer].into_iter().flatten() {
            let _ = task.await;
        }
    }

    /// Takes a place in the indexer's document queue; the indexer gives it
    /// back when it takes the document.
    async fn take_document_slot(&self) -> bool {
        let slots = &self.inner.shared.document_slots;
        match tokio::time::timeout(DOCUMENT_SLOT_WAIT, slots.acquire()).await {
            Ok(Ok(permit)) => {
                permit.forget();
                true
            }
            _ => false,
        }
    }

    fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The background tasks stop by themselves once their command
        // channels close, and retries give up; the journal keeps whatever
        // they had not finished.
        self.shared.abandoned.store(true, Ordering::Release);
        self.mover.lock().expect("task handle lock").take();
        self.indexer.lock().expect("task handle lock").take();
    }
}
