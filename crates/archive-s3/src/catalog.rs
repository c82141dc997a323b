//! The in-memory index of the bucket: which pack and footer row serve each
//! id, the packs of each partition in sequence order, the ids that puts in
//! progress have reserved, and the damage found.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use archive_core::pack::FooterEntry;
use archive_core::{ArchiveId, Damage, ListedEntry, Location, Partition};
use object_store::path::Path;

/// One pack object and the footer rows the catalog serves from it.
#[derive(Debug)]
pub(crate) struct PackObject {
    /// The partition of the pack.
    pub(crate) partition: Partition,
    /// The object key.
    pub(crate) key: Path,
    /// The key as `Location::pack` and messages show it: `s3://bucket/key`.
    pub(crate) display: String,
    /// Footer rows in footer order, without ids that an older pack serves.
    pub(crate) rows: Vec<FooterEntry>,
}

impl PackObject {
    /// Returns where `row` sits.
    pub(crate) fn location(&self, row: &FooterEntry) -> Location {
        Location {
            pack: self.display.clone(),
            offset: row.offset,
            length: u64::from(row.length),
        }
    }
}

/// One stored id: its pack and the index of its footer row.
#[derive(Debug, Clone)]
pub(crate) struct EntryRef {
    /// The pack that serves the id.
    pub(crate) pack: Arc<PackObject>,
    row: u32,
}

impl EntryRef {
    /// Returns the footer row of the id.
    pub(crate) fn row(&self) -> &FooterEntry {
        &self.pack.rows[self.row as usize]
    }
}

/// The index of every readable pack.
///
/// NOTE: every `EntryInfo` stays in memory, as in archive-fs (about 300
/// bytes per entry, BENCHMARKS.md), so 10 million entries need about 3 GB.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    ids: HashMap<ArchiveId, EntryRef>,
    partitions: BTreeMap<Partition, BTreeMap<u64, Arc<PackObject>>>,
    reserved: HashSet<ArchiveId>,
    damage: Vec<(Partition, Damage)>,
}

impl Catalog {
    /// Adds pack `seq` of `partition` and returns how many rows it serves.
    /// Rows whose id is stored already, or repeated in the pack, are left
    /// out, so the pack added first serves an id.
    pub(crate) fn add_pack(
        &mut self,
        partition: &Partition,
        seq: u64,
        key: Path,
        display: String,
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

        let pack = Arc::new(PackObject {
            partition: partition.clone(),
            key,
            display,
            rows,
        });
        for (index, row) in pack.rows.iter().enumerate() {
            let entry = EntryRef {
                pack: pack.clone(),
                row: u32::try_from(index).expect("a footer has fewer than 2^32 rows"),
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
        packs
            .values()
            .flat_map(|pack| {
                pack.rows.iter().map(|row| ListedEntry {
                    info: row.info.clone(),
                    location: pack.location(row),
                })
            })
            .collect()
    }

    /// Removes the pack at `key` of `partition` and returns how many
    /// entries it served.
    pub(crate) fn remove_pack(&mut self, partition: &Partition, key: &Path) -> u64 {
        let Some(packs) = self.partitions.get_mut(partition) else {
            return 0;
        };
        let Some(seq) = packs
            .iter()
            .find(|(_, pack)| &pack.key == key)
            .map(|(seq, _)| *seq)
        else {
            return 0;
        };
        let pack = packs.remove(&seq).expect("sequence found above");
        if packs.is_empty() {
            self.partitions.remove(partition);
        }
        for row in &pack.rows {
            self.ids.remove(&row.info.id);
        }
        pack.rows.len() as u64
    }

    /// Removes every pack of `partition` and returns how many entries they
    /// served.
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

    /// Records damage in `partition`, once per location.
    pub(crate) fn record_damage(&mut self, partition: &Partition, damage: Damage) {
        if self
            .damage
            .iter()
            .all(|(_, known)| known.location != damage.location)
        {
            self.damage.push((partition.clone(), damage));
        }
    }

    /// Forgets the damage recorded in `partition`, after it was deleted.
    pub(crate) fn forget_damage_in(&mut self, partition: &Partition) {
        self.damage.retain(|(known, _)| known != partition);
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

    /// Returns the number of packs.
    pub(crate) fn pack_count(&self) -> usize {
        self.partitions.values().map(BTreeMap::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use archive_core::testing::storage::{entries, partition};

    fn rows(tag: &str, count: usize) -> Vec<FooterEntry> {
        archive_core::pack::encode(&entries(tag, count)).1
    }

    fn add(catalog: &mut Catalog, day: &Partition, seq: u64, rows: Vec<FooterEntry>) -> usize {
        let key = Path::from(format!("p/{seq}.pack"));
        catalog.add_pack(day, seq, key, format!("s3://b/p/{seq}.pack"), rows)
    }

    #[test]
    fn first_pack_serves_shared_ids() {
        let day = partition("default", 4);
        let mut catalog = Catalog::default();
        let first = rows("a", 3);
        assert_eq!(add(&mut catalog, &day, 1, first.clone()), 3);
        assert_eq!(add(&mut catalog, &day, 2, first[1..].to_vec()), 0);

        let listed = catalog.list(&day);
        assert_eq!(listed.len(), 3, "each id listed once");
        assert!(
            listed
                .iter()
                .all(|entry| entry.location.pack == "s3://b/p/1.pack")
        );
        assert_eq!(catalog.pack_count(), 1);
    }

    #[test]
    fn list_follows_sequence() {
        let day = partition("default", 4);
        let mut catalog = Catalog::default();
        let later = rows("later", 1);
        let earlier = rows("earlier", 1);
        add(&mut catalog, &day, 9, later.clone());
        add(&mut catalog, &day, 3, earlier.clone());

        let ids: Vec<ArchiveId> = catalog.list(&day).iter().map(|e| e.info.id).collect();
        assert_eq!(ids, vec![earlier[0].info.id, later[0].info.id]);
    }

    #[test]
    fn remove_pack_forgets_its_ids() {
        let day = partition("default", 4);
        let mut catalog = Catalog::default();
        let batch = rows("a", 2);
        add(&mut catalog, &day, 1, batch.clone());
        add(&mut catalog, &day, 2, rows("b", 3));

        assert_eq!(catalog.remove_pack(&day, &Path::from("p/1.pack")), 2);
        assert!(!catalog.contains(&batch[0].info.id));
        assert_eq!(catalog.len(), 3);
        assert_eq!(catalog.remove_pack(&day, &Path::from("p/1.pack")), 0);
        assert_eq!(catalog.remove_pack(&day, &Path::from("p/2.pack")), 3);
        assert!(
            catalog.partitions().is_empty(),
            "an empty partition is gone"
        );
    }

    #[test]
    fn damage_is_recorded_once_and_forgotten_by_partition() {
        let day = partition("default", 4);
        let mut catalog = Catalog::default();
        let damage = Damage {
            location: "s3://b/p/1.pack".into(),
            reason: "footer checksum mismatch".into(),
        };
        catalog.record_damage(&day, damage.clone());
        catalog.record_damage(&day, damage.clone());
        assert_eq!(catalog.damage(), vec![damage]);

        catalog.forget_damage_in(&partition("default", 5));
        assert_eq!(catalog.damage().len(), 1);
        catalog.forget_damage_in(&day);
        assert!(catalog.damage().is_empty());
    }
}
