//! The in-memory catalog: the pack and offset of every stored id, the packs
//! of every partition in store order, and the damage found so far.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use archive_core::pack::FooterEntry;
use archive_core::{ArchiveId, Damage, ListedEntry, Location, Partition};

/// A pack file on disk and the footer rows that the catalog serves from it.
#[derive(Debug)]
pub(crate) struct PackFile {
    /// Path of the pack file.
    pub(crate) path: PathBuf,
    /// The path as text, as `Location::pack` carries it.
    pub(crate) display: String,
    /// Footer rows in footer order, without ids that an older pack serves.
    pub(crate) rows: Vec<FooterEntry>,
}

impl PackFile {
    /// Returns where `row` sits, for listings and error messages.
    pub(crate) fn location(&self, row: &FooterEntry) -> Location {
        Location {
            pack: self.display.clone(),
            offset: row.offset,
            length: u64::from(row.length),
        }
    }
}

/// One stored id: its pack and the index of its row there.
#[derive(Debug, Clone)]
pub(crate) struct EntryRef {
    /// The pack that serves the id.
    pub(crate) pack: Arc<PackFile>,
    row: u32,
}

impl EntryRef {
    /// Returns the footer row of the id.
    pub(crate) fn row(&self) -> &FooterEntry {
        &self.pack.rows[self.row as usize]
    }
}

/// The packs on disk that `FsStorage` serves, by id and by partition, plus
/// the ids that puts in progress have reserved.
///
/// NOTE: every `EntryInfo` stays in memory, about 300 bytes per entry with
/// a 48-byte Message-ID (BENCHMARKS.md), so 10 million entries need about
/// 3 GB. Reading facts from the footer on demand would cut that.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    ids: HashMap<ArchiveId, EntryRef>,
    partitions: BTreeMap<Partition, BTreeMap<u64, Arc<PackFile>>>,
    damage: Vec<(PathBuf, Damage)>,
    reserved: HashSet<ArchiveId>,
    next_seq: u64,
}

impl Catalog {
    /// Creates an empty catalog whose next pack gets sequence `next_seq`.
    pub(crate) fn new(next_seq: u64) -> Catalog {
        Catalog {
            next_seq,
            ..Catalog::default()
        }
    }

    /// Adds a pack of `partition` and returns how many of its rows it
    /// serves. Rows whose id is already stored, or repeated in the pack,
    /// are left out, so the first pack added wins.
    pub(crate) fn add_pack(
        &mut self,
        partition: &Partition,
        seq: u64,
        path: PathBuf,
        rows: Vec<FooterEntry>,
    ) -> usize {
        let mut seen = HashSet::with_capacity(rows.len());
        let rows: Vec<FooterEntry> = rows
            .into_iter()
            .filter(|row| !self.ids.contains_key(&row.info.id) && seen.insert(row.info.id))
            .collect();
        if rows.is_empty() {
            return 0;
        }

        let pack = Arc::new(PackFile {
            display: path.display().to_string(),
            path,
            rows,
        });
        for (index, row) in pack.rows.iter().enumerate() {
            let entry = EntryRef {
                pack: pack.clone(),
                row: u32::try_from(index).expect("a footer holds fewer than 2^32 rows"),
            };
            self.ids.insert(row.info.id, entry);
        }
        let served = pack.rows.len();
        self.partitions
            .entry(partition.clone())
            .or_default()
            .insert(seq, pack);
        served
    }

    /// Returns true if `id` is stored.
    pub(crate) fn contains(&self, id: &ArchiveId) -> bool {
        self.ids.contains_key(id)
    }

    /// Returns the pack and row of `id`.
    pub(crate) fn lookup(&self, id: &ArchiveId) -> Option<EntryRef> {
        self.ids.get(id).cloned()
    }

    /// Returns the partitions that hold at least one entry, sorted.
    pub(crate) fn partitions(&self) -> Vec<Partition> {
        self.partitions.keys().cloned().collect()
    }

    /// Lists the entries of `partition` by pack sequence, then footer order.
    pub(crate) fn list(&self, partition: &Partition) -> Vec<ListedEntry> {
        let Some(packs) = self.partitions.get(partition) else {
            return Vec::new();
        };
        let mut listed = Vec::with_capacity(packs.values().map(|pack| pack.rows.len()).sum());
        for pack in packs.values() {
            for row in &pack.rows {
                listed.push(ListedEntry {
                    info: row.info.clone(),
                    location: pack.location(row),
                });
            }
        }
        listed
    }

    /// Removes `partition` and returns how many entries it held.
    pub(crate) fn remove_partition(&mut self, partition: &Partition) -> u64 {
        let Some(packs) = self.partitions.remove(partition) else {
            return 0;
        };
        let mut removed = 0;
        for pack in packs.values() {
            for row in &pack.rows {
                self.ids.remove(&row.info.id);
                removed += 1;
            }
        }
        removed
    }

    /// Returns true if a put in progress has reserved `id`.
    pub(crate) fn is_reserved(&self, id: &ArchiveId) -> bool {
        self.reserved.contains(id)
    }

    /// Reserves `ids` for a put in progress.
    pub(crate) fn reserve(&mut self, ids: &[ArchiveId]) {
        self.reserved.extend(ids.iter().copied());
    }

    /// Releases ids reserved by [`Catalog::reserve`].
    pub(crate) fn release(&mut self, ids: &[ArchiveId]) {
        for id in ids {
            self.reserved.remove(id);
        }
    }

    /// Returns a new sequence number, greater than every one used before.
    pub(crate) fn allocate_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Records damage found at `path`, once per location.
    pub(crate) fn record_damage(&mut self, path: &Path, damage: Damage) {
        if self
            .damage
            .iter()
            .all(|(_, known)| known.location != damage.location)
        {
            self.damage.push((path.to_path_buf(), damage));
        }
    }

    /// Forgets damage in files under `dir`, after the directory was deleted.
    pub(crate) fn forget_damage_under(&mut self, dir: &Path) {
        self.damage.retain(|(path, _)| !path.starts_with(dir));
    }

    /// Returns the damage recorded so far.
    pub(crate) fn damage(&self) -> Vec<Damage> {
        self.damage
            .iter()
            .map(|(_, damage)| damage.clone())
            .collect()
    }

    /// Returns the number of stored entries.
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use archive_core::testing::storage::{entries, partition};

    fn rows(tag: &str, count: usize) -> Vec<FooterEntry> {
        let (_, rows) = archive_core::pack::encode(&entries(tag, count));
        rows
    }

    #[test]
    fn first_pack_wins_for_shared_ids() {
        let day = partition("default", 4);
        let mut catalog = Catalog::new(1);
        let first = rows("a", 3);
        assert_eq!(
            catalog.add_pack(&day, 1, PathBuf::from("/p/1"), first.clone()),
            3
        );
        assert_eq!(
            catalog.add_pack(&day, 2, PathBuf::from("/p/2"), first[1..].to_vec()),
            0
        );

        let listed = catalog.list(&day);
        assert_eq!(listed.len(), 3, "each id listed once");
        assert!(listed.iter().all(|entry| entry.location.pack == "/p/1"));
    }

    #[test]
    fn list_follows_sequence_not_insertion() {
        let day = partition("default", 4);
        let mut catalog = Catalog::new(1);
        let later = rows("later", 1);
        let earlier = rows("earlier", 1);
        catalog.add_pack(&day, 9, PathBuf::from("/p/9"), later.clone());
        catalog.add_pack(&day, 3, PathBuf::from("/p/3"), earlier.clone());

        let ids: Vec<ArchiveId> = catalog.list(&day).iter().map(|e| e.info.id).collect();
        assert_eq!(ids, vec![earlier[0].info.id, later[0].info.id]);
    }

    #[test]
    fn remove_partition_counts_entries() {
        let day = partition("default", 4);
        let other = partition("default", 5);
        let mut catalog = Catalog::new(1);
        catalog.add_pack(&day, 1, PathBuf::from("/p/1"), rows("a", 2));
        catalog.add_pack(&day, 2, PathBuf::from("/p/2"), rows("b", 3));
        catalog.add_pack(&other, 3, PathBuf::from("/p/3"), rows("c", 1));

        assert_eq!(catalog.remove_partition(&day), 5);
        assert_eq!(catalog.len(), 1);
        assert_eq!(catalog.partitions(), vec![other]);
        assert_eq!(catalog.remove_partition(&day), 0);
    }

    #[test]
    fn damage_is_recorded_once_and_forgotten_by_directory() {
        let mut catalog = Catalog::new(1);
        let damage = Damage {
            location: "/p/d/1.pack".into(),
            reason: "footer checksum mismatch".into(),
        };
        catalog.record_damage(Path::new("/p/d/1.pack"), damage.clone());
        catalog.record_damage(Path::new("/p/d/1.pack"), damage.clone());
        assert_eq!(catalog.damage(), vec![damage]);

        catalog.forget_damage_under(Path::new("/p/d"));
        assert!(catalog.damage().is_empty());
    }
}
