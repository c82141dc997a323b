//! An in-memory `Storage`, for tests and for trying the library out.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use bytes::Bytes;

use super::{ListedEntry, Location, PutOutcome, Storage, StorageError};
use crate::{ArchiveId, PackEntry, Partition};

/// Keeps every message in memory; nothing survives the process.
///
/// Each `put` becomes one numbered "pack", so listings and locations look
/// like those of a real backend.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Entries per partition, in the order stored.
    partitions: BTreeMap<Partition, Vec<ListedEntry>>,
    /// Every stored message by id, with its partition.
    entries: HashMap<ArchiveId, (Partition, PackEntry)>,
    /// Number of packs written so far.
    packs: u64,
    /// Compression dictionaries in the order stored.
    dictionaries: Vec<(u32, Bytes)>,
}

impl MemoryStorage {
    /// Creates an empty storage.
    pub fn new() -> MemoryStorage {
        MemoryStorage::default()
    }
}

#[async_trait]
impl Storage for MemoryStorage {
    async fn put(
        &self,
        partition: &Partition,
        entries: Vec<PackEntry>,
    ) -> Result<PutOutcome, StorageError> {
        let mut state = self.state.lock().expect("memory storage lock");

        let mut outcome = PutOutcome::default();
        let pack = format!("memory:{partition}/pack-{}", state.packs + 1);
        let mut offset = 0;
        for entry in entries {
            if state.entries.contains_key(&entry.info.id) {
                outcome.skipped += 1;
                continue;
            }
            let length = entry.frame.len() as u64;
            let listed = ListedEntry {
                info: entry.info.clone(),
                location: Location {
                    pack: pack.clone(),
                    offset,
                    length,
                },
            };
            offset += length;
            state
                .partitions
                .entry(partition.clone())
                .or_default()
                .push(listed);
            state
                .entries
                .insert(entry.info.id, (partition.clone(), entry));
            outcome.stored += 1;
        }

        if outcome.stored > 0 {
            state.packs += 1;
            outcome.pack = Some(pack);
        }
        Ok(outcome)
    }

    async fn get(&self, id: &ArchiveId) -> Result<PackEntry, StorageError> {
        let state = self.state.lock().expect("memory storage lock");
        state
            .entries
            .get(id)
            .map(|(_, entry)| entry.clone())
            .ok_or(StorageError::NotFound { id: *id })
    }

    async fn contains(&self, id: &ArchiveId) -> Result<bool, StorageError> {
        let state = self.state.lock().expect("memory storage lock");
        Ok(state.entries.contains_key(id))
    }

    async fn partitions(&self) -> Result<Vec<Partition>, StorageError> {
        let state = self.state.lock().expect("memory storage lock");
        Ok(state.partitions.keys().cloned().collect())
    }

    async fn list(&self, partition: &Partition) -> Result<Vec<ListedEntry>, StorageError> {
        let state = self.state.lock().expect("memory storage lock");
        Ok(state.partitions.get(partition).cloned().unwrap_or_default())
    }

    async fn delete_partition(&self, partition: &Partition) -> Result<u64, StorageError> {
        let mut state = self.state.lock().expect("memory storage lock");
        let removed = state.partitions.remove(partition).unwrap_or_default();
        for listed in &removed {
            state.entries.remove(&listed.info.id);
        }
        Ok(removed.len() as u64)
    }

    async fn put_dictionary(&self, id: u32, bytes: Bytes) -> Result<(), StorageError> {
        let mut state = self.state.lock().expect("memory storage lock");
        match state.dictionaries.iter().find(|(known, _)| *known == id) {
            Some((_, existing)) if *existing == bytes => Ok(()),
            Some(_) => Err(StorageError::InvalidInput {
                reason: format!("dictionary {id} is already stored with other bytes"),
            }),
            None => {
                state.dictionaries.push((id, bytes));
                Ok(())
            }
        }
    }

    async fn get_dictionary(&self, id: u32) -> Result<Bytes, StorageError> {
        let state = self.state.lock().expect("memory storage lock");
        state
            .dictionaries
            .iter()
            .find(|(known, _)| *known == id)
            .map(|(_, bytes)| bytes.clone())
            .ok_or(StorageError::DictionaryNotFound { id })
    }

    async fn dictionaries(&self) -> Result<Vec<u32>, StorageError> {
        let state = self.state.lock().expect("memory storage lock");
        Ok(state.dictionaries.iter().map(|(id, _)| *id).collect())
    }
}
