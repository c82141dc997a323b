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

mod address;
mod block;
mod body;
mod charset;
mod date;
mod flags;
mod header;
mod ids;
mod lexer;
mod params;
mod part;
mod structure;
mod summary;
mod transfer;

use std::panic::{self, AssertUnwindSafe};

use chrono::{DateTime, FixedOffset, Utc};

use self::address::parse_address_list;
use self::block::HeaderBlock;
use self::body::{extract_body, text_only};
use self::flags::Flags;
use self::header::{HeaderContext, decode_value};
use self::ids::parse_id_list;
use self::part::normalize_line_ends;
use self::summary::header_facts;
use crate::{ArchiveId, DateSource, HeaderField, Mailbox, Message, ParseFlag, RecordMeta};

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
    let block = HeaderBlock::scan(without_bom(raw));
    let context = HeaderContext::for_block(&block);
    let mut flags = Flags::default();
    let facts = header_facts(&block, &context, meta, recorded_at, options, &mut flags);
    Summary {
        message_id: facts.message_id,
        date: facts.date,
        date_source: facts.date_source,
        kind: facts.kind,
        flags: flags.to_vec(),
    }
}

/// Parses and decodes a whole message.
///
/// A panic inside the parser is caught: the message then comes back with
/// the raw bytes as text and the flag [`ParseFlag::ParseFailed`].
pub fn parse_message(
    raw: &[u8],
    meta: &RecordMeta,
    recorded_at: DateTime<Utc>,
    options: &ParseOptions,
) -> Message {
    let parsed = panic::catch_unwind(AssertUnwindSafe(|| {
        parse_checked(raw, meta, recorded_at, options)
    }));
    parsed.unwrap_or_else(|_| failed_message(raw, meta, recorded_at))
}

fn parse_checked(
    raw: &[u8],
    meta: &RecordMeta,
    recorded_at: DateTime<Utc>,
    options: &ParseOptions,
) -> Message {
    let id = ArchiveId::of(raw);
    let size = raw.len() as u64;
    let raw = without_bom(raw);
    let block = HeaderBlock::scan(raw);
    let context = HeaderContext::for_block(&block);
    let mut flags = Flags::default();
    let facts = header_facts(&block, &context, meta, recorded_at, options, &mut flags);

    let headers = block
        .fields
        .iter()
        .filter(|field| field.has_valid_name())
        .map(|field| HeaderField {
            name: String::from_utf8_lossy(field.name).into_owned(),
            value: decode_value(field.value, &context, &mut flags),
        })
        .collect();
    let subject = block
        .get("Subject")
        .map(|field| decode_value(field.value, &context, &mut flags));
    let mut addresses = |name: &str| -> Vec<Mailbox> {
        block
            .all(name)
            .flat_map(|field| parse_address_list(field.value, &context, &mut flags))
            .collect()
    };
    let from = addresses("From");
    let to = addresses("To");
    let cc = addresses("Cc");
    let bcc = addresses("Bcc");
    let reply_to = addresses("Reply-To");
    let ids = |name: &str| {
        block
            .get(name)
            .map(|field| parse_id_list(field.value))
            .unwrap_or_default()
    };

    let body = if block.is_empty() {
        text_only(raw, &mut flags)
    } else {
        extract_body(raw, &context, &mut flags)
    };

    Message {
        id,
        message_id: facts.message_id,
        date: facts.date,
        date_source: facts.date_source,
        subject,
        from,
        to,
        cc,
        bcc,
        reply_to,
        in_reply_to: ids("In-Reply-To"),
        references: ids("References"),
        headers,
        text: body.text,
        html: body.html,
        attachments: body.attachments,
        flags: flags.to_vec(),
        kind: facts.kind,
        meta: meta.clone(),
        recorded_at,
        size,
        send_statuses: Vec::new(),
    }
}

/// Skips a UTF-8 byte order mark, which some Windows tools write before
/// the first header. The stored bytes keep it.
fn without_bom(raw: &[u8]) -> &[u8] {
    raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw)
}

/// The message returned when parsing panicked.
fn failed_message(raw: &[u8], meta: &RecordMeta, recorded_at: DateTime<Utc>) -> Message {
    let (date, date_source) = match meta.received_at {
        Some(received_at) => (received_at, DateSource::ReceivedAt),
        None => (recorded_at, DateSource::RecordedAt),
    };
    Message {
        id: ArchiveId::of(raw),
        message_id: None,
        date,
        date_source,
        subject: None,
        from: Vec::new(),
        to: Vec::new(),
        cc: Vec::new(),
        bcc: Vec::new(),
        reply_to: Vec::new(),
        in_reply_to: Vec::new(),
        references: Vec::new(),
        headers: Vec::new(),
        text: normalize_line_ends(String::from_utf8_lossy(raw).into_owned()),
        html: None,
        attachments: Vec::new(),
        flags: vec![ParseFlag::ParseFailed],
        kind: meta.kind.clone(),
        meta: meta.clone(),
        recorded_at,
        size: raw.len() as u64,
        send_statuses: Vec::new(),
    }
}

#[cfg(test)]
#[path = "../../tests/support/corpus.rs"]
pub(crate) mod corpus;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_order_mark_before_headers_is_skipped() {
        let raw = "\u{feff}From: <abuse@example.com>\r\nSubject: 報告\r\n\r\nbody\r\n".as_bytes();
        let meta = RecordMeta::default();
        let now = Utc::now();
        let message = parse_message(raw, &meta, now, &ParseOptions::default());

        assert_eq!(message.subject.as_deref(), Some("報告"));
        assert_eq!(message.from[0].address, "abuse@example.com");
        assert!(
            !message.flags.contains(&ParseFlag::NoHeaders),
            "{:?}",
            message.flags
        );
        assert_eq!(
            message.id,
            ArchiveId::of(raw),
            "the id covers the stored bytes"
        );
        assert_eq!(message.size, raw.len() as u64);
        let summary = summarize(raw, &meta, now, &ParseOptions::default());
        assert_eq!(
            summary.flags,
            vec![ParseFlag::DateMissing, ParseFlag::MessageIdMissing]
        );
    }
}
