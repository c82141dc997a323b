//! The write path: `Archive::record`.

use bytes::Bytes;
use chrono::{DateTime, Utc};

use super::mover::Waiting;
use super::pending::Claim;
use super::{Archive, MAX_META_BYTES, RecordError};
use crate::search::IndexDocument;
use crate::{
    ArchiveId, EntryInfo, Partition, Receipt, RecordMeta, RecordStatus, encode_frame, summarize,
};

/// Messages at least this large are compressed on a blocking thread, so a
/// large attachment does not stall the async executor.
const BLOCKING_WORK_BYTES: usize = 256 << 10;

impl Archive {
    /// Records one message and returns once it is durable.
    ///
    /// The raw bytes are stored exactly as given, however malformed. The
    /// same bytes recorded twice are stored once, and the second receipt has
    /// status [`RecordStatus::AlreadyArchived`]. A message whose
    /// `meta.idempotency_key` was recorded before is not stored again. Its
    /// receipt has status [`RecordStatus::DuplicateKey`] and carries the first
    /// message's id.
    ///
    /// Errors: [`RecordError::Empty`], [`RecordError::TooLarge`] and
    /// [`RecordError::MetaTooLarge`] reject the input;
    /// [`RecordError::JournalFull`] means storage is behind and the caller
    /// should retry later (see [`RecordError::is_retryable`]).
    pub async fn record(
        &self,
        raw: impl Into<Bytes>,
        meta: RecordMeta,
    ) -> Result<Receipt, RecordError> {
        self.record_inner(raw.into(), meta, None).await
    }

    /// Records a message like [`Archive::record`], with its index document
    /// built by the caller, which spares the indexer a second parse. The
    /// document must come from [`parse_message`](crate::parse_message) of
    /// the same bytes and `meta`; its date is replaced by the date the
    /// archive stores. A document of other bytes is rejected with
    /// [`RecordError::DocumentMismatch`].
    pub async fn record_with_document(
        &self,
        raw: impl Into<Bytes>,
        meta: RecordMeta,
        document: IndexDocument,
    ) -> Result<Receipt, RecordError> {
        self.record_inner(raw.into(), meta, Some(document)).await
    }

    async fn record_inner(
        &self,
        raw: Bytes,
        meta: RecordMeta,
        document: Option<IndexDocument>,
    ) -> Result<Receipt, RecordError> {
        self.check_input(&raw, &meta)?;

        let _claim = match &meta.idempotency_key {
            None => None,
            Some(key) => match self.inner.keys.claim(key).await {
                Claim::Known(id) => return Ok(receipt(id, RecordStatus::DuplicateKey)),
                Claim::Claimed(guard) => Some(guard),
            },
        };

        let (raw, id) = hash(raw).await;
        if let Some(document) = &document
            && document.id != id
        {
            return Err(RecordError::DocumentMismatch {
                id,
                document: document.id,
            });
        }
        if self.is_archived(&id).await? {
            if let Some(guard) = _claim {
                guard.complete(id);
            }
            return Ok(receipt(id, RecordStatus::AlreadyArchived));
        }
        if let Some(samples) = self.inner.shared.dictionaries.offer(&raw) {
            let dictionaries = self.inner.shared.dictionaries.clone();
            let storage = self.inner.shared.storage.clone();
            tokio::spawn(dictionaries.train_and_store(storage, samples));
        }
        let prepared = self.prepare(raw, id, meta).await;

        let shared = &self.inner.shared;
        let pos = shared
            .journal
            .append(&prepared.partition, &prepared.info, &prepared.frame)
            .await?;
        let first = shared.pending.insert(pos, &prepared.info);
        if first {
            shared.releases.register(pos);
            let document = document.map(|mut document| {
                document.date = prepared.info.date;
                document
            });
            let waiting = Waiting {
                pos,
                partition: prepared.partition,
                info: prepared.info,
            };
            self.dispatch(waiting, document).await;
        } else {
            // A concurrent call recorded the same bytes first.
            shared.journal.release(pos);
        }

        if let Some(guard) = _claim {
            guard.complete(id);
        }
        let status = if first {
            RecordStatus::Stored
        } else {
            RecordStatus::AlreadyArchived
        };
        Ok(receipt(id, status))
    }

    /// Records one message from synchronous code; see [`Archive::record`].
    ///
    /// # Panics
    ///
    /// Panics when called from inside an async task, because it blocks the
    /// current thread until the message is durable.
    pub fn record_blocking(
        &self,
        raw: impl Into<Bytes>,
        meta: RecordMeta,
    ) -> Result<Receipt, RecordError> {
        let raw = raw.into();
        self.inner.runtime.block_on(self.record(raw, meta))
    }

    /// Checks what `record` would refuse before writing anything: the
    /// input, a closed archive, and a journal without room for `raw`.
    #[cfg_attr(not(feature = "lettre"), allow(dead_code))]
    pub(crate) fn precheck(&self, raw: &[u8], meta: &RecordMeta) -> Result<(), RecordError> {
        self.check_input(raw, meta)?;
        let journal = &self.inner.shared.journal;
        let (used, limit) = (journal.used_bytes(), journal.max_bytes());
        if used.saturating_add(raw.len() as u64) > limit {
            return Err(RecordError::JournalFull { used, limit });
        }
        Ok(())
    }

    fn check_input(&self, raw: &[u8], meta: &RecordMeta) -> Result<(), RecordError> {
        if self.is_closed() {
            return Err(RecordError::Closed);
        }
        if raw.is_empty() {
            return Err(RecordError::Empty);
        }
        let limit = self.inner.shared.options.max_message_bytes;
        if raw.len() as u64 > limit {
            return Err(RecordError::TooLarge {
                size: raw.len() as u64,
                limit,
            });
        }
        let meta_len = serde_json::to_vec(meta).map_or(usize::MAX, |json| json.len());
        if meta_len > MAX_META_BYTES {
            return Err(RecordError::MetaTooLarge {
                size: meta_len,
                limit: MAX_META_BYTES,
            });
        }
        Ok(())
    }

    /// Returns true if the message is waiting in the journal or stored.
    async fn is_archived(&self, id: &ArchiveId) -> Result<bool, RecordError> {
        let shared = &self.inner.shared;
        if shared.pending.contains(id) {
            return Ok(true);
        }
        shared
            .storage
            .contains(id)
            .await
            .map_err(|source| RecordError::Storage { id: *id, source })
    }

    /// Summarizes and compresses a message; large ones on a blocking thread.
    async fn prepare(&self, raw: Bytes, id: ArchiveId, meta: RecordMeta) -> Prepared {
        let options = self.inner.shared.options.clone();
        let dictionary = self.inner.shared.dictionaries.current();
        let recorded_at = now_millis();
        if raw.len() < BLOCKING_WORK_BYTES {
            return Prepared::new(&raw, id, &meta, recorded_at, &options, dictionary.as_ref());
        }
        tokio::task::spawn_blocking(move || {
            Prepared::new(&raw, id, &meta, recorded_at, &options, dictionary.as_ref())
        })
        .await
        .expect("message preparation task")
    }
}

/// Computes the archive id; of a large message on a blocking thread.
async fn hash(raw: Bytes) -> (Bytes, ArchiveId) {
    if raw.len() < BLOCKING_WORK_BYTES {
        let id = ArchiveId::of(&raw);
        return (raw, id);
    }
    tokio::task::spawn_blocking(move || {
        let id = ArchiveId::of(&raw);
        (raw, id)
    })
    .await
    .expect("message hashing task")
}

fn receipt(id: ArchiveId, status: RecordStatus) -> Receipt {
    Receipt { id, status }
}

/// Returns the current time cut to milliseconds, so it round-trips through
/// storage.
pub(super) fn now_millis() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

/// The partition of a message of `kind` dated `date`: its kind's retention
/// class, and the day.
pub(super) fn partition_of(
    options: &super::ArchiveOptions,
    kind: Option<&str>,
    date: DateTime<Utc>,
) -> Partition {
    let class = kind
        .and_then(|kind| options.retention_classes.get(kind))
        .map_or(Partition::DEFAULT_CLASS, String::as_str);
    // Classes were validated when the archive opened.
    Partition::new(class, date.date_naive()).expect("retention classes are validated at open")
}

/// A message ready for the journal.
struct Prepared {
    partition: Partition,
    info: EntryInfo,
    frame: Bytes,
}

impl Prepared {
    fn new(
        raw: &[u8],
        id: ArchiveId,
        meta: &RecordMeta,
        recorded_at: DateTime<Utc>,
        options: &super::ArchiveOptions,
        dictionary: Option<&crate::Dictionary>,
    ) -> Prepared {
        let summary = summarize(raw, meta, recorded_at, &options.parse);
        let partition = partition_of(options, summary.kind.as_deref(), summary.date);
        let date = DateTime::from_timestamp_millis(summary.date.timestamp_millis())
            .unwrap_or(summary.date);

        let info = EntryInfo {
            id,
            date,
            recorded_at,
            raw_len: raw.len() as u64,
            message_id: summary.message_id,
            idempotency_key: meta.idempotency_key.clone(),
            role: crate::EntryRole::Message,
            source: meta.source,
        };
        let frame = encode_frame(meta, raw, options.compression_level, dictionary);
        Prepared {
            partition,
            info,
            frame,
        }
    }
}
