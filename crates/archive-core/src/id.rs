//! The archive id: the SHA-256 digest of a message's raw bytes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Identifies one archived message by the SHA-256 digest of its raw bytes.
///
/// Because the id is derived from the bytes, recording the same bytes twice
/// yields the same id and stores them once. Two different mails that share a
/// Message-ID, or have none, get different ids. The text form is 64 lower-case
/// hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArchiveId([u8; 32]);

impl ArchiveId {
    /// Length of the text form in hex digits.
    pub const HEX_LEN: usize = 64;

    /// Computes the id of `raw`.
    pub fn of(raw: &[u8]) -> ArchiveId {
        ArchiveId(Sha256::digest(raw).into())
    }

    /// Wraps a digest that was computed elsewhere.
    pub const fn from_bytes(bytes: [u8; 32]) -> ArchiveId {
        ArchiveId(bytes)
    }

    /// The digest bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Returns the text form: 64 lower-case hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for ArchiveId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ArchiveId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ArchiveId({})", self.to_hex())
    }
}

/// The error for text that is not a valid archive id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid archive id {value:?}: expected 64 hex digits (a SHA-256 digest)")]
pub struct ParseIdError {
    /// The rejected text.
    pub value: String,
}

impl FromStr for ArchiveId {
    type Err = ParseIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; 32];
        if s.len() != Self::HEX_LEN || hex::decode_to_slice(s, &mut bytes).is_err() {
            return Err(ParseIdError {
                value: s.to_owned(),
            });
        }
        Ok(ArchiveId(bytes))
    }
}

impl Serialize for ArchiveId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for ArchiveId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_of_known_bytes() {
        let id = ArchiveId::of(b"abc");
        assert_eq!(
            id.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn id_text_round_trip() {
        let id = ArchiveId::of(b"hello");
        let parsed: ArchiveId = id.to_hex().parse().unwrap();
        assert_eq!(parsed, id);
        assert_eq!(id.to_hex().to_uppercase().parse::<ArchiveId>().unwrap(), id);
    }

    #[test]
    fn id_rejects_bad_text() {
        assert!("abc".parse::<ArchiveId>().is_err());
        assert!("zz".repeat(32).parse::<ArchiveId>().is_err());
    }
}
