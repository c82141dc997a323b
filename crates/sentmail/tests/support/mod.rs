//! Helpers shared by the integration tests.

use std::path::Path;

use archive_core::ArchiveId;

/// Reads the footer of every pack file under `dir` and returns every id
/// listed, duplicates included.
pub fn ids_in_packs(dir: &Path) -> Vec<ArchiveId> {
    use archive_core::pack;

    let mut ids = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(
                std::fs::read_dir(&path)
                    .unwrap()
                    .map(|entry| entry.unwrap().path()),
            );
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) != Some(pack::EXTENSION) {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let tail = &bytes[bytes.len() - pack::TRAILER_LEN..];
        let trailer = pack::decode_trailer(tail, bytes.len() as u64).unwrap();
        let start = trailer.footer_offset as usize;
        let footer = &bytes[start..start + trailer.footer_len as usize];
        let rows = pack::decode_footer(footer, &trailer).unwrap();
        ids.extend(rows.into_iter().map(|row| row.info.id));
    }
    ids
}
