//! The pack format shared by the file and object storage backends.
//!
//! A pack contains the compressed frames of many messages of one partition,
//! followed by a footer that maps each archive id to the offset and length
//! of its frame. Reading one message is one ranged read of its frame;
//! opening a pack reads only its trailer and footer.
//!
//! ```text
//! header   8 bytes  "SMPACK\0" + format version 1
//! frames   one zstd frame per message, back to back
//! footer   version (u8), count (u32), then per message:
//!          EntryInfo, offset (u64), length (u32), CRC-32C of the frame (u32)
//! trailer  footer offset (u64), footer length (u32), CRC-32C of the
//!          footer (u32), "SMPKEND" + format version 1: 24 bytes
//! ```
//!
//! All integers are little-endian. Packs are written once and never
//! modified, so a pack's name can be derived from its content: writing the
//! same batch twice yields the same name, which lets object stores use a
//! create-only upload.

use sha2::{Digest, Sha256};

use crate::codec::{Reader, Writer};
use crate::{EntryInfo, PackEntry};

/// The first 8 bytes of every pack.
pub const HEADER: &[u8; 8] = b"SMPACK\0\x01";
/// The last 8 bytes of every pack.
pub const TRAILER_MAGIC: &[u8; 8] = b"SMPKEND\x01";
/// Length of the trailer in bytes.
pub const TRAILER_LEN: usize = 24;
/// File name extension of packs.
pub const EXTENSION: &str = "pack";

/// Footer version 1 contains version 1 of `EntryInfo`, and version 2
/// contains version 2.
const FOOTER_VERSION: u8 = 2;

/// One footer row: a message and where its frame sits in the pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FooterEntry {
    /// Facts about the message.
    pub info: EntryInfo,
    /// Byte offset of the frame from the start of the pack.
    pub offset: u64,
    /// Length of the frame in bytes.
    pub length: u32,
    /// CRC-32C of the frame.
    pub crc: u32,
}

/// The decoded trailer: where the footer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer {
    /// Byte offset of the footer from the start of the pack.
    pub footer_offset: u64,
    /// Length of the footer in bytes.
    pub footer_len: u32,
    /// CRC-32C of the footer.
    pub footer_crc: u32,
}

/// The error for a pack, footer or frame that fails validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid pack: {0}")]
pub struct PackError(pub String);

/// Serializes `entries` into a complete pack and returns its bytes and
/// footer. The caller must not pass the same id twice.
pub fn encode(entries: &[PackEntry]) -> (Vec<u8>, Vec<FooterEntry>) {
    let frames_len: usize = entries.iter().map(|entry| entry.frame.len()).sum();
    let mut out = Vec::with_capacity(HEADER.len() + frames_len + entries.len() * 128 + 64);
    out.extend_from_slice(HEADER);

    let mut footer_entries = Vec::with_capacity(entries.len());
    for entry in entries {
        footer_entries.push(FooterEntry {
            info: entry.info.clone(),
            offset: out.len() as u64,
            length: u32::try_from(entry.frame.len()).expect("frame shorter than 4 GiB"),
            crc: crc32c::crc32c(&entry.frame),
        });
        out.extend_from_slice(&entry.frame);
    }

    let footer_offset = out.len() as u64;
    let mut w = Writer(&mut out);
    w.u8(FOOTER_VERSION);
    w.u32(footer_entries.len() as u32);
    for row in &footer_entries {
        row.info.encode(w.0);
        w.u64(row.offset);
        w.u32(row.length);
        w.u32(row.crc);
    }
    let footer = &out[footer_offset as usize..];
    let footer_len = u32::try_from(footer.len()).expect("footer shorter than 4 GiB");
    let footer_crc = crc32c::crc32c(footer);

    let mut w = Writer(&mut out);
    w.u64(footer_offset);
    w.u32(footer_len);
    w.u32(footer_crc);
    out.extend_from_slice(TRAILER_MAGIC);
    (out, footer_entries)
}

/// Decodes the last [`TRAILER_LEN`] bytes of a pack of `pack_len` bytes.
pub fn decode_trailer(tail: &[u8], pack_len: u64) -> Result<Trailer, PackError> {
    if tail.len() != TRAILER_LEN {
        return Err(PackError(format!(
            "trailer is {} bytes, expected {TRAILER_LEN}",
            tail.len()
        )));
    }
    if &tail[16..] != TRAILER_MAGIC {
        return Err(PackError(
            "missing end marker; the pack is truncated or not a pack".into(),
        ));
    }
    let mut r = Reader::new(tail);
    let trailer = Trailer {
        footer_offset: r.u64().map_err(|e| PackError(e.to_string()))?,
        footer_len: r.u32().map_err(|e| PackError(e.to_string()))?,
        footer_crc: r.u32().map_err(|e| PackError(e.to_string()))?,
    };
    let footer_end = trailer.footer_offset + u64::from(trailer.footer_len);
    if trailer.footer_offset < HEADER.len() as u64 || footer_end + TRAILER_LEN as u64 != pack_len {
        return Err(PackError(format!(
            "footer at {}..{} does not fit a pack of {pack_len} bytes",
            trailer.footer_offset, footer_end
        )));
    }
    Ok(trailer)
}

/// Decodes and checks a footer read at the position the trailer names.
pub fn decode_footer(footer: &[u8], trailer: &Trailer) -> Result<Vec<FooterEntry>, PackError> {
    if footer.len() != trailer.footer_len as usize {
        return Err(PackError("footer length differs from the trailer".into()));
    }
    if crc32c::crc32c(footer) != trailer.footer_crc {
        return Err(PackError("footer checksum mismatch".into()));
    }

    let bad = |e: crate::codec::DecodeError| PackError(format!("footer: {e}"));
    let mut r = Reader::new(footer);
    let version = r.u8().map_err(bad)?;
    if !(1..=FOOTER_VERSION).contains(&version) {
        return Err(PackError(format!("unsupported footer version {version}")));
    }
    let count = r.u32().map_err(bad)?;
    let mut entries = Vec::with_capacity(count.min(1 << 20) as usize);
    for _ in 0..count {
        let info = EntryInfo::decode(&mut r, version).map_err(bad)?;
        let offset = r.u64().map_err(bad)?;
        let length = r.u32().map_err(bad)?;
        let crc = r.u32().map_err(bad)?;
        if offset < HEADER.len() as u64 || offset + u64::from(length) > trailer.footer_offset {
            return Err(PackError(format!(
                "frame of {} lies outside the frame area",
                info.id
            )));
        }
        entries.push(FooterEntry {
            info,
            offset,
            length,
            crc,
        });
    }
    if r.remaining() != 0 {
        return Err(PackError("footer has trailing bytes".into()));
    }
    Ok(entries)
}

/// Checks a frame read from a pack against its footer row.
pub fn check_frame(frame: &[u8], row: &FooterEntry) -> Result<(), PackError> {
    if frame.len() != row.length as usize {
        return Err(PackError(format!(
            "frame of {} is {} bytes, the footer says {}",
            row.info.id,
            frame.len(),
            row.length
        )));
    }
    if crc32c::crc32c(frame) != row.crc {
        return Err(PackError(format!(
            "frame of {} fails its checksum",
            row.info.id
        )));
    }
    Ok(())
}

/// Returns the content-derived name of a pack holding `entries`: 32 hex
/// digits of the SHA-256 over their ids in order, plus the extension.
pub fn name(entries: &[PackEntry]) -> String {
    let mut hasher = Sha256::new();
    for entry in entries {
        hasher.update(entry.info.id.as_bytes());
    }
    let digest = hasher.finalize();
    format!("{}.{EXTENSION}", hex::encode(&digest[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ArchiveId, RecordMeta, encode_frame};
    use chrono::DateTime;

    fn entry(n: u8) -> PackEntry {
        let raw = vec![n; 100 + n as usize];
        PackEntry {
            info: EntryInfo {
                id: ArchiveId::of(&raw),
                date: DateTime::from_timestamp_millis(1_700_000_000_000).unwrap(),
                recorded_at: DateTime::from_timestamp_millis(1_700_000_000_500).unwrap(),
                raw_len: raw.len() as u64,
                message_id: Some(format!("m{n}@example.com")),
                idempotency_key: None,
                role: crate::EntryRole::Message,
                source: crate::Source::App,
            },
            frame: encode_frame(&RecordMeta::default(), &raw, 3, None),
        }
    }

    #[test]
    fn pack_round_trip() {
        let entries = vec![entry(1), entry(2), entry(3)];
        let (bytes, rows) = encode(&entries);
        assert_eq!(&bytes[..8], HEADER);

        let tail = &bytes[bytes.len() - TRAILER_LEN..];
        let trailer = decode_trailer(tail, bytes.len() as u64).unwrap();
        let start = trailer.footer_offset as usize;
        let footer = &bytes[start..start + trailer.footer_len as usize];
        let decoded = decode_footer(footer, &trailer).unwrap();
        assert_eq!(decoded, rows);

        for (row, original) in decoded.iter().zip(&entries) {
            let frame = &bytes[row.offset as usize..row.offset as usize + row.length as usize];
            check_frame(frame, row).unwrap();
            assert_eq!(frame, &original.frame[..]);
        }
    }

    #[test]
    fn pack_detects_damage() {
        let (mut bytes, rows) = encode(&[entry(1)]);
        let len = bytes.len() as u64;
        assert!(decode_trailer(&bytes[..TRAILER_LEN], len).is_err());

        let frame_byte = rows[0].offset as usize + 3;
        bytes[frame_byte] ^= 0xff;
        let frame = &bytes[rows[0].offset as usize..][..rows[0].length as usize];
        assert!(check_frame(frame, &rows[0]).is_err());

        let tail = bytes[bytes.len() - TRAILER_LEN..].to_vec();
        let trailer = decode_trailer(&tail, len).unwrap();
        let start = trailer.footer_offset as usize;
        bytes[start + 5] ^= 0xff;
        let footer = &bytes[start..start + trailer.footer_len as usize];
        assert!(decode_footer(footer, &trailer).is_err());
    }

    #[test]
    fn pack_name_depends_on_ids() {
        assert_eq!(name(&[entry(1), entry(2)]), name(&[entry(1), entry(2)]));
        assert_ne!(name(&[entry(1), entry(2)]), name(&[entry(2), entry(1)]));
        assert!(name(&[entry(1)]).ends_with(".pack"));
    }
}
