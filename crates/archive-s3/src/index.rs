//! Reading a pack's index (trailer and footer) from the end of its object,
//! from the cache or with ranged GETs.

use archive_core::pack::{self, FooterEntry, HEADER, TRAILER_LEN};
use object_store::ObjectStoreExt;
use object_store::path::Path;

use crate::error::RequestError;
use crate::request::{self, Counters};
use crate::storage::Inner;

/// Bytes read from the end of a pack by the first GET. A footer row takes
/// about 150 bytes, so this covers the footer of a pack of about 1,700
/// messages. A larger footer costs a second GET.
const FIRST_READ: u64 = 256 << 10;

/// A pack's index and the bytes it was decoded from.
#[derive(Debug)]
pub(crate) struct PackIndex {
    /// Size of the pack object in bytes.
    pub(crate) size: u64,
    /// The footer and trailer: the bytes the cache keeps.
    pub(crate) tail: Vec<u8>,
    /// The decoded footer rows.
    pub(crate) rows: Vec<FooterEntry>,
}

/// The reason a pack's index could not be read.
#[derive(Debug)]
pub(crate) enum IndexError {
    /// A request failed.
    Request(RequestError),
    /// The pack is damaged or not a pack, as the reason describes.
    Damaged(String),
}

/// Decodes the footer rows from `tail`, the last bytes of a pack of `size`
/// bytes, which must hold exactly the footer and the trailer.
pub(crate) fn decode_tail(tail: &[u8], size: u64) -> Result<Vec<FooterEntry>, String> {
    let min_len = (HEADER.len() + TRAILER_LEN) as u64;
    if size < min_len {
        return Err(format!(
            "object is {size} bytes, shorter than an empty pack ({min_len})"
        ));
    }
    let Some(trailer_start) = tail.len().checked_sub(TRAILER_LEN) else {
        return Err("the end of the object is shorter than a trailer".into());
    };
    let trailer = pack::decode_trailer(&tail[trailer_start..], size).map_err(|e| e.to_string())?;
    if trailer_start != trailer.footer_len as usize {
        return Err("the cached bytes do not match the trailer".into());
    }
    pack::decode_footer(&tail[..trailer_start], &trailer).map_err(|e| e.to_string())
}

/// Reads the index of the pack at `key`, an object of `size` bytes (as a
/// listing or HEAD reported it): one GET of its last [`FIRST_READ`] bytes,
/// and a second one when the footer is longer. `location` names the pack in
/// errors.
///
/// The first GET requests an explicit range rather than a suffix range:
/// s3s-fs 0.14.1 fails a suffix range longer than the object with an
/// internal error instead of returning the whole object.
pub(crate) async fn fetch(
    inner: &Inner,
    key: &Path,
    location: &str,
    size: u64,
) -> Result<PackIndex, IndexError> {
    let min_len = (HEADER.len() + TRAILER_LEN) as u64;
    if size < min_len {
        return Err(IndexError::Damaged(format!(
            "object is {size} bytes, shorter than an empty pack ({min_len})"
        )));
    }
    let first = size.saturating_sub(FIRST_READ)..size;
    let end = get_range(inner, key, location, first).await?;
    let trailer = pack::decode_trailer(&end[end.len() - TRAILER_LEN..], size)
        .map_err(|error| IndexError::Damaged(error.to_string()))?;

    let tail_len = size - trailer.footer_offset;
    let tail = if tail_len <= end.len() as u64 {
        end[end.len() - tail_len as usize..].to_vec()
    } else {
        let missing = trailer.footer_offset..size - end.len() as u64;
        let mut tail = get_range(inner, key, location, missing).await?;
        tail.extend_from_slice(&end);
        tail
    };
    let rows = decode_tail(&tail, size).map_err(IndexError::Damaged)?;
    Ok(PackIndex { size, tail, rows })
}

/// Returns the size of the object at `key` with a HEAD request.
pub(crate) async fn head_size(
    inner: &Inner,
    key: &Path,
    location: &str,
) -> Result<u64, RequestError> {
    let meta = request::send("HEAD", location, &inner.counters.head, || {
        inner.store.head(key)
    })
    .await?;
    Ok(meta.size)
}

async fn get_range(
    inner: &Inner,
    key: &Path,
    location: &str,
    range: std::ops::Range<u64>,
) -> Result<Vec<u8>, IndexError> {
    let expected = range.end - range.start;
    let bytes = request::send("GET", location, &inner.counters.get, || {
        inner.store.get_range(key, range.clone())
    })
    .await
    .map_err(IndexError::Request)?;
    Counters::add(&inner.counters.downloaded, bytes.len() as u64);
    if bytes.len() as u64 != expected {
        return Err(IndexError::Damaged(format!(
            "read {} bytes of the footer, expected {expected}",
            bytes.len()
        )));
    }
    Ok(bytes.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use archive_core::testing::storage::entries;

    #[test]
    fn tail_decodes_to_rows() {
        let (bytes, rows) = pack::encode(&entries("tail", 3));
        let size = bytes.len() as u64;
        let trailer = pack::decode_trailer(&bytes[bytes.len() - TRAILER_LEN..], size).unwrap();
        let tail = &bytes[trailer.footer_offset as usize..];
        assert_eq!(decode_tail(tail, size).unwrap(), rows);
    }

    #[test]
    fn wrong_tail_is_rejected() {
        let (bytes, _) = pack::encode(&entries("tail", 3));
        let size = bytes.len() as u64;
        let error = decode_tail(&bytes[bytes.len() - 30..], size).unwrap_err();
        assert_eq!(error, "the cached bytes do not match the trailer");
        let error = decode_tail(&bytes[..40], size).unwrap_err();
        assert!(error.contains("end marker"), "{error}");
        let error = decode_tail(&bytes[..10], size).unwrap_err();
        assert_eq!(error, "the end of the object is shorter than a trailer");
        let error = decode_tail(b"short", 5).unwrap_err();
        assert!(error.contains("shorter than an empty pack"), "{error}");
    }
}
