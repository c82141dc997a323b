//! The background task that adds journal entries to the search index.
//!
//! Entries are read back from the journal, decompressed, parsed and added
//! in batches. The index is committed at most every
//! `ArchiveOptions::index_commit_interval` while entries wait, so a recorded
//! message is searchable within about that time. Only after a commit are
//! the entries reported done, so a crash before the commit replays them.
//! Failed index writes are retried with backoff and never dropped.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::Shared;
use super::mover::Waiting;
use super::read::decode_stored;
use super::release::Consumer;
use crate::journal::JournalPos;
use crate::parse_message;
use crate::search::{Index, IndexDocument};

/// Most entries parsed and added in one batch.
const BATCH: usize = 256;
/// How often waiting entries are checked for.
const TICK: Duration = Duration::from_millis(100);
/// Longest time between commits while the indexer has a backlog.
const BACKLOG_COMMIT_INTERVAL: Duration = Duration::from_secs(5);

/// Most documents built by callers that may wait in the indexer's queue.
pub(crate) const MAX_QUEUED_DOCUMENTS: usize = 1024;

/// Requests to the indexer.
pub(crate) enum IndexCommand {
    /// A newly durable entry to index.
    Entry(Waiting),
    /// A newly durable entry whose document the caller already built.
    Document(JournalPos, Box<IndexDocument>),
    /// Index and commit everything waiting, then reply.
    Flush(oneshot::Sender<()>),
    /// Stop serving commands.
    Stop,
}

/// An entry waiting to be indexed, with its document if the caller built
/// one.
enum Queued {
    Entry(Waiting),
    Ready(JournalPos, Box<IndexDocument>),
}

pub(crate) struct Indexer {
    shared: Arc<Shared>,
    index: Arc<dyn Index>,
    queue: Vec<Queued>,
    /// Entries added to the index but not yet committed.
    uncommitted: Vec<JournalPos>,
    last_commit: Instant,
}

impl Indexer {
    pub(crate) fn new(shared: Arc<Shared>, index: Arc<dyn Index>) -> Indexer {
        Indexer {
            shared,
            index,
            queue: Vec::new(),
            uncommitted: Vec::new(),
            last_commit: Instant::now(),
        }
    }

    /// Serves commands until told to stop or every sender is dropped.
    pub(crate) async fn run(mut self, mut commands: mpsc::UnboundedReceiver<IndexCommand>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(IndexCommand::Entry(waiting)) => {
                        self.queue.push(Queued::Entry(waiting));
                        if self.queue.len() >= BATCH {
                            self.add_queued().await;
                        }
                    }
                    Some(IndexCommand::Document(pos, document)) => {
                        self.shared.document_slots.add_permits(1);
                        self.queue.push(Queued::Ready(pos, document));
                        if self.queue.len() >= BATCH {
                            self.add_queued().await;
                        }
                    }
                    Some(IndexCommand::Flush(reply)) => {
                        self.add_queued().await;
                        self.commit().await;
                        let _ = reply.send(());
                    }
                    Some(IndexCommand::Stop) | None => break,
                },
                _ = tick.tick() => {
                    let backlog = self.queue.len() + commands.len();
                    self.add_queued().await;
                    // While far behind, as during a bulk import, commit less
                    // often: each commit writes small segments that must be
                    // merged again, and near-real-time search only matters
                    // once the indexer has caught up.
                    let interval = if backlog > BATCH {
                        BACKLOG_COMMIT_INTERVAL
                    } else {
                        self.shared.options.index_commit_interval
                    };
                    if !self.uncommitted.is_empty() && self.last_commit.elapsed() >= interval {
                        self.commit().await;
                    }
                }
            }
        }
    }

    /// Parses and adds every queued entry, in batches.
    async fn add_queued(&mut self) {
        while !self.queue.is_empty() {
            let take = self.queue.len().min(BATCH);
            let mut to_parse = Vec::new();
            let mut positions = Vec::with_capacity(take);
            let mut documents = Vec::with_capacity(take);
            for queued in self.queue.drain(..take) {
                match queued {
                    Queued::Entry(waiting) => to_parse.push(waiting),
                    Queued::Ready(pos, document) => {
                        positions.push(pos);
                        documents.push(*document);
                    }
                }
            }
            if !to_parse.is_empty() {
                let (parsed_positions, parsed) = self.documents(to_parse).await;
                positions.extend(parsed_positions);
                documents.extend(parsed);
            }
            if documents.is_empty() {
                continue;
            }
            let added = self
                .retry("add documents to the search index", || {
                    let index = self.index.clone();
                    let documents = documents.clone();
                    async move { index.add(documents).await }
                })
                .await;
            if !added {
                return;
            }
            self.uncommitted.extend(positions);
        }
    }

    /// Reads, decodes and parses a batch. An entry that cannot be read is
    /// logged and stays unreleased in the journal.
    async fn documents(&self, batch: Vec<Waiting>) -> (Vec<JournalPos>, Vec<IndexDocument>) {
        let shared = self.shared.clone();
        let read = tokio::task::spawn_blocking(move || {
            batch
                .into_iter()
                .map(|waiting| (waiting.pos, shared.journal.read(waiting.pos)))
                .collect::<Vec<_>>()
        })
        .await
        .expect("journal read task");

        let mut loaded = Vec::with_capacity(read.len());
        for (pos, entry) in read {
            let location = format!("journal segment {} at offset {}", pos.segment, pos.offset);
            let decoded = match entry {
                Ok((_, info, frame)) => decode_stored(&self.shared, info, &frame, &location).await,
                Err(error) => Err(error.into()),
            };
            match decoded {
                Ok(message) => loaded.push((pos, message)),
                Err(error) => {
                    tracing::error!(%location, %error, "cannot index a journal entry; it stays in the journal");
                }
            }
        }

        let options = self.shared.options.parse.clone();
        tokio::task::spawn_blocking(move || {
            loaded
                .into_iter()
                .map(|(pos, stored)| {
                    let message =
                        parse_message(&stored.raw, &stored.meta, stored.info.recorded_at, &options);
                    (pos, IndexDocument::from_message(&message))
                })
                .unzip()
        })
        .await
        .expect("message parse task")
    }

    /// Commits the index and reports the committed entries done.
    async fn commit(&mut self) {
        if self.uncommitted.is_empty() {
            return;
        }
        let committed = self
            .retry("commit the search index", || {
                let index = self.index.clone();
                async move { index.commit().await }
            })
            .await;
        if !committed {
            return;
        }
        self.last_commit = Instant::now();
        for pos in self.uncommitted.drain(..) {
            self.shared
                .releases
                .done(&self.shared.journal, pos, Consumer::Index);
        }
    }

    /// Runs `attempt` until it succeeds, waiting longer after each failure.
    /// Returns false if it gave up because the archive was dropped.
    async fn retry<F, Fut>(&self, what: &str, mut attempt: F) -> bool
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<(), crate::search::IndexError>>,
    {
        let options = &self.shared.options;
        let mut wait = options.storage_retry_initial;
        let mut attempts = 1u32;
        while let Err(error) = attempt().await {
            if self.shared.abandoned.load(Ordering::Acquire) {
                tracing::warn!(%error, "{what} failed after the archive was dropped; the messages stay in the journal");
                return false;
            }
            tracing::warn!(attempt = attempts, %error, retry_in_ms = wait.as_millis() as u64, "{what} failed; retrying");
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(options.storage_retry_max);
            attempts = attempts.saturating_add(1);
        }
        true
    }
}
