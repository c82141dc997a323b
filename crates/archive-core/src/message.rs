//! The parsed, decoded view of an archived message.
//!
//! A [`Message`] is derived from the raw bytes every time it is opened; the
//! raw bytes stay the source of truth. Every string here is decoded text
//! (charsets, encoded words and transfer encodings resolved), while the raw
//! bytes keep what was sent.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{ArchiveId, RecordMeta};

/// One mailbox from an address header: a display name and an address.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Mailbox {
    /// The decoded display name, if the header had one.
    pub name: Option<String>,
    /// The address as written (`local@domain`), without angle brackets.
    /// Empty when the header had a name but no usable address.
    pub address: String,
}

/// One header field, with its value decoded for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderField {
    /// The field name as written.
    pub name: String,
    /// The unfolded value with encoded words and raw 8-bit text decoded.
    pub value: String,
}

/// A MIME part that is not the message body: an attachment or an inline part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The decoded file name, from `Content-Disposition` or `Content-Type`.
    pub name: Option<String>,
    /// The lower-case MIME type, such as `application/pdf`.
    pub content_type: String,
    /// Size of the decoded content in bytes.
    pub size: u64,
    /// SHA-256 of the decoded content, 64 lower-case hex digits.
    pub sha256: String,
    /// True for parts shown inside the body: images referenced by
    /// Content-ID and parts with `Content-Disposition: inline`.
    pub inline: bool,
    /// The Content-ID without angle brackets.
    pub content_id: Option<String>,
    /// The decoded text of a `text/*` part, so that it can be shown and
    /// searched. `None` for other types.
    pub text: Option<String>,
    /// The decoded content.
    #[serde(skip)]
    pub data: Bytes,
}

/// A problem found while parsing. A flagged message is still archived and
/// shown; the flag shows staff and admins that something was repaired or
/// guessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ParseFlag {
    /// The message has no `Date` header; the date is estimated.
    DateMissing,
    /// The `Date` header could not be read; the date is estimated.
    DateInvalid,
    /// The `Date` header has no time zone; the zone is estimated.
    DateWithoutZone,
    /// The message has no `Message-ID` header.
    MessageIdMissing,
    /// The bytes do not start with a header block.
    NoHeaders,
    /// A multipart body ends without its closing boundary.
    MissingClosingBoundary,
    /// A multipart part has no usable boundary; its body is kept as text.
    MissingBoundary,
    /// Base64 content contained characters outside the alphabet or an
    /// incomplete final group; they were skipped.
    InvalidBase64,
    /// Quoted-printable content contained invalid escapes; they were kept
    /// as written.
    InvalidQuotedPrintable,
    /// A charset label was not recognized; the text was decoded by guessing.
    UnknownCharset,
    /// Text had no charset label but was not plain ASCII; the charset was
    /// guessed.
    CharsetGuessed,
    /// Some bytes were invalid in their charset and were replaced by U+FFFD.
    InvalidCharacters,
    /// A header contains raw 8-bit bytes that are not UTF-8 instead of
    /// encoded words; their charset was guessed. Raw UTF-8 (RFC 6532) is
    /// not flagged.
    EightBitHeader,
    /// MIME nesting was deeper than the parser follows; the inner parts are
    /// kept as attachments.
    NestingTooDeep,
    /// The parser failed on this message. Only the raw bytes, shown as
    /// text, and the dates from the caller are available.
    ParseFailed,
}

impl ParseFlag {
    /// Returns true for the flags that mean the message date is estimated.
    pub fn is_date_estimate(self) -> bool {
        matches!(
            self,
            ParseFlag::DateMissing | ParseFlag::DateInvalid | ParseFlag::DateWithoutZone
        )
    }
}

/// Source of a message's effective date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DateSource {
    /// The `Date` header, with its own zone.
    Header,
    /// The `Date` header's wall-clock time in an assumed zone.
    HeaderAssumedZone,
    /// The newest `Received` header, because `Date` was missing or invalid.
    Received,
    /// The caller's `received_at`, because no header had a usable date.
    ReceivedAt,
    /// The time `record` was called, because nothing else had a date.
    RecordedAt,
}

/// A decoded message, as staff see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The archive id (SHA-256 of the raw bytes).
    pub id: ArchiveId,
    /// The Message-ID without angle brackets.
    pub message_id: Option<String>,
    /// The effective date: the `Date` header, or the fallback named by
    /// `date_source`.
    pub date: DateTime<Utc>,
    /// Source of `date`.
    pub date_source: DateSource,
    /// The decoded subject.
    pub subject: Option<String>,
    /// The `From` mailboxes, usually one.
    pub from: Vec<Mailbox>,
    /// The `To` mailboxes.
    pub to: Vec<Mailbox>,
    /// The `Cc` mailboxes.
    pub cc: Vec<Mailbox>,
    /// The `Bcc` mailboxes.
    pub bcc: Vec<Mailbox>,
    /// The `Reply-To` mailboxes.
    pub reply_to: Vec<Mailbox>,
    /// The `In-Reply-To` message ids, without angle brackets.
    pub in_reply_to: Vec<String>,
    /// The `References` message ids, without angle brackets.
    pub references: Vec<String>,
    /// Every header field of the top-level header block, in order, decoded.
    pub headers: Vec<HeaderField>,
    /// The text body: the `text/plain` part, or text extracted from the HTML
    /// part when there is no plain part. Line ends are `\n`.
    pub text: String,
    /// The HTML body, if the message has one.
    pub html: Option<String>,
    /// Every part that is not the body, in MIME order.
    pub attachments: Vec<Attachment>,
    /// Problems found while parsing, sorted, each once.
    pub flags: Vec<ParseFlag>,
    /// The mail kind: the caller's `kind`, or a kind header such as
    /// `X-Mail-Category`.
    pub kind: Option<String>,
    /// Metadata the caller recorded with the message.
    pub meta: RecordMeta,
    /// When `record` accepted the message.
    pub recorded_at: DateTime<Utc>,
    /// Size of the raw message in bytes.
    pub size: u64,
    /// The relays' replies to sending the message, oldest first. Parsing
    /// leaves it empty; [`Archive::open`](crate::Archive::open) fills it.
    #[serde(default)]
    pub send_statuses: Vec<crate::SendStatus>,
}

impl Message {
    /// Returns true when the date is an estimate (missing, invalid or
    /// zone-less `Date` header).
    pub fn date_is_estimated(&self) -> bool {
        self.flags.iter().any(|flag| flag.is_date_estimate())
    }

    /// Returns the attachments staff can download as files: every part that
    /// is not inline.
    pub fn regular_attachments(&self) -> impl Iterator<Item = &Attachment> {
        self.attachments.iter().filter(|part| !part.inline)
    }

    /// Returns the inline parts, such as images referenced from the HTML body.
    pub fn inline_parts(&self) -> impl Iterator<Item = &Attachment> {
        self.attachments.iter().filter(|part| part.inline)
    }

    /// Finds a part by its Content-ID, with or without angle brackets.
    pub fn part_by_content_id(&self, content_id: &str) -> Option<&Attachment> {
        let wanted = content_id.trim_start_matches('<').trim_end_matches('>');
        self.attachments
            .iter()
            .find(|part| part.content_id.as_deref() == Some(wanted))
    }

    /// Returns the value of the first header field named `name`, compared
    /// case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|field| field.name.eq_ignore_ascii_case(name))
            .map(|field| field.value.as_str())
    }
}
