//! Send statuses: the relays' replies, stored as small entries beside the
//! message they describe.
//!
//! A status entry is a JSON record with role [`EntryRole::SendStatus`], in
//! the partition of its message, so retention deletes both together. Its
//! `message_id` field contains the message's archive id in hex. It is never
//! indexed, and listings and searches skip it.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::mover::Waiting;
use super::record::{now_millis, partition_of};
use super::{Archive, ReadError, RecordError};
use crate::{
    ArchiveId, EntryInfo, EntryRole, RecordMeta, SendStatus, Source, encode_frame, summarize,
};

/// The stored form of a status.
#[derive(Serialize, Deserialize)]
struct StatusRecord {
    message: ArchiveId,
    status: SendStatus,
}

/// The status entries of each message, by message id.
#[derive(Debug, Default)]
pub(crate) struct Statuses {
    map: Mutex<HashMap<ArchiveId, Vec<ArchiveId>>>,
}

impl Statuses {
    /// Registers a status entry found in storage or the journal, or just
    /// recorded. Ignores entries of other roles and repeats.
    pub(crate) fn insert(&self, info: &EntryInfo) {
        if info.role != EntryRole::SendStatus {
            return;
        }
        let Some(message) = info.message_id.as_deref().and_then(|hex| hex.parse().ok()) else {
            tracing::warn!(id = %info.id, "send status names no message; ignored");
            return;
        };
        let mut map = self.map.lock().expect("status lock");
        let ids = map.entry(message).or_default();
        if !ids.contains(&info.id) {
            ids.push(info.id);
        }
    }

    fn of(&self, message: &ArchiveId) -> Vec<ArchiveId> {
        let map = self.map.lock().expect("status lock");
        map.get(message).cloned().unwrap_or_default()
    }
}

impl Archive {
    /// Records the relay's reply to sending message `message`, and returns
    /// once it is durable. Each call adds one status; a message sent twice,
    /// after a failure, has two.
    ///
    /// Errors: [`RecordError::UnknownMessage`] when no message has that id;
    /// otherwise those of [`Archive::record`].
    pub async fn record_send_status(
        &self,
        message: &ArchiveId,
        status: &SendStatus,
    ) -> Result<(), RecordError> {
        self.record_status_of(message, None, status).await
    }

    /// Records a send status like [`Archive::record_send_status`]. A caller
    /// that recorded the message with `meta.kind` set passes that kind,
    /// which spares a read of a message still waiting in the journal.
    pub(crate) async fn record_status_of(
        &self,
        message: &ArchiveId,
        kind: Option<&str>,
        status: &SendStatus,
    ) -> Result<(), RecordError> {
        if self.is_closed() {
            return Err(RecordError::Closed);
        }
        let pending = self.inner.shared.pending.info(message);
        let (date, kind) = match (pending, kind) {
            (Some(info), Some(kind)) if info.role == EntryRole::Message => {
                (info.date, Some(kind.to_owned()))
            }
            _ => match self.load_message(message).await {
                // The kind may come from a header, as when the message was
                // recorded; the status must land in the same partition.
                Ok(loaded) => {
                    let options = &self.inner.shared.options.parse;
                    let recorded_at = loaded.info.recorded_at;
                    let summary = summarize(&loaded.raw, &loaded.meta, recorded_at, options);
                    (loaded.info.date, summary.kind)
                }
                Err(ReadError::NotFound { .. }) => {
                    return Err(RecordError::UnknownMessage { id: *message });
                }
                Err(error) => return Err(RecordError::Read(Box::new(error))),
            },
        };
        let record = StatusRecord {
            message: *message,
            status: status.clone(),
        };
        let raw = Bytes::from(serde_json::to_vec(&record).expect("status serializes"));
        let options = &self.inner.shared.options;
        let partition = partition_of(options, kind.as_deref(), date);
        let info = EntryInfo {
            id: ArchiveId::of(&raw),
            date,
            recorded_at: now_millis(),
            raw_len: raw.len() as u64,
            message_id: Some(message.to_hex()),
            idempotency_key: None,
            role: EntryRole::SendStatus,
            source: Source::App,
        };
        let meta = RecordMeta::new(Source::App);
        let frame = encode_frame(&meta, &raw, options.compression_level, None);

        let shared = &self.inner.shared;
        let pos = shared.journal.append(&partition, &info, &frame).await?;
        if shared.pending.insert(pos, &info) {
            shared.releases.register(pos);
            shared.statuses.insert(&info);
            let waiting = Waiting {
                pos,
                partition,
                info,
            };
            self.dispatch(waiting, None).await;
        } else {
            shared.journal.release(pos);
        }
        Ok(())
    }

    /// Returns the send statuses of a message, oldest first. Statuses that
    /// cannot be read are logged and left out.
    pub async fn send_statuses(&self, message: &ArchiveId) -> Vec<SendStatus> {
        let mut statuses = Vec::new();
        for id in self.inner.shared.statuses.of(message) {
            let record = match self.load(&id).await {
                Ok(loaded) => serde_json::from_slice::<StatusRecord>(&loaded.raw)
                    .map_err(|error| error.to_string()),
                Err(error) => Err(error.to_string()),
            };
            match record {
                Ok(record) => statuses.push(record.status),
                Err(error) => {
                    tracing::error!(%id, %message, %error, "cannot read a send status");
                }
            }
        }
        statuses.sort_by_key(|status| status.at);
        statuses
    }
}

/// Counts status recordings running in the background, so that `flush`
/// and `close` can wait for them.
#[derive(Debug, Default)]
pub(crate) struct Background {
    running: AtomicUsize,
    idle: Notify,
}

#[cfg_attr(not(feature = "lettre"), allow(dead_code))]
impl Background {
    fn start(&self) {
        self.running.fetch_add(1, Ordering::AcqRel);
    }

    fn finish(&self) {
        if self.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle.notify_waiters();
        }
    }

    /// Returns once nothing runs.
    pub(crate) async fn idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.running.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}

#[cfg_attr(not(feature = "lettre"), allow(dead_code))]
impl Archive {
    /// Records a send status on a background task, so the sender does not
    /// wait for a second fsync. `flush` and `close` wait for it; a failure
    /// is logged.
    pub(crate) fn record_status_in_background(
        &self,
        message: ArchiveId,
        kind: Option<String>,
        status: SendStatus,
    ) {
        let archive = self.clone();
        let accepted = status.outcome == crate::SendOutcome::Accepted;
        if accepted {
            let mut in_flight = self
                .inner
                .sends
                .accepted_in_flight
                .lock()
                .expect("sends lock");
            in_flight.insert(message);
        }
        self.inner.background.start();
        tokio::spawn(async move {
            let recorded = archive
                .record_status_of(&message, kind.as_deref(), &status)
                .await;
            let failed = recorded.is_err();
            if let Err(error) = recorded {
                tracing::error!(%message, %error, "recording a send status failed");
            }
            // Without a durable status, the memory of the acceptance is all
            // that keeps this process from sending the message again.
            if accepted && !failed {
                let sends = &archive.inner.sends;
                sends
                    .accepted_in_flight
                    .lock()
                    .expect("sends lock")
                    .remove(&message);
            }
            archive.inner.background.finish();
        });
    }
}

/// Coordination of sends through the lettre transport: one send of a
/// message at a time, and the messages whose acceptance is known but not
/// yet durable as a status.
#[derive(Debug, Default)]
pub(crate) struct Sends {
    /// A lock per message being sent, removed when no send holds or
    /// awaits it.
    locks: Mutex<HashMap<ArchiveId, Arc<tokio::sync::Mutex<()>>>>,
    accepted_in_flight: Mutex<HashSet<ArchiveId>>,
}

/// The right to send one message, held until dropped.
pub(crate) struct SendLock<'a> {
    sends: &'a Sends,
    id: ArchiveId,
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

impl Drop for SendLock<'_> {
    fn drop(&mut self) {
        let mut locks = self.sends.locks.lock().expect("send locks");
        // The map and this guard hold the only references unless another
        // send waits for the lock.
        if locks
            .get(&self.id)
            .is_some_and(|lock| Arc::strong_count(lock) == 2)
        {
            locks.remove(&self.id);
        }
    }
}

#[cfg_attr(not(feature = "lettre"), allow(dead_code))]
impl Archive {
    /// Waits until no other send of message `id` runs, and holds that
    /// until the returned lock drops.
    pub(crate) async fn lock_sending(&self, id: &ArchiveId) -> SendLock<'_> {
        let sends = &self.inner.sends;
        let lock = {
            let mut locks = sends.locks.lock().expect("send locks");
            locks.entry(*id).or_default().clone()
        };
        SendLock {
            sends,
            id: *id,
            _guard: lock.lock_owned().await,
        }
    }

    /// Returns true when a relay accepted message `id` before.
    pub(crate) async fn was_accepted(&self, id: &ArchiveId) -> bool {
        let sends = &self.inner.sends;
        if sends
            .accepted_in_flight
            .lock()
            .expect("sends lock")
            .contains(id)
        {
            return true;
        }
        let statuses = self.send_statuses(id).await;
        statuses
            .iter()
            .any(|status| status.outcome == crate::SendOutcome::Accepted)
    }

    /// Returns true when a message with idempotency key `key` is archived.
    pub(crate) fn key_is_known(&self, key: &str) -> bool {
        self.inner.keys.known(key).is_some()
    }
}
