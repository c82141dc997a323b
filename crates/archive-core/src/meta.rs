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

/// Builds metadata the way a shop backend records a mail:
///
/// ```
/// use archive_core::{RecordMeta, Source};
///
/// let meta = RecordMeta::new(Source::App)
///     .with_kind("order_confirmation")
///     .with_order_id("ORD-2026-0012345")
///     .with_customer_id("C-000123")
///     .with_template("order_confirmation", "v3")
///     .with_locale("ja-JP")
///     .with_app("shop", "tokyo-store")
///     .with_idempotency_key("order-confirmation/ORD-2026-0012345");
/// assert_eq!(meta.app_value("order_id"), Some("ORD-2026-0012345"));
/// ```
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

    /// Sets the order id, which `order:` searches ([`keys::ORDER_ID`]).
    pub fn with_order_id(self, order_id: impl Into<String>) -> RecordMeta {
        self.with_app(keys::ORDER_ID, order_id)
    }

    /// Sets the customer id, which `customer:` searches
    /// ([`keys::CUSTOMER_ID`]).
    pub fn with_customer_id(self, customer_id: impl Into<String>) -> RecordMeta {
        self.with_app(keys::CUSTOMER_ID, customer_id)
    }

    /// Sets the template the mail was rendered from, and its version.
    pub fn with_template(
        self,
        template: impl Into<String>,
        version: impl Into<String>,
    ) -> RecordMeta {
        self.with_app(keys::TEMPLATE, template)
            .with_app(keys::TEMPLATE_VERSION, version)
    }

    /// Sets the campaign of a bulk send.
    pub fn with_campaign(self, campaign: impl Into<String>) -> RecordMeta {
        self.with_app(keys::CAMPAIGN, campaign)
    }

    /// Sets the batch of a bulk send.
    pub fn with_batch(self, batch: impl Into<String>) -> RecordMeta {
        self.with_app(keys::BATCH, batch)
    }

    /// Sets the locale the mail was written for, such as `ja-JP`.
    pub fn with_locale(self, locale: impl Into<String>) -> RecordMeta {
        self.with_app(keys::LOCALE, locale)
    }

    /// Returns the application metadata value of `key`.
    pub fn app_value(&self, key: &str) -> Option<&str> {
        self.app.get(key).map(String::as_str)
    }
}

/// The application metadata keys that [`RecordMeta`]'s builders set. Every
/// key is searchable as `meta.KEY:`; the order and customer ids also as
/// `order:` and `customer:`.
pub mod keys {
    /// The order id.
    pub const ORDER_ID: &str = "order_id";
    /// The customer id.
    pub const CUSTOMER_ID: &str = "customer_id";
    /// The template name.
    pub const TEMPLATE: &str = "template";
    /// The template version.
    pub const TEMPLATE_VERSION: &str = "template_version";
    /// The campaign of a bulk send.
    pub const CAMPAIGN: &str = "campaign";
    /// The batch of a bulk send.
    pub const BATCH: &str = "batch";
    /// The locale, such as `ja-JP`.
    pub const LOCALE: &str = "locale";
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
