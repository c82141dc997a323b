//! Per-message facts kept beside the compressed bytes, and the compressed
//! frame itself.

use std::cell::RefCell;
use std::collections::HashMap;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::codec::{DecodeError, Reader, Writer};
use crate::{ArchiveId, Dictionary, RecordMeta, Source};

/// Per-message facts that storage keeps outside the compressed frame, so
/// that listing, deduplication and lookup by Message-ID need no decompression.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryInfo {
    /// The archive id (SHA-256 of the raw bytes).
    pub id: ArchiveId,
    /// The effective message date, with millisecond precision.
    pub date: DateTime<Utc>,
    /// When `record` accepted the message, with millisecond precision.
    pub recorded_at: DateTime<Utc>,
    /// Size of the raw message in bytes.
    pub raw_len: u64,
    /// The Message-ID without angle brackets.
    pub message_id: Option<String>,
    /// The caller's idempotency key.
    pub idempotency_key: Option<String>,
    /// Whether the entry is a message or a send status of one.
    pub role: EntryRole,
    /// The path the message took into the archive.
    pub source: Source,
}

/// The kind of a stored entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryRole {
    /// An archived message.
    #[default]
    Message,
    /// The outcome of sending a message, recorded after the message. Its
    /// `message_id` contains the archive id of that message in hex.
    SendStatus,
}

impl EntryRole {
    fn code(self) -> u8 {
        match self {
            EntryRole::Message => 0,
            EntryRole::SendStatus => 1,
        }
    }

    fn from_code(code: u8) -> Result<EntryRole, DecodeError> {
        match code {
            0 => Ok(EntryRole::Message),
            1 => Ok(EntryRole::SendStatus),
            _ => Err(DecodeError("unknown entry role")),
        }
    }
}

fn source_code(source: Source) -> u8 {
    match source {
        Source::App => 0,
        Source::Smtp => 1,
        Source::Import => 2,
    }
}

fn source_from_code(code: u8) -> Result<Source, DecodeError> {
    match code {
        0 => Ok(Source::App),
        1 => Ok(Source::Smtp),
        2 => Ok(Source::Import),
        _ => Err(DecodeError("unknown source")),
    }
}

impl EntryInfo {
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let mut w = Writer(out);
        w.id(&self.id);
        w.i64(self.date.timestamp_millis());
        w.i64(self.recorded_at.timestamp_millis());
        w.u64(self.raw_len);
        w.opt_str(self.message_id.as_deref());
        w.opt_str(self.idempotency_key.as_deref());
        w.u8(self.role.code());
        w.u8(source_code(self.source));
    }

    /// Reads facts written in encoding `version` (1 or 2). Version 1 had no
    /// role and no source; it reads as a message recorded by the application.
    pub(crate) fn decode(r: &mut Reader<'_>, version: u8) -> Result<EntryInfo, DecodeError> {
        let id = r.id()?;
        let date = millis(r.i64()?)?;
        let recorded_at = millis(r.i64()?)?;
        let raw_len = r.u64()?;
        let message_id = r.opt_str()?;
        let idempotency_key = r.opt_str()?;
        let (role, source) = if version >= 2 {
            (EntryRole::from_code(r.u8()?)?, source_from_code(r.u8()?)?)
        } else {
            (EntryRole::Message, Source::App)
        };
        Ok(EntryInfo {
            id,
            date,
            recorded_at,
            raw_len,
            message_id,
            idempotency_key,
            role,
            source,
        })
    }
}

fn millis(value: i64) -> Result<DateTime<Utc>, DecodeError> {
    DateTime::from_timestamp_millis(value).ok_or(DecodeError("timestamp out of range"))
}

/// A stored message: its facts and its compressed frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackEntry {
    /// Facts about the message.
    pub info: EntryInfo,
    /// The zstd frame made by [`encode_frame`]: metadata plus raw bytes.
    pub frame: Bytes,
}

/// Compresses the metadata and raw bytes of one message into a zstd frame,
/// with `dictionary` if given.
///
/// Layout before compression: metadata length (u32 LE), metadata as JSON,
/// raw bytes. The frame records its content size and, when a dictionary is
/// used, the dictionary's id.
pub fn encode_frame(
    meta: &RecordMeta,
    raw: &[u8],
    level: i32,
    dictionary: Option<&Dictionary>,
) -> Bytes {
    let meta_json = serde_json::to_vec(meta).expect("metadata serializes");
    let mut plain = Vec::with_capacity(4 + meta_json.len() + raw.len());
    Writer(&mut plain).bytes(&meta_json);
    plain.extend_from_slice(raw);

    let key = (level, dictionary.map_or(0, Dictionary::id));
    let compressed = COMPRESSORS.with_borrow_mut(|cache| {
        // A zstd context costs as much to create as compressing a typical
        // mail, so each thread keeps one per level and dictionary.
        if !cache.contains_key(&key) {
            let compressor = match dictionary {
                Some(dictionary) => dictionary_compressor(level, dictionary),
                None => zstd::bulk::Compressor::new(level),
            };
            cache.retain(|(_, id), _| *id == 0 || Some(*id) == dictionary.map(Dictionary::id));
            cache.insert(key, compressor.expect("valid zstd level and dictionary"));
        }
        let compressor = cache.get_mut(&key).expect("compressor was just created");
        compressor
            .compress(&plain)
            .expect("in-memory zstd compression")
    });
    Bytes::from(compressed)
}

/// Makes a compressor that references the dictionary's tables instead of
/// copying them into each frame's context. For mail-sized inputs (over
/// 8 KB at low levels) zstd would copy them, which at level 3 costs about
/// a quarter of the compression time.
fn dictionary_compressor(
    level: i32,
    dictionary: &Dictionary,
) -> std::io::Result<zstd::bulk::Compressor<'static>> {
    use zstd::zstd_safe::{CParameter, DictAttachPref};

    let mut compressor = zstd::bulk::Compressor::with_dictionary(level, dictionary.bytes())?;
    compressor.set_parameter(CParameter::ForceAttachDict(DictAttachPref::ForceAttach))?;
    Ok(compressor)
}

thread_local! {
    static COMPRESSORS: RefCell<HashMap<(i32, u32), zstd::bulk::Compressor<'static>>> =
        RefCell::new(HashMap::new());
    static DECOMPRESSORS: RefCell<HashMap<u32, zstd::bulk::Decompressor<'static>>> =
        RefCell::new(HashMap::new());
}

/// The error for a frame that does not decompress or parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid message frame: {reason}")]
pub struct FrameError {
    /// The cause.
    pub reason: String,
}

/// Decompresses a frame made by [`encode_frame`] into metadata and raw bytes.
///
/// `dictionary` must be the one the frame names (see
/// [`frame_dictionary_id`](crate::frame_dictionary_id)), or `None` for a
/// frame without one. `max_len` bounds the decompressed size, so a damaged
/// frame cannot make the reader allocate without limit.
pub fn decode_frame(
    frame: &[u8],
    max_len: usize,
    dictionary: Option<&Dictionary>,
) -> Result<(RecordMeta, Bytes), FrameError> {
    let needed = crate::frame_dictionary_id(frame).unwrap_or(0);
    let given = dictionary.map_or(0, Dictionary::id);
    if needed != given {
        return Err(FrameError {
            reason: format!("the frame needs dictionary {needed}, not {given}"),
        });
    }
    let plain = DECOMPRESSORS
        .with_borrow_mut(|cache| {
            if !cache.contains_key(&needed) {
                let decompressor = match dictionary {
                    Some(dictionary) => {
                        zstd::bulk::Decompressor::with_dictionary(dictionary.bytes())?
                    }
                    None => zstd::bulk::Decompressor::new()?,
                };
                cache.retain(|id, _| *id == 0);
                cache.insert(needed, decompressor);
            }
            let decompressor = cache
                .get_mut(&needed)
                .expect("decompressor was just created");
            decompressor.decompress(frame, max_len)
        })
        .map_err(|e| FrameError {
            reason: format!("zstd: {e}"),
        })?;

    let mut r = Reader::new(&plain);
    let meta_json = r.bytes().map_err(|e| FrameError {
        reason: e.to_string(),
    })?;
    let meta: RecordMeta = serde_json::from_slice(meta_json).map_err(|e| FrameError {
        reason: format!("metadata: {e}"),
    })?;
    let raw_start = plain.len() - r.remaining();
    let raw = Bytes::from(plain).slice(raw_start..);
    Ok((meta, raw))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Source;

    #[test]
    fn frame_round_trip() {
        let meta = RecordMeta::new(Source::Smtp).with_kind("order_confirmation");
        let raw = b"Subject: hi\r\n\r\nbody\r\n";
        let frame = encode_frame(&meta, raw, 3, None);
        let (decoded_meta, decoded_raw) = decode_frame(&frame, 1 << 20, None).unwrap();
        assert_eq!(decoded_meta, meta);
        assert_eq!(&decoded_raw[..], raw);
    }

    #[test]
    fn frame_rejects_garbage_and_oversize() {
        assert!(decode_frame(b"not zstd", 1 << 20, None).is_err());
        let frame = encode_frame(&RecordMeta::default(), &[b'x'; 5000], 3, None);
        assert!(decode_frame(&frame, 100, None).is_err());
    }

    #[test]
    fn frame_with_dictionary_needs_it() {
        let samples: Vec<Vec<u8>> = (0..200)
            .map(|n| format!("Subject: order {n}\r\n\r\nThank you for order {n}.\r\n").into_bytes())
            .collect();
        let refs: Vec<&[u8]> = samples.iter().map(Vec::as_slice).collect();
        let dictionary = Dictionary::train(&refs, 8 << 10).unwrap();
        let meta = RecordMeta::default();

        let frame = encode_frame(&meta, &samples[3], 3, Some(&dictionary));
        assert_eq!(crate::frame_dictionary_id(&frame), Some(dictionary.id()));
        let (_, raw) = decode_frame(&frame, 1 << 20, Some(&dictionary)).unwrap();
        assert_eq!(&raw[..], &samples[3][..]);
        let missing = decode_frame(&frame, 1 << 20, None).unwrap_err();
        assert!(missing.reason.contains("needs dictionary"), "{missing}");

        let plain = encode_frame(&meta, &samples[3], 3, None);
        assert!(decode_frame(&plain, 1 << 20, Some(&dictionary)).is_err());
    }

    #[test]
    fn entry_info_round_trip() {
        let info = EntryInfo {
            id: ArchiveId::of(b"x"),
            date: DateTime::from_timestamp_millis(1_764_840_000_123).unwrap(),
            recorded_at: DateTime::from_timestamp_millis(1_764_840_001_000).unwrap(),
            raw_len: 42,
            message_id: Some("a@b".into()),
            idempotency_key: None,
            role: EntryRole::SendStatus,
            source: Source::Smtp,
        };
        let mut buf = Vec::new();
        info.encode(&mut buf);
        let decoded = EntryInfo::decode(&mut Reader::new(&buf), 2).unwrap();
        assert_eq!(decoded, info);

        // Version 1 ends before role and source.
        let old = &buf[..buf.len() - 2];
        let decoded = EntryInfo::decode(&mut Reader::new(old), 1).unwrap();
        assert_eq!(decoded.role, EntryRole::Message);
        assert_eq!(decoded.source, Source::App);
        assert_eq!(decoded.id, info.id);
    }
}
