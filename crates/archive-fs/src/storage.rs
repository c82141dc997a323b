//! `FsStorage`: the `Storage` implementation on a local directory.

use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use archive_core::{
    ArchiveId, Damage, ListedEntry, PackEntry, Partition, PutOutcome, Storage, StorageError,
};
use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::{Notify, RwLock};

use crate::catalog::Catalog;
use crate::dictionaries::DictionaryFiles;
use crate::durable::DurableDirs;
use crate::error::FsError;
use crate::layout::PACKS_DIR;
use crate::lock::lock_root;
use crate::scan::scan;
use crate::{delete, put, read};

/// Stores the archive in pack files under one directory.
///
/// See the [crate documentation](crate) for the layout and the durability
/// rules. `FsStorage` does not implement `Clone`, so share it through an
/// `Arc`. Dropping it releases the directory lock once running puts and
/// reads have finished.
pub struct FsStorage {
    inner: Arc<Inner>,
}

/// The state shared by `FsStorage` and its blocking tasks.
pub(crate) struct Inner {
    /// The archive root, made absolute.
    pub(crate) root: PathBuf,
    /// `<root>/packs`.
    pub(crate) packs_dir: PathBuf,
    catalog: Mutex<Catalog>,
    /// Wakes puts that wait for ids reserved by another put.
    pub(crate) released: Notify,
    /// Shared by puts and reads, exclusive while a partition is deleted, so
    /// a partition directory never vanishes under a put or a read.
    pub(crate) layout: Arc<RwLock<()>>,
    /// Directories known to be durable.
    pub(crate) dirs: DurableDirs,
    /// Compression dictionaries. The lock is held during file I/O, which
    /// is rare: a dictionary is written once per archive.
    dictionaries: Mutex<DictionaryFiles>,
    /// The locked `<root>/LOCK`. Closing it releases the lock.
    _lock: File,
}

impl Inner {
    /// Locks the catalog. No caller keeps the guard across an `.await` or
    /// file I/O.
    pub(crate) fn catalog(&self) -> MutexGuard<'_, Catalog> {
        self.catalog.lock().expect("catalog lock poisoned")
    }
}

impl FsStorage {
    /// Opens the archive under `root`, creating the directory tree if it is
    /// missing, and builds the catalog from the packs found there.
    ///
    /// The work runs on Tokio's blocking thread pool, so `open` needs a Tokio
    /// runtime. It fails if another process or `FsStorage` holds the lock on
    /// `<root>/LOCK`, if a directory cannot be created, read or flushed, or
    /// if a pack cannot be opened or flushed. A pack whose trailer or footer
    /// cannot be read or decoded does not make it fail: see
    /// [`Storage::damage`].
    pub async fn open(root: impl AsRef<Path>) -> Result<FsStorage, StorageError> {
        let root = root.as_ref().to_path_buf();
        let inner = blocking(move || open_blocking(root)).await?;
        Ok(FsStorage {
            inner: Arc::new(inner),
        })
    }

    /// Returns the archive root, made absolute.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }
}

fn open_blocking(root: PathBuf) -> Result<Inner, FsError> {
    let root =
        std::path::absolute(&root).map_err(FsError::io("resolve archive directory", &root))?;
    let dirs = DurableDirs::default();
    if !root.is_dir() {
        dirs.ensure(&root)?;
    }
    let lock = lock_root(&root)?;
    let packs_dir = root.join(PACKS_DIR);
    dirs.ensure(&packs_dir)?;

    let dictionaries = DictionaryFiles::open(&root, &dirs)?;
    let scanned = scan(&packs_dir)?;
    for dir in scanned.dirs {
        dirs.insert(dir);
    }
    let catalog = scanned.catalog;
    tracing::info!(
        root = %root.display(),
        entries = catalog.len(),
        damaged = catalog.damage().len(),
        "opened archive directory"
    );
    Ok(Inner {
        root,
        packs_dir,
        catalog: Mutex::new(catalog),
        released: Notify::new(),
        layout: Arc::new(RwLock::new(())),
        dirs,
        dictionaries: Mutex::new(dictionaries),
        _lock: lock,
    })
}

/// Runs blocking file work on Tokio's blocking pool. A panic in `work` is
/// resumed in the caller.
pub(crate) async fn blocking<T, F>(work: F) -> Result<T, StorageError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, FsError> + Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result.map_err(StorageError::from),
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(_) => Err(FsError::Cancelled {
            operation: "file storage task",
        }
        .into()),
    }
}

impl fmt::Debug for FsStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FsStorage")
            .field("root", &self.inner.root)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Storage for FsStorage {
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
        let inner = self.inner.clone();
        blocking(move || {
            let mut files = inner.dictionaries.lock().expect("dictionary lock poisoned");
            files.write(id, &bytes)
        })
        .await
    }

    async fn get_dictionary(&self, id: u32) -> Result<Bytes, StorageError> {
        let inner = self.inner.clone();
        blocking(move || {
            inner
                .dictionaries
                .lock()
                .expect("dictionary lock poisoned")
                .read(id)
        })
        .await
    }

    async fn dictionaries(&self) -> Result<Vec<u32>, StorageError> {
        Ok(self
            .inner
            .dictionaries
            .lock()
            .expect("dictionary lock poisoned")
            .ids())
    }

    async fn damage(&self) -> Result<Vec<Damage>, StorageError> {
        Ok(self.inner.catalog().damage())
    }
}
