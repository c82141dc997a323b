//! The facts of a header block that both [`summarize`](super::summarize)
//! and [`parse_message`](super::parse_message) report: the effective date,
//! the Message-ID and the kind. One function computes them for both, so the
//! two always agree.

use chrono::{DateTime, Utc};

use super::ParseOptions;
use super::block::HeaderBlock;
use super::date::{ParsedDate, parse_date, parse_received_date};
use super::flags::Flags;
use super::header::{HeaderContext, decode_value};
use super::ids::parse_message_id;
use crate::{DateSource, ParseFlag, RecordMeta};

/// What the header block says about the message as a whole.
#[derive(Debug, Clone)]
pub(crate) struct HeaderFacts {
    pub message_id: Option<String>,
    pub date: DateTime<Utc>,
    pub date_source: DateSource,
    pub kind: Option<String>,
}

/// Reads the header facts and records the flags they raise.
pub(crate) fn header_facts(
    block: &HeaderBlock<'_>,
    context: &HeaderContext,
    meta: &RecordMeta,
    recorded_at: DateTime<Utc>,
    options: &ParseOptions,
    flags: &mut Flags,
) -> HeaderFacts {
    if block.is_empty() {
        flags.add(ParseFlag::NoHeaders);
    }

    let message_id = block.get("Message-ID").and_then(|field| parse_message_id(field.value));
    if message_id.is_none() {
        flags.add(ParseFlag::MessageIdMissing);
    }

    let (date, date_source) = effective_date(block, meta, recorded_at, options, flags);
    let kind = meta.kind.clone().or_else(|| kind_from_headers(block, context, options, flags));
    HeaderFacts { message_id, date, date_source, kind }
}

/// Picks the message date. The `Date` header counts with its own zone. A
/// zone-less `Date` is read in the zone of the newest `Received` stamp, else
/// in `options.default_zone`. When `Date` is missing or invalid, the newest
/// `Received` stamp, `meta.received_at` and `recorded_at` follow in turn.
fn effective_date(
    block: &HeaderBlock<'_>,
    meta: &RecordMeta,
    recorded_at: DateTime<Utc>,
    options: &ParseOptions,
    flags: &mut Flags,
) -> (DateTime<Utc>, DateSource) {
    // The topmost Received header is the newest. Stamps without a zone are
    // skipped, because they fix neither an instant nor a zone.
    let received: Option<ParsedDate> = block
        .all("Received")
        .filter_map(|field| parse_received_date(field.value))
        .find(|stamp| stamp.zone.is_some());

    match block.get("Date").map(|field| parse_date(field.value)) {
        Some(Some(date)) if date.zone.is_some() => return (date.to_utc(options.default_zone), DateSource::Header),
        Some(Some(date)) => {
            flags.add(ParseFlag::DateWithoutZone);
            let zone = received.and_then(|stamp| stamp.zone).unwrap_or(options.default_zone);
            return (date.to_utc(zone), DateSource::HeaderAssumedZone);
        }
        Some(None) => flags.add(ParseFlag::DateInvalid),
        None => flags.add(ParseFlag::DateMissing),
    }

    if let Some(stamp) = received {
        return (stamp.to_utc(options.default_zone), DateSource::Received);
    }
    match meta.received_at {
        Some(received_at) => (received_at, DateSource::ReceivedAt),
        None => (recorded_at, DateSource::RecordedAt),
    }
}

/// Returns the trimmed, decoded value of the first kind header present, as
/// written (case is kept).
fn kind_from_headers(
    block: &HeaderBlock<'_>,
    context: &HeaderContext,
    options: &ParseOptions,
    flags: &mut Flags,
) -> Option<String> {
    options.kind_headers.iter().find_map(|name| {
        let field = block.get(name)?;
        let value = decode_value(field.value, context, flags);
        (!value.is_empty()).then_some(value)
    })
}
