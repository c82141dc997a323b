//! Opening an archive: the builder, journal replay and background tasks.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::dictionaries::Dictionaries;
use super::indexer::{IndexCommand, Indexer, MAX_QUEUED_DOCUMENTS};
use super::mover::{Command, Mover, Waiting};
use super::pending::{KeyRegistry, Pending};
use super::release::{Consumer, Releases};
use super::status::Statuses;
use super::{Archive, ArchiveOptions, Inner, OpenError, Shared};
use crate::EntryRole;
use crate::Storage;
use crate::journal::{Journal, Recovery};
use crate::search::Index;

/// Configures and opens an [`Archive`].
pub struct ArchiveBuilder {
    pub(super) storage: Arc<dyn Storage>,
    pub(super) index: Option<Arc<dyn Index>>,
    pub(super) journal_dir: PathBuf,
    pub(super) options: ArchiveOptions,
}

impl ArchiveBuilder {
    /// Replaces all settings.
    pub fn options(mut self, options: ArchiveOptions) -> ArchiveBuilder {
        self.options = options;
        self
    }

    /// Sets the search index. Without one, searches fail with
    /// `SearchError::NoIndex`.
    pub fn index(mut self, index: Arc<dyn Index>) -> ArchiveBuilder {
        self.index = Some(index);
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
    /// background tasks. Must be called inside a Tokio runtime.
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
            releases: Releases::new(self.index.is_some()),
            index: self.index,
            journal,
            pending: Pending::default(),
            statuses: Statuses::default(),
            dictionaries: Arc::new(dictionaries),
            options: self.options,
            abandoned: AtomicBool::new(false),
            document_slots: tokio::sync::Semaphore::new(MAX_QUEUED_DOCUMENTS),
        });
        let keys = KeyRegistry::default();
        load_keys(&shared, &keys).await?;
        warn_if_index_is_behind(&shared).await;
        let replay = replay(&shared, &keys, recovery).await?;

        let (commands, receiver) = mpsc::unbounded_channel();
        for waiting in replay.to_store {
            let _ = commands.send(Command::Entry(waiting));
        }
        let mover = tokio::spawn(Mover::new(shared.clone()).run(receiver));

        let (index_commands, indexer) = match &shared.index {
            Some(index) => {
                let (sender, receiver) = mpsc::unbounded_channel();
                for waiting in replay.to_index {
                    let _ = sender.send(IndexCommand::Entry(waiting));
                }
                let task = tokio::spawn(Indexer::new(shared.clone(), index.clone()).run(receiver));
                (Some(sender), Some(task))
            }
            None => (None, None),
        };

        Ok(Archive {
            inner: Arc::new(Inner {
                shared,
                keys,
                commands,
                index_commands,
                mover: Mutex::new(Some(mover)),
                indexer: Mutex::new(indexer),
                closed: AtomicBool::new(false),
                background: Default::default(),
                sends: Default::default(),
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

/// Registers the idempotency keys of every stored message, and the send
/// statuses of each.
async fn load_keys(shared: &Shared, keys: &KeyRegistry) -> Result<(), OpenError> {
    for partition in shared.storage.partitions().await? {
        for listed in shared.storage.list(&partition).await? {
            shared.statuses.insert(&listed.info);
            if let Some(key) = listed.info.idempotency_key {
                keys.insert_known(key, listed.info.id);
            }
        }
    }
    Ok(())
}

/// Logs a warning when storage holds messages but the index is empty, which
/// happens when the index directory was removed: only a rebuild brings the
/// stored messages back into search.
async fn warn_if_index_is_behind(shared: &Shared) {
    let Some(index) = &shared.index else { return };
    let empty = matches!(index.count().await, Ok(0));
    let stored =
        matches!(shared.storage.partitions().await, Ok(partitions) if !partitions.is_empty());
    if empty && stored {
        tracing::warn!(
            "the search index is empty but storage holds messages; run `sentmail reindex` to rebuild it"
        );
    }
}

/// Replayed entries sorted by what they still need.
#[derive(Default)]
struct Replay {
    to_store: Vec<Waiting>,
    to_index: Vec<Waiting>,
}

/// Sorts replayed journal entries: those every consumer already holds are
/// released, the others go to the consumers that still need them.
async fn replay(
    shared: &Shared,
    keys: &KeyRegistry,
    recovery: Recovery,
) -> Result<Replay, OpenError> {
    let mut replay = Replay::default();
    for entry in recovery.entries {
        if let Some(key) = &entry.info.idempotency_key {
            keys.insert_known(key.clone(), entry.info.id);
        }
        shared.statuses.insert(&entry.info);
        let stored = shared.storage.contains(&entry.info.id).await?;
        let indexed = match &shared.index {
            _ if entry.info.role != EntryRole::Message => true,
            Some(index) => index.contains(&entry.info.id).await.unwrap_or(false),
            None => true,
        };
        // A second copy of the same message is released at once.
        let duplicate = !stored && shared.pending.contains(&entry.info.id);
        if (stored && indexed) || duplicate {
            shared.journal.release(entry.pos);
            continue;
        }

        shared.releases.register(entry.pos);
        let waiting = Waiting {
            pos: entry.pos,
            partition: entry.partition,
            info: entry.info,
        };
        if stored {
            shared
                .releases
                .done(&shared.journal, waiting.pos, Consumer::Storage);
        } else {
            shared.pending.insert(waiting.pos, &waiting.info);
            replay.to_store.push(waiting.clone());
        }
        if indexed {
            shared
                .releases
                .done(&shared.journal, waiting.pos, Consumer::Index);
        } else {
            replay.to_index.push(waiting);
        }
    }
    Ok(replay)
}
