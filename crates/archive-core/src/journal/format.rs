//! The on-disk form of journal entries, and scanning a segment for them.
//!
//! ```text
//! entry    magic "SMJ1" (4 bytes), payload length (u32 LE),
//!          CRC-32C over the length and the payload (u32 LE), payload
//! payload  format version (u8) = 1, partition as text (u32 length + bytes),
//!          EntryInfo, frame (u32 length + bytes)
//! ```
//!
//! The checksum covers the length field too, so a damaged length cannot
//! make the scanner skip good entries. After a damaged entry the scanner
//! searches forward for the next magic whose checksum holds, so one bad
//! sector does not hide the entries behind it.

use bytes::Bytes;

use crate::codec::{Reader, Writer};
use crate::{EntryInfo, Partition};

pub(crate) const MAGIC: &[u8; 4] = b"SMJ1";
pub(crate) const HEADER_LEN: usize = 12;
/// Payload version 2 carries version 2 of `EntryInfo`; version 1 is still
/// read.
const PAYLOAD_VERSION: u8 = 2;

/// Encodes one complete entry (header and payload).
pub(crate) fn encode_entry(partition: &Partition, info: &EntryInfo, frame: &[u8]) -> Vec<u8> {
    let partition_text = partition.to_string();
    let mut out = Vec::with_capacity(HEADER_LEN + frame.len() + partition_text.len() + 160);
    out.extend_from_slice(&[0; HEADER_LEN]);

    let mut w = Writer(&mut out);
    w.u8(PAYLOAD_VERSION);
    w.bytes(partition_text.as_bytes());
    info.encode(w.0);
    w.bytes(frame);

    let payload_len = u32::try_from(out.len() - HEADER_LEN).expect("entry shorter than 4 GiB");
    out[..4].copy_from_slice(MAGIC);
    out[4..8].copy_from_slice(&payload_len.to_le_bytes());
    let crc = checksum(payload_len, &out[HEADER_LEN..]);
    out[8..12].copy_from_slice(&crc.to_le_bytes());
    out
}

fn checksum(payload_len: u32, payload: &[u8]) -> u32 {
    let crc = crc32c::crc32c(&payload_len.to_le_bytes());
    crc32c::crc32c_append(crc, payload)
}

/// A decoded entry payload.
#[derive(Debug, Clone)]
pub(crate) struct DecodedEntry {
    pub(crate) partition: Partition,
    pub(crate) info: EntryInfo,
    pub(crate) frame: Bytes,
}

/// Checks and decodes a complete entry read from disk.
pub(crate) fn decode_entry(bytes: &[u8]) -> Result<DecodedEntry, String> {
    let payload_len = valid_entry_len(bytes).ok_or("entry header or checksum is invalid")?;
    if payload_len + HEADER_LEN != bytes.len() {
        return Err("entry length differs from its header".into());
    }
    decode_payload(&bytes[HEADER_LEN..])
}

fn decode_payload(payload: &[u8]) -> Result<DecodedEntry, String> {
    let mut r = Reader::new(payload);
    let version = r.u8().map_err(|e| e.to_string())?;
    if !(1..=PAYLOAD_VERSION).contains(&version) {
        return Err(format!("unsupported journal entry version {version}"));
    }
    let partition_text = r.bytes().map_err(|e| e.to_string())?;
    let partition = std::str::from_utf8(partition_text)
        .map_err(|_| "partition is not UTF-8".to_owned())?
        .parse::<Partition>()
        .map_err(|e| e.to_string())?;
    let info = EntryInfo::decode(&mut r, version).map_err(|e| e.to_string())?;
    let frame = Bytes::copy_from_slice(r.bytes().map_err(|e| e.to_string())?);
    Ok(DecodedEntry {
        partition,
        info,
        frame,
    })
}

/// Returns the payload length if `bytes` starts with a complete entry whose
/// checksum holds.
fn valid_entry_len(bytes: &[u8]) -> Option<usize> {
    if bytes.len() < HEADER_LEN || &bytes[..4] != MAGIC {
        return None;
    }
    let payload_len = u32::from_le_bytes(bytes[4..8].try_into().ok()?);
    let crc = u32::from_le_bytes(bytes[8..12].try_into().ok()?);
    let end = HEADER_LEN.checked_add(payload_len as usize)?;
    let payload = bytes.get(HEADER_LEN..end)?;
    (checksum(payload_len, payload) == crc).then_some(payload_len as usize)
}

/// One valid entry found by [`scan`].
#[derive(Debug, Clone)]
pub(crate) struct ScannedEntry {
    pub(crate) offset: u64,
    pub(crate) len: u32,
    pub(crate) entry: DecodedEntry,
}

/// A stretch of bytes that held no valid entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DamagedRange {
    pub(crate) start: u64,
    pub(crate) end: u64,
}

/// Result of [`scan`] over one segment.
#[derive(Debug, Default)]
pub(crate) struct ScanResult {
    pub(crate) entries: Vec<ScannedEntry>,
    /// Damaged stretches followed by at least one valid entry.
    pub(crate) damaged: Vec<DamagedRange>,
    /// Offset where the valid data ends. Bytes after it are a torn tail:
    /// an append that never completed, so never acknowledged.
    pub(crate) valid_end: u64,
}

/// Finds every valid entry in a segment's bytes.
pub(crate) fn scan(data: &[u8]) -> ScanResult {
    let mut result = ScanResult::default();
    let mut offset = 0usize;
    let mut damage_start: Option<usize> = None;

    while offset < data.len() {
        let Some(payload_len) = valid_entry_len(&data[offset..]) else {
            damage_start.get_or_insert(offset);
            offset = next_magic(data, offset + 1);
            continue;
        };
        let len = HEADER_LEN + payload_len;
        match decode_payload(&data[offset + HEADER_LEN..offset + len]) {
            Ok(entry) => {
                if let Some(start) = damage_start.take() {
                    result.damaged.push(DamagedRange {
                        start: start as u64,
                        end: offset as u64,
                    });
                }
                result.entries.push(ScannedEntry {
                    offset: offset as u64,
                    len: len as u32,
                    entry,
                });
                result.valid_end = (offset + len) as u64;
            }
            // A checksummed payload that does not decode was written by an
            // incompatible version; treat it as damage, not as a torn tail.
            Err(_) => {
                damage_start.get_or_insert(offset);
            }
        }
        offset += len;
    }
    result
}

fn next_magic(data: &[u8], from: usize) -> usize {
    memchr::memmem::find(&data[from.min(data.len())..], MAGIC)
        .map_or(data.len(), |found| from + found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ArchiveId;
    use chrono::{DateTime, NaiveDate};

    fn sample(n: u8) -> Vec<u8> {
        let partition =
            Partition::new("default", NaiveDate::from_ymd_opt(2026, 12, 4).unwrap()).unwrap();
        let info = EntryInfo {
            id: ArchiveId::of(&[n]),
            date: DateTime::from_timestamp_millis(1_000).unwrap(),
            recorded_at: DateTime::from_timestamp_millis(2_000).unwrap(),
            raw_len: 1,
            message_id: None,
            idempotency_key: Some(format!("key{n}")),
            role: crate::EntryRole::Message,
            source: crate::Source::App,
        };
        encode_entry(&partition, &info, &[n; 300])
    }

    #[test]
    fn entry_round_trip() {
        let bytes = sample(7);
        let decoded = decode_entry(&bytes).unwrap();
        assert_eq!(decoded.info.id, ArchiveId::of(&[7]));
        assert_eq!(decoded.partition.to_string(), "default/2026-12-04");
        assert_eq!(&decoded.frame[..], &[7; 300]);
    }

    #[test]
    fn scan_stops_at_torn_tail() {
        let mut data = [sample(1), sample(2)].concat();
        let good_len = data.len() as u64;
        data.extend_from_slice(&sample(3)[..100]);

        let result = scan(&data);
        assert_eq!(result.entries.len(), 2);
        assert_eq!(
            result.valid_end, good_len,
            "the torn third entry is not valid data"
        );
        assert!(result.damaged.is_empty(), "a torn tail is not damage");
    }

    #[test]
    fn scan_resyncs_after_damage() {
        let first = sample(1);
        let mut data = [first.clone(), sample(2), sample(3)].concat();
        data[first.len() + 50] ^= 0x55;

        let result = scan(&data);
        let ids: Vec<_> = result.entries.iter().map(|e| e.entry.info.id).collect();
        assert_eq!(ids, vec![ArchiveId::of(&[1]), ArchiveId::of(&[3])]);
        assert_eq!(result.damaged.len(), 1, "the flipped entry is reported");
        assert_eq!(result.damaged[0].start, first.len() as u64);
    }

    #[test]
    fn scan_of_zeros_finds_nothing() {
        let result = scan(&[0u8; 4096]);
        assert!(result.entries.is_empty());
        assert_eq!(result.valid_end, 0);
    }
}
