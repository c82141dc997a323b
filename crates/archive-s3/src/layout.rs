//! Object keys under the archive prefix, and parsing them back.
//!
//! ```text
//! <prefix>/packs/<class>/<YYYY-MM-DD>/<seq>-<name>     one pack
//! <prefix>/dictionaries/<seq>-<id>.zdict               one dictionary
//! ```
//!
//! A pack's `<seq>` is 20 decimal digits, so the lexicographic order of keys
//! (the order of an S3 LIST) is the numeric order. `<name>` is
//! [`archive_core::pack::name`]. A dictionary's `<seq>` has 12 digits and
//! its `<id>` 10.

use archive_core::Partition;
use archive_core::pack::EXTENSION;
use chrono::NaiveDate;
use object_store::path::Path;

const PACKS: &str = "packs";
const DICTIONARIES: &str = "dictionaries";
const DICTIONARY_EXTENSION: &str = "zdict";
const DAY_FORMAT: &str = "%Y-%m-%d";
/// Digits of a pack sequence number: enough for every `u64`.
const PACK_SEQ_DIGITS: usize = 20;

/// A pack key taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PackKey {
    /// The partition the pack belongs to.
    pub(crate) partition: Partition,
    /// The sequence number that orders packs in store order.
    pub(crate) seq: u64,
    /// The content-derived name, such as `<32 hex digits>.pack`.
    pub(crate) name: String,
}

/// The keys of one archive: everything lives below `root`.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    root: Path,
}

impl Layout {
    /// Creates the layout below `root`, which may be empty (the bucket root).
    pub(crate) fn new(root: Path) -> Layout {
        Layout { root }
    }

    /// Returns the archive prefix.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// Returns the prefix that contains every pack.
    pub(crate) fn packs(&self) -> Path {
        self.root.clone().join(PACKS)
    }

    /// Returns the prefix that contains every dictionary.
    pub(crate) fn dictionaries(&self) -> Path {
        self.root.clone().join(DICTIONARIES)
    }

    /// Returns the prefix of one partition's packs.
    pub(crate) fn partition(&self, partition: &Partition) -> Path {
        self.packs()
            .join(partition.class())
            .join(day_name(partition.day()))
    }

    /// Returns the key of pack `seq` named `name` in `partition`.
    pub(crate) fn pack(&self, partition: &Partition, seq: u64, name: &str) -> Path {
        self.partition(partition)
            .join(format!("{seq:0PACK_SEQ_DIGITS$}-{name}"))
    }

    /// Returns the key of dictionary `id`, stored as the `seq`-th one.
    pub(crate) fn dictionary(&self, seq: u64, id: u32) -> Path {
        self.dictionaries()
            .join(format!("{seq:012}-{id:010}.{DICTIONARY_EXTENSION}"))
    }

    /// Parses a key listed under [`Layout::packs`]. Returns `None` for keys
    /// this crate does not write.
    pub(crate) fn parse_pack(&self, key: &Path) -> Option<PackKey> {
        let parts: Vec<String> = key
            .prefix_match(&self.packs())?
            .map(|part| part.as_ref().to_owned())
            .collect();
        let [class, day, file] = parts.as_slice() else {
            return None;
        };
        let day = parse_day(day)?;
        let partition = Partition::new(class, day).ok()?;
        let (seq, name) = file.split_once('-')?;
        let stem = name.strip_suffix(EXTENSION)?.strip_suffix('.')?;
        if seq.len() != PACK_SEQ_DIGITS || stem.is_empty() {
            return None;
        }
        Some(PackKey {
            partition,
            seq: parse_digits(seq)?,
            name: name.to_owned(),
        })
    }

    /// Parses a key listed under [`Layout::dictionaries`] into its sequence
    /// number and dictionary id.
    pub(crate) fn parse_dictionary(&self, key: &Path) -> Option<(u64, u32)> {
        let parts: Vec<String> = key
            .prefix_match(&self.dictionaries())?
            .map(|part| part.as_ref().to_owned())
            .collect();
        let [file] = parts.as_slice() else {
            return None;
        };
        let stem = file.strip_suffix(DICTIONARY_EXTENSION)?.strip_suffix('.')?;
        let (seq, id) = stem.split_once('-')?;
        Some((parse_digits(seq)?, u32::try_from(parse_digits(id)?).ok()?))
    }
}

fn day_name(day: NaiveDate) -> String {
    day.format(DAY_FORMAT).to_string()
}

/// Parses a day, accepting only the exact form [`day_name`] writes.
fn parse_day(text: &str) -> Option<NaiveDate> {
    let day = NaiveDate::parse_from_str(text, DAY_FORMAT).ok()?;
    (day_name(day) == text).then_some(day)
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

    fn day(d: u32) -> Partition {
        Partition::new("default", NaiveDate::from_ymd_opt(2026, 12, d).unwrap()).unwrap()
    }

    fn layout() -> Layout {
        Layout::new(Path::from("shop/archive"))
    }

    #[test]
    fn pack_key_layout() {
        let key = layout().pack(&day(4), 1_764_840_000_123, "ab12.pack");
        assert_eq!(
            key.as_ref(),
            "shop/archive/packs/default/2026-12-04/00000001764840000123-ab12.pack"
        );
    }

    #[test]
    fn pack_key_round_trips() {
        let key = layout().pack(&day(4), 42, "ab12.pack");
        let parsed = layout().parse_pack(&key).unwrap();
        assert_eq!(parsed.partition, day(4));
        assert_eq!(parsed.seq, 42);
        assert_eq!(parsed.name, "ab12.pack");
    }

    #[test]
    fn largest_sequence_round_trips() {
        let key = layout().pack(&day(4), u64::MAX, "ab.pack");
        assert_eq!(layout().parse_pack(&key).unwrap().seq, u64::MAX);
    }

    #[test]
    fn key_order_is_sequence_order() {
        let low = layout().pack(&day(4), 9, "ff.pack");
        let high = layout().pack(&day(4), 10, "00.pack");
        assert!(low.as_ref() < high.as_ref());
    }

    #[test]
    fn bucket_root_layout() {
        let root = Layout::new(Path::default());
        let key = root.pack(&day(4), 1, "ab.pack");
        assert_eq!(
            key.as_ref(),
            "packs/default/2026-12-04/00000000000000000001-ab.pack"
        );
        assert_eq!(root.parse_pack(&key).unwrap().seq, 1);
        assert_eq!(
            root.dictionary(1, 7).as_ref(),
            "dictionaries/000000000001-0000000007.zdict"
        );
    }

    #[test]
    fn foreign_keys_are_not_packs() {
        let layout = layout();
        for key in [
            "shop/archive/packs/default/2026-12-04/notes.txt",
            "shop/archive/packs/default/2026-12-4/00000000000000000001-ab.pack",
            "shop/archive/packs/default/2026-12-04/1-ab.pack",
            "shop/archive/packs/default/2026-12-04/00000000000000000001-.pack",
            "shop/archive/packs/default/2026-12-04/0000000000000000000x-ab.pack",
            "shop/archive/packs/default/00000000000000000001-ab.pack",
            "shop/archive/packs/Bad Class/2026-12-04/00000000000000000001-ab.pack",
            "shop/other/packs/default/2026-12-04/00000000000000000001-ab.pack",
        ] {
            assert_eq!(layout.parse_pack(&Path::from(key)), None, "{key}");
        }
    }

    #[test]
    fn dictionary_keys_round_trip() {
        let layout = layout();
        let key = layout.dictionary(3, 4242);
        assert_eq!(
            key.as_ref(),
            "shop/archive/dictionaries/000000000003-0000004242.zdict"
        );
        assert_eq!(layout.parse_dictionary(&key), Some((3, 4242)));
        for key in [
            "shop/archive/dictionaries/junk.zdict",
            "shop/archive/dictionaries/3-99999999999.zdict",
            "shop/archive/dictionaries/x/000000000003-0000004242.zdict",
        ] {
            assert_eq!(layout.parse_dictionary(&Path::from(key)), None, "{key}");
        }
    }

    #[test]
    fn partition_prefix_contains_its_packs_only() {
        let layout = layout();
        let key = layout.pack(&day(4), 1, "ab.pack");
        assert!(key.prefix_matches(&layout.partition(&day(4))));
        assert!(!key.prefix_matches(&layout.partition(&day(5))));
    }
}
