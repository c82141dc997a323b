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

    let message_id = block
        .get("Message-ID")
        .and_then(|field| parse_message_id(field.value));
    if message_id.is_none() {
        flags.add(ParseFlag::MessageIdMissing);
    }

    let (date, date_source) = effective_date(block, meta, recorded_at, options, flags);
    let kind = meta
        .kind
        .clone()
        .or_else(|| kind_from_headers(block, context, options, flags));
    HeaderFacts {
        message_id,
        date,
        date_source,
        kind,
    }
}

/// How far after `recorded_at` a `Date` header may lie before it counts as
/// invalid. Sent mail is recorded at or after its date; a date years ahead
/// (year 3609 occurs in real test mail) would otherwise sort it first
/// forever.
const MAX_DATE_AHEAD_DAYS: i64 = 366;

/// Picks the message date. The `Date` header counts with its own zone. A
/// zone-less `Date` is read in the zone of the newest `Received` stamp, else
/// in `options.default_zone`. When `Date` is missing, invalid or more than
/// [`MAX_DATE_AHEAD_DAYS`] after `recorded_at`, the newest `Received`
/// stamp, `meta.received_at` and `recorded_at` follow in turn.
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

    let latest = recorded_at + chrono::Duration::days(MAX_DATE_AHEAD_DAYS);
    match block.get("Date").map(|field| parse_date(field.value)) {
        Some(Some(date)) => {
            let (instant, source) = match date.zone {
                Some(_) => (date.to_utc(options.default_zone), DateSource::Header),
                None => {
                    let zone = received
                        .and_then(|stamp| stamp.zone)
                        .unwrap_or(options.default_zone);
                    (date.to_utc(zone), DateSource::HeaderAssumedZone)
                }
            };
            if instant <= latest {
                if source == DateSource::HeaderAssumedZone {
                    flags.add(ParseFlag::DateWithoutZone);
                }
                return (instant, source);
            }
            flags.add(ParseFlag::DateInvalid);
        }
        Some(None) => flags.add(ParseFlag::DateInvalid),
        None => flags.add(ParseFlag::DateMissing),
    }

    if let Some(stamp) = received.filter(|stamp| stamp.to_utc(options.default_zone) <= latest) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(raw: &str, recorded_at: &str) -> (DateTime<Utc>, DateSource, Vec<ParseFlag>) {
        let recorded_at = DateTime::parse_from_rfc3339(recorded_at).unwrap().to_utc();
        let block = HeaderBlock::scan(raw.as_bytes());
        let context = HeaderContext::for_block(&block);
        let mut flags = Flags::default();
        let facts = header_facts(
            &block,
            &context,
            &RecordMeta::default(),
            recorded_at,
            &ParseOptions::default(),
            &mut flags,
        );
        (facts.date, facts.date_source, flags.to_vec())
    }

    #[test]
    fn date_far_after_recording_is_invalid() {
        let raw = "Received: from a by b; Fri, 04 Dec 2026 19:33:05 +0900\r\n\
                   Date: Thu, 30 Jun 3609 09:33:50 +0000\r\nMessage-ID: <x@y>\r\n\r\n";
        let (date, source, flags) = summary(raw, "2026-12-05T00:00:00Z");
        assert_eq!(date.to_rfc3339(), "2026-12-04T10:33:05+00:00");
        assert_eq!(source, DateSource::Received);
        assert_eq!(flags, vec![ParseFlag::DateInvalid]);
    }

    #[test]
    fn date_shortly_after_recording_is_kept() {
        let raw = "Date: Thu, 31 Dec 2026 23:00:00 +0900\r\nMessage-ID: <x@y>\r\n\r\n";
        let (date, source, flags) = summary(raw, "2026-12-04T00:00:00Z");
        assert_eq!(date.to_rfc3339(), "2026-12-31T14:00:00+00:00");
        assert_eq!(source, DateSource::Header);
        assert!(flags.is_empty(), "{flags:?}");
    }
}
