//! Settings of an [`Archive`](super::Archive).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::journal::JournalOptions;
use crate::parse::ParseOptions;

/// Default maximum size of one message: 50 MiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: u64 = 50 << 20;
/// Maximum size of a message's metadata as JSON: 64 KiB.
pub const MAX_META_BYTES: usize = 64 << 10;

/// Settings of an archive. `Default` gives the values documented on each
/// field.
#[derive(Debug, Clone)]
pub struct ArchiveOptions {
    /// Settings of the capture journal.
    pub journal: JournalOptions,
    /// Messages larger than this are rejected by `record` with
    /// `RecordError::TooLarge`. Default [`DEFAULT_MAX_MESSAGE_BYTES`].
    pub max_message_bytes: u64,
    /// zstd level for stored messages (1 = fastest, 19 = smallest).
    /// Default 3.
    pub compression_level: i32,
    /// A partition's pending messages are written as a pack once they
    /// number this many. Default 1,000.
    pub pack_max_messages: usize,
    /// ... or once their compressed size reaches this many bytes.
    /// Default 32 MiB.
    pub pack_max_bytes: u64,
    /// ... or once the oldest has waited this long. Default one hour. The
    /// journal keeps waiting messages durable and readable meanwhile; a
    /// longer wait means fewer, larger packs.
    pub pack_max_age: Duration,
    /// Number of recorded messages sampled to train the compression
    /// dictionary when storage has none. 0 disables dictionaries. Default
    /// 1,000.
    pub dictionary_training_messages: usize,
    /// Maximum size of a trained dictionary in bytes. Default 64 KiB.
    pub dictionary_max_bytes: usize,
    /// Longest time between search index commits while messages wait to
    /// be indexed, and so about the time until a recorded message is
    /// searchable. Default 500 ms.
    pub index_commit_interval: Duration,
    /// Parser settings.
    pub parse: ParseOptions,
    /// Retention class of each mail kind. Kinds not listed, and messages
    /// without a kind, use the class `default`.
    pub retention_classes: BTreeMap<String, String>,
    /// First wait before retrying a failed storage write; the wait doubles
    /// up to `storage_retry_max`. Default 100 ms.
    pub storage_retry_initial: Duration,
    /// Maximum wait between storage write attempts. Default 30 s.
    pub storage_retry_max: Duration,
}

impl Default for ArchiveOptions {
    fn default() -> Self {
        ArchiveOptions {
            journal: JournalOptions::default(),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            compression_level: 3,
            pack_max_messages: 1000,
            pack_max_bytes: 32 << 20,
            pack_max_age: Duration::from_secs(3600),
            dictionary_training_messages: 1000,
            dictionary_max_bytes: 64 << 10,
            index_commit_interval: Duration::from_millis(500),
            parse: ParseOptions::default(),
            retention_classes: BTreeMap::new(),
            storage_retry_initial: Duration::from_millis(100),
            storage_retry_max: Duration::from_secs(30),
        }
    }
}
