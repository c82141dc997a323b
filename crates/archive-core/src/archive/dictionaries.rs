//! The archive's compression dictionaries: which one new messages use, and
//! training the first one from a sample of recorded mail.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;

use crate::{Dictionary, Storage, StorageError};

/// Bytes taken from the start of each sampled message. Headers and the
/// first part of the body are where templates repeat.
const SAMPLE_PREFIX_BYTES: usize = 16 << 10;

/// Dictionaries known to the archive, and the sample being collected
/// while there is none.
pub(crate) struct Dictionaries {
    known: RwLock<HashMap<u32, Dictionary>>,
    current: RwLock<Option<Dictionary>>,
    sampling: AtomicBool,
    samples: Mutex<Vec<Bytes>>,
    sample_target: usize,
    max_len: usize,
}

impl Dictionaries {
    /// Loads every dictionary in storage; the last stored one compresses
    /// new messages. With none stored, sampling starts unless
    /// `sample_target` is 0.
    pub(crate) async fn load(
        storage: &dyn Storage,
        sample_target: usize,
        max_len: usize,
    ) -> Result<Dictionaries, StorageError> {
        let mut known = HashMap::new();
        let mut current = None;
        for id in storage.dictionaries().await? {
            let bytes = storage.get_dictionary(id).await?;
            let dictionary =
                Dictionary::from_bytes(bytes).map_err(|error| StorageError::Corrupt {
                    location: format!("compression dictionary {id}"),
                    reason: error.to_string(),
                })?;
            known.insert(id, dictionary.clone());
            current = Some(dictionary);
        }
        Ok(Dictionaries {
            sampling: AtomicBool::new(current.is_none() && sample_target > 0),
            known: RwLock::new(known),
            current: RwLock::new(current),
            samples: Mutex::new(Vec::new()),
            sample_target,
            max_len,
        })
    }

    /// The dictionary new messages are compressed with.
    pub(crate) fn current(&self) -> Option<Dictionary> {
        self.current.read().expect("dictionary lock").clone()
    }

    /// Returns dictionary `id`, reading it from storage if needed.
    pub(crate) async fn resolve(
        &self,
        storage: &dyn Storage,
        id: u32,
    ) -> Result<Dictionary, StorageError> {
        if let Some(found) = self.known.read().expect("dictionary lock").get(&id) {
            return Ok(found.clone());
        }
        let bytes = storage.get_dictionary(id).await?;
        let dictionary = Dictionary::from_bytes(bytes).map_err(|error| StorageError::Corrupt {
            location: format!("compression dictionary {id}"),
            reason: error.to_string(),
        })?;
        self.known
            .write()
            .expect("dictionary lock")
            .insert(id, dictionary.clone());
        Ok(dictionary)
    }

    /// Adds a recorded message to the training sample. Returns the whole
    /// sample once it is complete; sampling then stops.
    // NOTE: the dictionary is trained once per archive and never retrained,
    // so the ratio drifts down when the shop's templates change.
    pub(crate) fn offer(&self, raw: &Bytes) -> Option<Vec<Bytes>> {
        if !self.sampling.load(Ordering::Relaxed) {
            return None;
        }
        let mut samples = self.samples.lock().expect("sample lock");
        if !self.sampling.load(Ordering::Relaxed) {
            return None;
        }
        samples.push(raw.slice(..raw.len().min(SAMPLE_PREFIX_BYTES)));
        if samples.len() < self.sample_target {
            return None;
        }
        self.sampling.store(false, Ordering::Relaxed);
        Some(std::mem::take(&mut *samples))
    }

    /// Trains a dictionary on `samples`, stores it, and makes it current.
    /// Failures are logged; the archive then goes on without a dictionary.
    pub(crate) async fn train_and_store(
        self: Arc<Self>,
        storage: Arc<dyn Storage>,
        samples: Vec<Bytes>,
    ) {
        let max_len = self.max_len;
        let count = samples.len();
        let trained = tokio::task::spawn_blocking(move || {
            let refs: Vec<&[u8]> = samples.iter().map(|sample| &sample[..]).collect();
            Dictionary::train(&refs, max_len)
        })
        .await;
        let dictionary = match trained {
            Ok(Ok(dictionary)) => dictionary,
            Ok(Err(error)) => {
                tracing::warn!(samples = count, %error, "training a compression dictionary failed; messages stay compressed without one");
                return;
            }
            Err(error) => {
                tracing::error!(%error, "compression dictionary training task failed");
                return;
            }
        };

        let id = dictionary.id();
        if self
            .known
            .read()
            .expect("dictionary lock")
            .contains_key(&id)
        {
            tracing::warn!(
                id,
                "trained dictionary has the id of a stored one; not using it"
            );
            return;
        }
        if let Err(error) = storage.put_dictionary(id, dictionary.bytes().clone()).await {
            tracing::warn!(id, %error, "storing the compression dictionary failed; messages stay compressed without one");
            return;
        }
        tracing::info!(
            id,
            samples = count,
            bytes = dictionary.bytes().len(),
            "compression dictionary trained and stored"
        );
        self.known
            .write()
            .expect("dictionary lock")
            .insert(id, dictionary.clone());
        *self.current.write().expect("dictionary lock") = Some(dictionary);
    }
}
