//! Messages that are durable in the journal but not yet in storage, and
//! the idempotency keys seen so far.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::journal::JournalPos;
use crate::{ArchiveId, EntryInfo};

/// Journal positions of messages not yet moved into storage, by id.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    map: Mutex<HashMap<ArchiveId, (JournalPos, EntryInfo)>>,
}

impl Pending {
    /// Adds a message; returns false if the id was already pending.
    pub(crate) fn insert(&self, pos: JournalPos, info: &EntryInfo) -> bool {
        let mut map = self.map.lock().expect("pending lock");
        match map.entry(info.id) {
            Entry::Occupied(_) => false,
            Entry::Vacant(slot) => {
                slot.insert((pos, info.clone()));
                true
            }
        }
    }

    pub(crate) fn position(&self, id: &ArchiveId) -> Option<JournalPos> {
        self.map
            .lock()
            .expect("pending lock")
            .get(id)
            .map(|(pos, _)| *pos)
    }

    pub(crate) fn info(&self, id: &ArchiveId) -> Option<EntryInfo> {
        let map = self.map.lock().expect("pending lock");
        map.get(id).map(|(_, info)| info.clone())
    }

    pub(crate) fn contains(&self, id: &ArchiveId) -> bool {
        self.map.lock().expect("pending lock").contains_key(id)
    }

    pub(crate) fn remove(&self, id: &ArchiveId) {
        self.map.lock().expect("pending lock").remove(id);
    }

    pub(crate) fn len(&self) -> usize {
        self.map.lock().expect("pending lock").len()
    }

    /// Facts about every pending message.
    pub(crate) fn infos(&self) -> Vec<EntryInfo> {
        let map = self.map.lock().expect("pending lock");
        map.values().map(|(_, info)| info.clone()).collect()
    }
}

enum KeyState {
    /// A message with this key is durable.
    Known(ArchiveId),
    /// A `record` with this key is in progress; others wait for it.
    InFlight(Arc<Notify>),
}

/// Idempotency keys and the message each one recorded.
#[derive(Default)]
pub(crate) struct KeyRegistry {
    map: Mutex<HashMap<String, KeyState>>,
}

/// The outcome of claiming a key.
pub(crate) enum Claim<'a> {
    /// The key was recorded before, as this message.
    Known(ArchiveId),
    /// The caller owns the key until the guard completes or drops.
    Claimed(KeyGuard<'a>),
}

impl KeyRegistry {
    /// Registers a key found in storage or the journal at open.
    pub(crate) fn insert_known(&self, key: String, id: ArchiveId) {
        self.map
            .lock()
            .expect("key registry lock")
            .entry(key)
            .or_insert(KeyState::Known(id));
    }

    /// Returns the id of the message recorded with `key`, or `None` when no
    /// message has it yet. A key whose `record` call is still in progress is
    /// not archived yet, so it returns `None`.
    pub(crate) fn known(&self, key: &str) -> Option<ArchiveId> {
        match self.map.lock().expect("key registry lock").get(key) {
            Some(KeyState::Known(id)) => Some(*id),
            Some(KeyState::InFlight(_)) | None => None,
        }
    }

    /// Claims `key` for one `record` call, waiting while another call that
    /// owns it finishes.
    pub(crate) async fn claim<'a>(&'a self, key: &str) -> Claim<'a> {
        loop {
            let notify = {
                let mut map = self.map.lock().expect("key registry lock");
                match map.get(key) {
                    Some(KeyState::Known(id)) => return Claim::Known(*id),
                    Some(KeyState::InFlight(notify)) => notify.clone(),
                    None => {
                        map.insert(key.to_owned(), KeyState::InFlight(Arc::new(Notify::new())));
                        return Claim::Claimed(KeyGuard {
                            registry: self,
                            key: key.to_owned(),
                            recorded: None,
                        });
                    }
                }
            };
            let waiting = notify.notified();
            tokio::pin!(waiting);
            waiting.as_mut().enable();
            // The holder may have finished between the lookup and enable.
            if !matches!(
                self.map.lock().expect("key registry lock").get(key),
                Some(KeyState::InFlight(_))
            ) {
                continue;
            }
            waiting.await;
        }
    }
}

/// Ownership of an idempotency key during one `record` call. Dropping it
/// without [`KeyGuard::complete`] frees the key for the next caller.
pub(crate) struct KeyGuard<'a> {
    registry: &'a KeyRegistry,
    key: String,
    recorded: Option<ArchiveId>,
}

impl KeyGuard<'_> {
    /// Marks the key as recorded by message `id`.
    pub(crate) fn complete(mut self, id: ArchiveId) {
        self.recorded = Some(id);
    }
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        let mut map = self.registry.map.lock().expect("key registry lock");
        let previous = match self.recorded {
            Some(id) => map.insert(self.key.clone(), KeyState::Known(id)),
            None => map.remove(&self.key),
        };
        if let Some(KeyState::InFlight(notify)) = previous {
            notify.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn second_claim_waits_for_first_and_sees_its_id() {
        let registry = Arc::new(KeyRegistry::default());
        let id = ArchiveId::of(b"first");

        let Claim::Claimed(guard) = registry.claim("order-1").await else {
            panic!("a new key is claimed");
        };
        let waiter = {
            let registry = registry.clone();
            tokio::spawn(async move {
                match registry.claim("order-1").await {
                    Claim::Known(found) => found,
                    Claim::Claimed(_) => panic!("the key was recorded by the first call"),
                }
            })
        };
        tokio::task::yield_now().await;
        guard.complete(id);
        assert_eq!(waiter.await.unwrap(), id);
    }

    #[tokio::test]
    async fn known_skips_keys_in_flight() {
        let registry = KeyRegistry::default();
        let id = ArchiveId::of(b"stored");
        registry.insert_known("order-1".into(), id);
        assert_eq!(registry.known("order-1"), Some(id));
        assert_eq!(registry.known("order-2"), None);

        let Claim::Claimed(guard) = registry.claim("order-2").await else {
            panic!("a new key is claimed");
        };
        assert_eq!(registry.known("order-2"), None, "in flight");
        guard.complete(id);
        assert_eq!(registry.known("order-2"), Some(id));
    }

    #[tokio::test]
    async fn dropped_claim_frees_the_key() {
        let registry = KeyRegistry::default();
        match registry.claim("k").await {
            Claim::Claimed(guard) => drop(guard),
            Claim::Known(_) => panic!("new key"),
        }
        assert!(matches!(registry.claim("k").await, Claim::Claimed(_)));
    }
}
