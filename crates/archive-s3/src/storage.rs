//! `S3Storage`: the `Storage` implementation on an object store.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use archive_core::{
    ArchiveId, Damage, ListedEntry, PackEntry, Partition, PutOutcome, Storage, StorageError,
};
use async_trait::async_trait;
use bytes::Bytes;
use object_store::ObjectStore;
use object_store::path::Path;
use tokio::sync::{Notify, RwLock};

use crate::cache::Cache;
use crate::catalog::Catalog;
use crate::config::S3Config;
use crate::dictionaries::DictionaryObjects;
use crate::layout::Layout;
use crate::request::{Counters, RequestStats};
use crate::{delete, put, read, scan};

/// The location of an [`S3Storage`] archive in an object store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Key prefix of the archive, without leading or trailing `/`; empty
    /// for the root of the store.
    pub prefix: String,
    /// The store's name in messages and in `Location::pack`, such as
    /// `s3://bucket`. Keys follow it after a `/`.
    pub name: String,
    /// Directory of the local footer cache; `None` keeps footers in memory
    /// only, so every open reads every footer from the store.
    pub cache_dir: Option<PathBuf>,
}

/// Stores the archive as pack objects in an object store: S3 or any other
/// `object_store` backend.
///
/// See the [crate documentation](crate) for the key layout, the request
/// costs and the guarantees. Share it through an `Arc`.
pub struct S3Storage {
    inner: Arc<Inner>,
}

/// The state shared by `S3Storage` and its upload tasks.
pub(crate) struct Inner {
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) layout: Layout,
    /// The store's name in messages, such as `s3://bucket`.
    name: String,
    pub(crate) cache: Cache,
    catalog: Mutex<Catalog>,
    /// Wakes puts that wait for ids reserved by another put.
    pub(crate) released: Notify,
    /// Shared by puts and reads, exclusive while a partition is deleted, so
    /// no pack of a partition is written or read during its deletion.
    pub(crate) partition_guard: Arc<RwLock<()>>,
    /// The sequence number of each pack whose upload has begun but not
    /// succeeded, by partition and name, so that a retried upload of the
    /// same batch targets the same key.
    pub(crate) unfinished: Mutex<HashMap<(Partition, String), u64>>,
    /// The highest pack sequence number listed or allocated.
    last_seq: Mutex<u64>,
    pub(crate) dictionaries: tokio::sync::Mutex<DictionaryObjects>,
    pub(crate) counters: Counters,
}

impl Inner {
    /// Locks the catalog. No caller keeps the guard across an `.await`.
    pub(crate) fn catalog(&self) -> MutexGuard<'_, Catalog> {
        self.catalog.lock().expect("catalog lock poisoned")
    }

    /// Returns how messages name `key`: `<store name>/<key>`.
    pub(crate) fn display(&self, key: &Path) -> String {
        format!("{}/{}", self.name, key)
    }

    /// Returns how messages name the prefix `prefix`: with a trailing `/`.
    pub(crate) fn display_prefix(&self, prefix: &Path) -> String {
        format!("{}/{}/", self.name, prefix)
    }

    /// Returns the sequence number for the pack `name` of `partition`: the
    /// one its earlier, unfinished upload used, or a new one that is at
    /// least the Unix time in milliseconds and greater than any before.
    // NOTE: a batch whose first upload never reached the server keeps its
    // old number too. A pack that a concurrent put stores in the same
    // partition meanwhile then lists after it. The archive's mover puts
    // one batch at a time, so it never meets this case.
    pub(crate) fn pack_seq(&self, partition: &Partition, name: &str) -> u64 {
        let mut unfinished = self.unfinished.lock().expect("unfinished lock poisoned");
        if let Some(seq) = unfinished.get(&(partition.clone(), name.to_owned())) {
            return *seq;
        }
        let now = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
        let mut last = self.last_seq.lock().expect("sequence lock poisoned");
        *last = now.max(*last + 1);
        unfinished.insert((partition.clone(), name.to_owned()), *last);
        *last
    }

    /// Forgets the sequence number of pack `name` of `partition`, after its
    /// upload succeeded or when its key must not be used again.
    pub(crate) fn forget_unfinished(&self, partition: &Partition, name: &str) {
        self.unfinished
            .lock()
            .expect("unfinished lock poisoned")
            .remove(&(partition.clone(), name.to_owned()));
    }
}

impl S3Storage {
    /// Opens the archive at `config` in S3, with the footer cache in
    /// `cache_dir` (a subdirectory per bucket is used).
    ///
    /// Lists the bucket once and reads the footers that the cache lacks. A
    /// missing bucket, rejected credentials or an unreachable server make
    /// it fail with a message that names what to check.
    pub async fn open(
        config: &S3Config,
        cache_dir: Option<PathBuf>,
    ) -> Result<S3Storage, StorageError> {
        let store = config
            .build_store()
            .map_err(|error| StorageError::InvalidInput {
                reason: error.to_string(),
            })?;
        let options = StoreOptions {
            prefix: config.prefix.clone(),
            name: format!("s3://{}", config.bucket),
            cache_dir: cache_dir.map(|dir| dir.join(&config.bucket)),
        };
        S3Storage::open_store(store, options).await
    }

    /// Opens the archive in any object store, such as
    /// `object_store::memory::InMemory`.
    pub async fn open_store(
        store: Arc<dyn ObjectStore>,
        options: StoreOptions,
    ) -> Result<S3Storage, StorageError> {
        let prefix = Path::parse(&options.prefix).map_err(|error| StorageError::InvalidInput {
            reason: format!("invalid key prefix {:?}: {error}", options.prefix),
        })?;
        let inner = Inner {
            store,
            layout: Layout::new(prefix),
            name: options.name.trim_end_matches('/').to_owned(),
            cache: Cache::new(options.cache_dir),
            catalog: Mutex::new(Catalog::default()),
            released: Notify::new(),
            partition_guard: Arc::new(RwLock::new(())),
            unfinished: Mutex::new(HashMap::new()),
            last_seq: Mutex::new(0),
            dictionaries: tokio::sync::Mutex::new(DictionaryObjects::default()),
            counters: Counters::default(),
        };
        let scanned = scan::scan(&inner).await?;
        *inner.catalog() = scanned.catalog;
        *inner.last_seq.lock().expect("sequence lock poisoned") = scanned.max_seq;
        *inner.dictionaries.lock().await = scanned.dictionaries;
        {
            let catalog = inner.catalog();
            tracing::info!(
                store = %inner.display_prefix(inner.layout.root()),
                packs = catalog.pack_count(),
                entries = catalog.len(),
                damaged = catalog.damage().len(),
                footers_fetched = scanned.footers_fetched,
                "opened archive in object store"
            );
        }
        Ok(S3Storage {
            inner: Arc::new(inner),
        })
    }

    /// Returns the requests sent and bytes moved since open.
    pub fn stats(&self) -> RequestStats {
        self.inner.counters.snapshot()
    }
}

impl fmt::Debug for S3Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Storage")
            .field(
                "store",
                &self.inner.display_prefix(self.inner.layout.root()),
            )
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Storage for S3Storage {
    async fn put(
        &self,
        partition: &Partition,
        entries: Vec<PackEntry>,
    ) -> Result<PutOutcome, StorageError> {
        put::put(&self.inner, partition, entries).await
    }

    async fn get(&self, id: &ArchiveId) -> Result<PackEntry, StorageError> {
        read::get(&self.inner, id).await
    }

    async fn contains(&self, id: &ArchiveId) -> Result<bool, StorageError> {
        Ok(self.inner.catalog().contains(id))
    }

    async fn partitions(&self) -> Result<Vec<Partition>, StorageError> {
        Ok(self.inner.catalog().partitions())
    }

    async fn list(&self, partition: &Partition) -> Result<Vec<ListedEntry>, StorageError> {
        Ok(self.inner.catalog().list(partition))
    }

    async fn delete_partition(&self, partition: &Partition) -> Result<u64, StorageError> {
        delete::delete_partition(&self.inner, partition).await
    }

    async fn put_dictionary(&self, id: u32, bytes: Bytes) -> Result<(), StorageError> {
        let mut dictionaries = self.inner.dictionaries.lock().await;
        dictionaries.write(&self.inner, id, bytes).await
    }

    async fn get_dictionary(&self, id: u32) -> Result<Bytes, StorageError> {
        let dictionaries = self.inner.dictionaries.lock().await;
        dictionaries.read(&self.inner, id).await
    }

    async fn dictionaries(&self) -> Result<Vec<u32>, StorageError> {
        Ok(self.inner.dictionaries.lock().await.ids())
    }

    async fn damage(&self) -> Result<Vec<Damage>, StorageError> {
        Ok(self.inner.catalog().damage())
    }
}
