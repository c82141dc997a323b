//! Names and paths of the files and directories under the archive root.

use std::path::{Path, PathBuf};

use archive_core::Partition;
use archive_core::pack::EXTENSION;
use chrono::NaiveDate;

/// The lock file directly under the root.
pub(crate) const LOCK_FILE: &str = "LOCK";
/// The directory under the root that contains every partition.
pub(crate) const PACKS_DIR: &str = "packs";

const TEMP_SUFFIX: &str = ".tmp";
const TOMBSTONE_MARKER: &str = ".deleting-";
const DAY_FORMAT: &str = "%Y-%m-%d";

/// The kind of a file name in a partition directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    /// A finished pack with its sequence number.
    Pack { seq: u64 },
    /// A pack that was being written, with its sequence number if readable.
    Temp { seq: Option<u64> },
    /// Anything else.
    Unknown,
}

/// The kind of a directory name in a class directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DirKind {
    /// A partition directory for this day.
    Day(NaiveDate),
    /// A partition directory renamed for deletion, with its sequence number.
    Tombstone { seq: u64 },
    /// Anything else.
    Unknown,
}

/// Returns the directory of `partition`: `<packs>/<class>/<YYYY-MM-DD>`.
pub(crate) fn partition_dir(packs: &Path, partition: &Partition) -> PathBuf {
    packs
        .join(partition.class())
        .join(day_name(partition.day()))
}

/// Returns the final file name of pack `seq`: `<seq>-<name>`.
pub(crate) fn pack_file_name(seq: u64, name: &str) -> String {
    format!("{seq:012}-{name}")
}

/// Returns the file name a pack is written to before its rename.
pub(crate) fn temp_file_name(seq: u64, name: &str) -> String {
    format!("{}{TEMP_SUFFIX}", pack_file_name(seq, name))
}

/// Returns the name a partition directory gets while it is deleted.
pub(crate) fn tombstone_name(day: NaiveDate, seq: u64) -> String {
    format!("{}{TOMBSTONE_MARKER}{seq}", day_name(day))
}

/// Returns true if `dir_name` is a tombstone of the partition of `day`.
pub(crate) fn is_tombstone_of(dir_name: &str, day: NaiveDate) -> bool {
    dir_name
        .strip_prefix(&day_name(day))
        .is_some_and(|rest| rest.starts_with(TOMBSTONE_MARKER))
}

/// Classifies a file name found in a partition directory.
pub(crate) fn classify_file(file_name: &str) -> FileKind {
    if let Some(pack) = file_name.strip_suffix(TEMP_SUFFIX) {
        return FileKind::Temp {
            seq: parse_pack_name(pack),
        };
    }
    match parse_pack_name(file_name) {
        Some(seq) => FileKind::Pack { seq },
        None => FileKind::Unknown,
    }
}

/// Classifies a directory name found in a class directory.
pub(crate) fn classify_dir(dir_name: &str) -> DirKind {
    if let Some((day, seq)) = dir_name.split_once(TOMBSTONE_MARKER) {
        return match (parse_day(day), parse_digits(seq)) {
            (Some(_), Some(seq)) => DirKind::Tombstone { seq },
            _ => DirKind::Unknown,
        };
    }
    match parse_day(dir_name) {
        Some(day) => DirKind::Day(day),
        None => DirKind::Unknown,
    }
}

fn day_name(day: NaiveDate) -> String {
    day.format(DAY_FORMAT).to_string()
}

/// Parses a day name, accepting only the exact form `partition_dir` writes,
/// so that a partition always maps back to the directory it was read from.
fn parse_day(text: &str) -> Option<NaiveDate> {
    let day = NaiveDate::parse_from_str(text, DAY_FORMAT).ok()?;
    (day_name(day) == text).then_some(day)
}

/// Parses `<seq>-<name>.pack` and returns the sequence number.
fn parse_pack_name(file_name: &str) -> Option<u64> {
    let (seq, name) = file_name.split_once('-')?;
    let stem = name.strip_suffix(EXTENSION)?.strip_suffix('.')?;
    if stem.is_empty() {
        return None;
    }
    parse_digits(seq)
}

fn parse_digits(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, d).unwrap()
    }

    #[test]
    fn pack_names_round_trip() {
        let name = pack_file_name(42, "ab12.pack");
        assert_eq!(name, "000000000042-ab12.pack");
        assert_eq!(classify_file(&name), FileKind::Pack { seq: 42 });
        let temp = temp_file_name(42, "ab12.pack");
        assert_eq!(classify_file(&temp), FileKind::Temp { seq: Some(42) });
    }

    #[test]
    fn sequence_beyond_padding_still_parses() {
        let name = pack_file_name(1_234_567_890_123_456, "ab.pack");
        assert_eq!(
            classify_file(&name),
            FileKind::Pack {
                seq: 1_234_567_890_123_456
            }
        );
    }

    #[test]
    fn unknown_file_names() {
        for name in [
            "notes.txt",
            "12-.pack",
            "-ab.pack",
            "x1-ab.pack",
            "12-ab.packs",
            "12ab.pack",
        ] {
            assert_eq!(classify_file(name), FileKind::Unknown, "{name}");
        }
        assert_eq!(classify_file("junk.tmp"), FileKind::Temp { seq: None });
    }

    #[test]
    fn directory_names() {
        assert_eq!(classify_dir("2026-12-04"), DirKind::Day(day(4)));
        assert_eq!(
            classify_dir(&tombstone_name(day(4), 7)),
            DirKind::Tombstone { seq: 7 }
        );
        assert!(is_tombstone_of(&tombstone_name(day(4), 7), day(4)));
        assert!(!is_tombstone_of(&tombstone_name(day(5), 7), day(4)));
        for name in [
            "2026-12-4",
            "2026-13-01",
            "today",
            "2026-12-04.deleting-",
            "x.deleting-3",
        ] {
            assert_eq!(classify_dir(name), DirKind::Unknown, "{name}");
        }
    }

    #[test]
    fn partition_dir_uses_class_and_day() {
        let partition = Partition::new("default", day(4)).unwrap();
        assert_eq!(
            partition_dir(Path::new("/r/packs"), &partition),
            Path::new("/r/packs/default/2026-12-04")
        );
    }
}
