//! MIME parsing: raw bytes to a decoded [`Message`].
//!
//! `mail-parser` finds the MIME structure (header blocks, part boundaries and
//! offsets). Everything that turns bytes into text is done here, because the
//! archive must get Japanese mail right where general parsers do not:
//!
//! - header values are decoded from their raw bytes, joining adjacent encoded
//!   words of one charset as bytes before charset decoding, so a character
//!   split across two words survives;
//! - charset labels are mapped to the superset that senders really use
//!   (`Shift_JIS` and `CP932` as Windows-31J, `ISO-2022-JP` as CP50221);
//! - transfer encodings are decoded leniently (base64 outside the alphabet,
//!   a missing closing boundary);
//! - text without a charset label is sniffed (ISO-2022-JP escapes, UTF-8,
//!   legacy Japanese encodings).
//!
//! Parsing never fails and never panics: whatever cannot be decoded is kept
//! as well as possible and reported as a [`ParseFlag`].

use chrono::{DateTime, FixedOffset, Utc};

use crate::{ArchiveId, DateSource, Message, ParseFlag, RecordMeta};

/// Settings for parsing that do not come from the message itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseOptions {
    /// The zone assumed for a `Date` header without one, when no `Received`
    /// header supplies a zone either. Defaults to UTC+09:00 (JST), because
    /// the archive serves Japanese shops.
    pub default_zone: FixedOffset,
    /// Header fields that name the mail kind when the caller did not set
    /// one, tried in order. Defaults to `X-Mail-Kind`, `X-Mail-Category`.
    pub kind_headers: Vec<String>,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            default_zone: FixedOffset::east_opt(9 * 3600).expect("valid offset"),
            kind_headers: vec!["X-Mail-Kind".to_owned(), "X-Mail-Category".to_owned()],
        }
    }
}

/// The few facts the write path needs before a message is fully parsed: the
/// effective date (for the storage partition), the Message-ID and the kind.
///
/// For the same inputs these agree with the fields of [`parse_message`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The Message-ID without angle brackets.
    pub message_id: Option<String>,
    /// The effective date.
    pub date: DateTime<Utc>,
    /// Source of `date`.
    pub date_source: DateSource,
    /// The mail kind: `meta.kind`, else the first kind header found.
    pub kind: Option<String>,
    /// Flags found in the header block alone.
    pub flags: Vec<ParseFlag>,
}

/// Reads the header block of `raw` and returns what the write path needs.
pub fn summarize(
    raw: &[u8],
    meta: &RecordMeta,
    recorded_at: DateTime<Utc>,
    options: &ParseOptions,
) -> Summary {
    todo!("summarize {} bytes, {meta:?} {recorded_at} {options:?}", raw.len())
}

/// Parses and decodes a whole message.
pub fn parse_message(
    raw: &[u8],
    meta: &RecordMeta,
    recorded_at: DateTime<Utc>,
    options: &ParseOptions,
) -> Message {
    let _ = ArchiveId::of(raw);
    todo!("parse {} bytes, {meta:?} {recorded_at} {options:?}", raw.len())
}
