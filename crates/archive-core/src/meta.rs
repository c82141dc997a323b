//! Metadata the caller records with a message, and the receipt it gets.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ArchiveId;

/// The path a message took into the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Recorded in-process by the sending application.
    #[default]
    App,
    /// Received as a journal or BCC copy over SMTP.
    Smtp,
    /// Imported from files (`.eml`, mbox, Maildir).
    Import,
}

/// Metadata stored with a message, next to its raw bytes.
///
/// Every field is optional except `source`. The archive never rewrites the raw
/// bytes; whatever the caller knows beyond them goes here.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RecordMeta {
    /// The path the message took into the archive.
    pub source: Source,
    /// Envelope sender (SMTP `MAIL FROM`), when known.
    pub envelope_from: Option<String>,
    /// Envelope recipients (SMTP `RCPT TO`), when known. A BCC copy is found
    /// by each of them.
    pub envelope_to: Vec<String>,
    /// When the message was sent or received. The parser uses it as the last
    /// fallback for the message date, after the `Date` and `Received` headers.
    pub received_at: Option<DateTime<Utc>>,
    /// The mail kind, such as `order_confirmation` or `password_reset`.
    pub kind: Option<String>,
    /// Free application metadata: order id, customer id, template, and so on.
    pub app: BTreeMap<String, String>,
    /// A caller-chosen key that makes a retried `record` store the message
    /// once even when the retry produced different bytes.
    pub idempotency_key: Option<String>,
    /// Provenance of the message, for people: a file path and offset, an
    /// SMTP peer address.
    pub origin: Option<String>,
}

impl RecordMeta {
    /// Creates metadata for `source` with every other field empty.
    pub fn new(source: Source) -> RecordMeta {
        RecordMeta {
            source,
            ..RecordMeta::default()
        }
    }

    /// Sets the mail kind.
    pub fn with_kind(mut self, kind: impl Into<String>) -> RecordMeta {
        self.kind = Some(kind.into());
        self
    }

    /// Adds one application metadata entry.
    pub fn with_app(mut self, key: impl Into<String>, value: impl Into<String>) -> RecordMeta {
        self.app.insert(key.into(), value.into());
        self
    }

    /// Sets the idempotency key.
    pub fn with_idempotency_key(mut self, key: impl Into<String>) -> RecordMeta {
        self.idempotency_key = Some(key.into());
        self
    }
}

/// Whether `record` stored new bytes or found them archived already.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    /// The bytes were new and are now durable.
    Stored,
    /// The same bytes were archived before; nothing new was written.
    AlreadyArchived,
    /// A message with the same idempotency key was archived before. The
    /// receipt carries that message's id.
    DuplicateKey,
}

/// The result of `record`: once the caller has it, the message is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The archive id of the stored message.
    pub id: ArchiveId,
    /// Whether this call stored new bytes.
    pub status: RecordStatus,
}

impl Receipt {
    /// Returns true when nothing new was stored because the message, or one
    /// with the same idempotency key, was archived before.
    pub fn is_duplicate(&self) -> bool {
        self.status != RecordStatus::Stored
    }
}
