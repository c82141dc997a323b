//! zstd dictionaries trained on the archive's own mail.
//!
//! Shop mail is highly templated, so a dictionary trained on a sample of it
//! roughly halves the compressed size of each message and makes compression
//! faster. A dictionary is stored durably in storage before any frame uses
//! it. Every frame names its dictionary by id in the zstd frame header, so a
//! reader can always find the one it needs.

use bytes::Bytes;

/// The first four bytes of a zstd dictionary (RFC 8878, section 5).
const MAGIC: [u8; 4] = 0xEC30A437u32.to_le_bytes();

/// A zstd dictionary and its id.
#[derive(Clone, PartialEq, Eq)]
pub struct Dictionary {
    id: u32,
    bytes: Bytes,
}

impl std::fmt::Debug for Dictionary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dictionary")
            .field("id", &self.id)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// The error for bytes that are not a usable zstd dictionary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid zstd dictionary: {0}")]
pub struct DictionaryError(pub String);

impl Dictionary {
    /// Wraps the bytes of a zstd dictionary, reading its id from its header.
    /// Id 0 is reserved by zstd for "no dictionary" and rejected.
    pub fn from_bytes(bytes: Bytes) -> Result<Dictionary, DictionaryError> {
        if bytes.len() < 8 || bytes[..4] != MAGIC {
            return Err(DictionaryError(
                "missing the zstd dictionary magic number".into(),
            ));
        }
        let id = u32::from_le_bytes(bytes[4..8].try_into().expect("four bytes"));
        if id == 0 {
            return Err(DictionaryError("dictionary id 0 is reserved".into()));
        }
        Ok(Dictionary { id, bytes })
    }

    /// Trains a dictionary of at most `max_len` bytes on `samples`.
    pub fn train(samples: &[&[u8]], max_len: usize) -> Result<Dictionary, DictionaryError> {
        let bytes = zstd::dict::from_samples(samples, max_len)
            .map_err(|error| DictionaryError(format!("training failed: {error}")))?;
        Dictionary::from_bytes(Bytes::from(bytes))
    }

    /// The dictionary id, as written in the header of every frame that
    /// uses it.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The dictionary bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }
}

/// Returns the id of the dictionary a zstd frame needs, or `None` if it
/// needs none.
pub fn frame_dictionary_id(frame: &[u8]) -> Option<u32> {
    zstd::zstd_safe::get_dict_id_from_frame(frame).map(u32::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Vec<u8>> {
        (0..300)
            .map(|n| {
                format!(
                    "From: shop@example.jp\r\nSubject: ご注文ありがとうございます {n}\r\n\
                     Content-Type: text/plain; charset=UTF-8\r\n\r\n\
                     山田様、ご注文番号 ORD-{n:07} を承りました。お届け予定日は {} 日です。\r\n",
                    n % 28 + 1
                )
                .into_bytes()
            })
            .collect()
    }

    #[test]
    fn trained_dictionary_has_its_id_in_frames() {
        let samples = samples();
        let refs: Vec<&[u8]> = samples.iter().map(Vec::as_slice).collect();
        let dictionary = Dictionary::train(&refs, 16 << 10).unwrap();
        assert_ne!(dictionary.id(), 0);

        let frame = zstd::bulk::Compressor::with_dictionary(3, dictionary.bytes())
            .unwrap()
            .compress(&samples[7])
            .unwrap();
        assert_eq!(frame_dictionary_id(&frame), Some(dictionary.id()));
        let plain = zstd::bulk::compress(&samples[7], 3).unwrap();
        assert_eq!(frame_dictionary_id(&plain), None);
    }

    #[test]
    fn bytes_without_magic_are_rejected() {
        assert!(Dictionary::from_bytes(Bytes::from_static(b"not a dictionary")).is_err());
        let mut zero_id = MAGIC.to_vec();
        zero_id.extend_from_slice(&[0; 8]);
        assert!(Dictionary::from_bytes(Bytes::from(zero_id)).is_err());
    }
}
