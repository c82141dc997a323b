//! The background task that moves journal entries into storage.
//!
//! Entries wait in per-partition buffers until a partition has enough for a
//! pack (count or bytes), until its oldest entry is old enough, until the
//! journal runs short of room, or until a flush. Then the partition's
//! frames are read back from the journal, written to storage as one pack,
//! and only after storage confirms them are they released from the journal.
//! A failed storage write is retried with backoff and never dropped.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::Shared;
use super::release::Consumer;
use crate::journal::{JournalError, JournalPos};
use crate::{EntryInfo, PackEntry, Partition};

/// How often the mover checks buffer ages and journal pressure.
const TICK: Duration = Duration::from_secs(1);

/// A durable journal entry waiting to move into storage.
#[derive(Debug, Clone)]
pub(crate) struct Waiting {
    pub(crate) pos: JournalPos,
    pub(crate) partition: Partition,
    pub(crate) info: EntryInfo,
}

/// Requests to the mover.
pub(crate) enum Command {
    /// A newly durable entry.
    Entry(Waiting),
    /// Move everything waiting into storage, then reply.
    Flush(oneshot::Sender<()>),
    /// Stop serving commands.
    Stop,
}

#[derive(Default)]
struct Buffer {
    entries: Vec<Waiting>,
    bytes: u64,
    since: Option<Instant>,
}

pub(crate) struct Mover {
    shared: Arc<Shared>,
    buffers: HashMap<Partition, Buffer>,
}

impl Mover {
    pub(crate) fn new(shared: Arc<Shared>) -> Mover {
        Mover {
            shared,
            buffers: HashMap::new(),
        }
    }

    /// Serves commands until every sender is dropped.
    pub(crate) async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::Entry(waiting)) => {
                        let partition = waiting.partition.clone();
                        self.add(waiting);
                        self.seal_if_full(&partition).await;
                        self.relieve_pressure().await;
                    }
                    Some(Command::Flush(reply)) => {
                        self.seal_all().await;
                        let _ = reply.send(());
                    }
                    Some(Command::Stop) | None => break,
                },
                _ = tick.tick() => {
                    self.seal_aged().await;
                    self.relieve_pressure().await;
                }
            }
        }
    }

    fn add(&mut self, waiting: Waiting) {
        let buffer = self.buffers.entry(waiting.partition.clone()).or_default();
        buffer.bytes += u64::from(waiting.pos.len);
        buffer.since.get_or_insert_with(Instant::now);
        buffer.entries.push(waiting);
    }

    async fn seal_if_full(&mut self, partition: &Partition) {
        let options = &self.shared.options;
        let full = self.buffers.get(partition).is_some_and(|buffer| {
            buffer.entries.len() >= options.pack_max_messages
                || buffer.bytes >= options.pack_max_bytes
        });
        if full {
            self.seal(partition.clone()).await;
        }
    }

    async fn seal_aged(&mut self) {
        let max_age = self.shared.options.pack_max_age;
        let aged: Vec<Partition> = self
            .buffers
            .iter()
            .filter(|(_, buffer)| buffer.since.is_some_and(|since| since.elapsed() >= max_age))
            .map(|(partition, _)| partition.clone())
            .collect();
        for partition in aged {
            self.seal(partition).await;
        }
    }

    async fn seal_all(&mut self) {
        let mut partitions: Vec<Partition> = self.buffers.keys().cloned().collect();
        partitions.sort();
        for partition in partitions {
            self.seal(partition).await;
        }
    }

    /// While the journal is over half full, seals the partitions that hold
    /// entries of its oldest segment, so that segment can be deleted.
    async fn relieve_pressure(&mut self) {
        let shared = self.shared.clone();
        let threshold = shared.journal.max_bytes() / 2;
        while shared.journal.used_bytes() > threshold {
            let Some(oldest) = shared.journal.oldest_outstanding_segment() else {
                return;
            };
            let holders: Vec<Partition> = self
                .buffers
                .iter()
                .filter(|(_, buffer)| buffer.entries.iter().any(|w| w.pos.segment <= oldest))
                .map(|(partition, _)| partition.clone())
                .collect();
            if holders.is_empty() {
                return;
            }
            for partition in holders {
                self.seal(partition).await;
            }
        }
    }

    /// Writes one partition's waiting entries to storage, retrying until
    /// storage accepts them, then releases them from the journal.
    async fn seal(&mut self, partition: Partition) {
        let Some(buffer) = self.buffers.remove(&partition) else {
            return;
        };
        let entries = self.read_frames(&partition, buffer.entries).await;
        if entries.is_empty() {
            return;
        }

        let pack_entries: Vec<PackEntry> = entries.iter().map(|(_, entry)| entry.clone()).collect();
        if !self.put_with_retry(&partition, pack_entries).await {
            return;
        }

        for (pos, entry) in &entries {
            self.shared.pending.remove(&entry.info.id);
            self.shared
                .releases
                .done(&self.shared.journal, *pos, Consumer::Storage);
        }
    }

    /// Reads the frames of `waiting` back from the journal. An entry that
    /// fails its checksum is logged as an error and left unreleased, so the
    /// damaged bytes stay on disk for inspection.
    async fn read_frames(
        &mut self,
        partition: &Partition,
        waiting: Vec<Waiting>,
    ) -> Vec<(JournalPos, PackEntry)> {
        let shared = self.shared.clone();
        let partition_text = partition.to_string();
        let read = tokio::task::spawn_blocking(move || {
            let mut entries = Vec::with_capacity(waiting.len());
            let mut retry = Vec::new();
            for item in waiting {
                match shared.journal.read(item.pos) {
                    Ok((_, info, frame)) => entries.push((item.pos, PackEntry { info, frame })),
                    Err(error @ JournalError::Corrupt { .. }) => {
                        tracing::error!(id = %item.info.id, partition = %partition_text, %error, "journal entry is damaged and cannot be moved to storage");
                    }
                    Err(error) => {
                        tracing::warn!(id = %item.info.id, %error, "reading journal entry failed; will retry");
                        retry.push(item);
                    }
                }
            }
            (entries, retry)
        });
        match read.await {
            Ok((entries, retry)) => {
                for item in retry {
                    self.add(item);
                }
                entries
            }
            Err(error) => {
                tracing::error!(%error, "journal read task failed");
                Vec::new()
            }
        }
    }

    /// Returns false if it gave up because the archive was dropped.
    async fn put_with_retry(&self, partition: &Partition, entries: Vec<PackEntry>) -> bool {
        let options = &self.shared.options;
        let mut wait = options.storage_retry_initial;
        let mut attempt = 1u32;
        loop {
            match self.shared.storage.put(partition, entries.clone()).await {
                Ok(outcome) => {
                    tracing::debug!(%partition, stored = outcome.stored, skipped = outcome.skipped, pack = ?outcome.pack, "moved messages to storage");
                    return true;
                }
                Err(error) => {
                    if self.shared.abandoned.load(Ordering::Acquire) {
                        tracing::warn!(%partition, %error, "storage write failed after the archive was dropped; the messages stay in the journal");
                        return false;
                    }
                    if error.is_retryable() {
                        tracing::warn!(%partition, attempt, %error, retry_in_ms = wait.as_millis() as u64, "storage write failed; retrying");
                    } else {
                        tracing::error!(%partition, attempt, %error, retry_in_ms = wait.as_millis() as u64, "storage write failed; retrying");
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(options.storage_retry_max);
                    attempt = attempt.saturating_add(1);
                }
            }
        }
    }
}
