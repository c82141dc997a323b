//! Bookkeeping of journal segment files: sizes, entries still needed, and
//! when a segment may be deleted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// File name extension of live segments.
pub(crate) const SEGMENT_EXTENSION: &str = "seg";
/// File name extension of segments kept for inspection because they held
/// damaged bytes in the middle.
pub(crate) const DAMAGED_EXTENSION: &str = "damaged";

/// Returns the path of segment `number` in `dir`.
pub(crate) fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:020}.{SEGMENT_EXTENSION}"))
}

/// Parses a segment file name back into its number.
pub(crate) fn segment_number(file_name: &str) -> Option<u64> {
    let stem = file_name.strip_suffix(&format!(".{SEGMENT_EXTENSION}"))?;
    if stem.len() != 20 {
        return None;
    }
    stem.parse().ok()
}

#[derive(Debug)]
struct Segment {
    /// Bytes written, including entries already released.
    size: u64,
    /// Entries written but not yet released.
    outstanding: u64,
    /// The segment held damaged bytes before its last valid entry.
    damaged: bool,
}

/// A segment that may now be removed from disk.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Retired {
    pub(crate) number: u64,
    pub(crate) size: u64,
    pub(crate) damaged: bool,
}

/// Every segment on disk and which one receives appends.
#[derive(Debug, Default)]
pub(crate) struct SegmentTable {
    segments: BTreeMap<u64, Segment>,
    active: Option<u64>,
}

impl SegmentTable {
    /// Registers a segment found at open with its valid size and entries.
    pub(crate) fn add_existing(&mut self, number: u64, size: u64, entries: u64, damaged: bool) {
        self.segments.insert(
            number,
            Segment {
                size,
                outstanding: entries,
                damaged,
            },
        );
    }

    /// Makes a new, empty segment the active one and returns the previous
    /// active segment if nothing in it is still needed.
    pub(crate) fn activate(&mut self, number: u64) -> Option<Retired> {
        self.segments.insert(
            number,
            Segment {
                size: 0,
                outstanding: 0,
                damaged: false,
            },
        );
        let previous = self.active.replace(number);
        previous.and_then(|old| self.retire_if_done(old))
    }

    /// Size of the active segment in bytes.
    pub(crate) fn active_size(&self) -> u64 {
        self.active
            .and_then(|number| self.segments.get(&number))
            .map_or(0, |segment| segment.size)
    }

    /// Records an entry of `len` bytes appended to the active segment.
    pub(crate) fn appended(&mut self, len: u64) {
        let active = self.active.expect("an active segment exists while writing");
        let segment = self
            .segments
            .get_mut(&active)
            .expect("active segment is registered");
        segment.size += len;
        segment.outstanding += 1;
    }

    /// Ends appends to the active segment, at close, and returns it if
    /// nothing in it is still needed.
    pub(crate) fn deactivate(&mut self) -> Option<Retired> {
        let active = self.active.take()?;
        self.retire_if_done(active)
    }

    /// Marks one entry of segment `number` as no longer needed and returns
    /// the segment if it may now be deleted.
    pub(crate) fn release(&mut self, number: u64) -> Option<Retired> {
        let segment = self.segments.get_mut(&number)?;
        segment.outstanding = segment.outstanding.saturating_sub(1);
        self.retire_if_done(number)
    }

    /// Removes and returns every inactive segment with no outstanding
    /// entries. Used once after replay.
    pub(crate) fn take_idle(&mut self) -> Vec<Retired> {
        let idle: Vec<u64> = self
            .segments
            .iter()
            .filter(|(number, segment)| Some(**number) != self.active && segment.outstanding == 0)
            .map(|(number, _)| *number)
            .collect();
        idle.into_iter()
            .filter_map(|n| self.retire_if_done(n))
            .collect()
    }

    /// Returns the oldest segment that still has outstanding entries.
    pub(crate) fn oldest_outstanding(&self) -> Option<u64> {
        self.segments
            .iter()
            .find(|(_, segment)| segment.outstanding > 0)
            .map(|(number, _)| *number)
    }

    /// Number of segment files currently on disk.
    pub(crate) fn len(&self) -> usize {
        self.segments.len()
    }

    fn retire_if_done(&mut self, number: u64) -> Option<Retired> {
        if Some(number) == self.active {
            return None;
        }
        let segment = self.segments.get(&number)?;
        if segment.outstanding > 0 {
            return None;
        }
        let segment = self.segments.remove(&number)?;
        Some(Retired {
            number,
            size: segment.size,
            damaged: segment.damaged,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_round_trip() {
        let path = segment_path(Path::new("/j"), 42);
        let name = path.file_name().unwrap().to_str().unwrap();
        assert_eq!(name, "00000000000000000042.seg");
        assert_eq!(segment_number(name), Some(42));
        assert_eq!(segment_number("42.seg"), None);
        assert_eq!(segment_number("00000000000000000042.damaged"), None);
    }

    #[test]
    fn segment_retires_after_last_release_once_inactive() {
        let mut table = SegmentTable::default();
        assert_eq!(table.activate(1), None);
        table.appended(100);
        table.appended(50);

        assert_eq!(table.release(1), None, "one entry still outstanding");
        assert_eq!(
            table.release(1),
            None,
            "the active segment is never retired"
        );

        let retired = table.activate(2).expect("old segment is idle");
        assert_eq!(
            retired,
            Retired {
                number: 1,
                size: 150,
                damaged: false
            }
        );
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn replayed_segments_retire_when_released() {
        let mut table = SegmentTable::default();
        table.add_existing(3, 500, 2, true);
        table.add_existing(4, 10, 0, false);
        table.activate(5);

        let idle = table.take_idle();
        assert_eq!(
            idle,
            vec![Retired {
                number: 4,
                size: 10,
                damaged: false
            }]
        );
        assert_eq!(table.oldest_outstanding(), Some(3));
        assert_eq!(table.release(3), None);
        assert_eq!(
            table.release(3),
            Some(Retired {
                number: 3,
                size: 500,
                damaged: true
            })
        );
        assert_eq!(table.oldest_outstanding(), None);
    }
}
