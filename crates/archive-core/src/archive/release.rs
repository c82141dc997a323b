//! Releasing journal entries once every consumer has committed them.
//!
//! A journal entry is needed until storage holds the message and, when the
//! archive has a search index, until the index has committed it too. Each
//! consumer reports when it is done; the last report releases the entry.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::journal::{Journal, JournalPos};

/// Which consumer finished with an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Consumer {
    Storage,
    Index,
}

/// Entries still needed by at least one consumer.
#[derive(Debug)]
pub(crate) struct Releases {
    has_index: bool,
    /// For each entry, whether storage and index are still to report.
    waiting: Mutex<HashMap<JournalPos, (bool, bool)>>,
}

impl Releases {
    pub(crate) fn new(has_index: bool) -> Releases {
        Releases {
            has_index,
            waiting: Mutex::new(HashMap::new()),
        }
    }

    /// Registers an entry that every consumer must still report.
    pub(crate) fn register(&self, pos: JournalPos) {
        let state = (true, self.has_index);
        self.waiting
            .lock()
            .expect("release lock")
            .insert(pos, state);
    }

    /// Records that `consumer` is done with `pos`, releasing the entry from
    /// the journal when no consumer needs it any more.
    pub(crate) fn done(&self, journal: &Journal, pos: JournalPos, consumer: Consumer) {
        let release = {
            let mut waiting = self.waiting.lock().expect("release lock");
            let Some(state) = waiting.get_mut(&pos) else {
                return;
            };
            match consumer {
                Consumer::Storage => state.0 = false,
                Consumer::Index => state.1 = false,
            }
            let finished = !state.0 && !state.1;
            if finished {
                waiting.remove(&pos);
            }
            finished
        };
        if release {
            journal.release(pos);
        }
    }
}
