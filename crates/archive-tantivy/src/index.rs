//! [`TantivyIndex`]: the [`Index`] trait on month partitions.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use archive_core::ArchiveId;
use archive_core::search::{Index, IndexDocument, IndexError, IndexHit, Query, SearchPage};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tantivy::collector::Count;
use tantivy::directory::MmapDirectory;
use tantivy::indexer::IndexWriterOptions;
use tantivy::query::TermQuery;
use tantivy::schema::{IndexRecordOption, Schema};
use tantivy::{IndexReader, IndexWriter, ReloadPolicy, Searcher, Term};

use crate::collector::{Found, TopHits, merge};
use crate::document::MessageDoc;
use crate::error::{io_error, tantivy_error};
use crate::partition::{Month, select};
use crate::query::build;
use crate::schema::{Fields, build_schema, register_tokenizers};

/// Settings of a [`TantivyIndex`].
#[derive(Debug, Clone)]
pub struct TantivyOptions {
    /// Indexing memory of one partition writer in bytes, split between its
    /// threads (tantivy requires at least 15 MB per thread). A writer
    /// writes a new segment when its memory is full.
    pub writer_memory_bytes: usize,
    /// Indexing threads of one partition writer.
    pub writer_threads: usize,
    /// Partition writers kept open at once. Opening one more commits and
    /// closes the least recently used. What that writer committed stays
    /// invisible to searches until the next [`Index::commit`].
    pub max_open_writers: usize,
}

impl Default for TantivyOptions {
    /// 64 MiB and two threads per writer, at most three writers. The
    /// archive writes to the current month, and at the turn of a month to
    /// the previous one too, while a rebuild writes month after month, so
    /// three writers rarely close one another, and indexing memory stays
    /// near 192 MiB. Tokenizing and indexing take most of the CPU time of
    /// a rebuild; a second thread lets tantivy spread it over two cores.
    fn default() -> TantivyOptions {
        TantivyOptions {
            writer_memory_bytes: 64 << 20,
            writer_threads: 2,
            max_open_writers: 3,
        }
    }
}

/// Counters for tests and monitoring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexStats {
    /// Partitions opened since this index was opened.
    pub partitions_opened: u64,
    /// Partitions searched by the most recent search.
    pub partitions_searched: u64,
    /// Partition writers open now.
    pub open_writers: u64,
}

/// A search index on local disk: one tantivy index per month (UTC) of the
/// message date, in subdirectories of the root named `YYYY-MM`.
///
/// One process at a time may write to a root: every partition writer holds
/// tantivy's lock file in its directory.
#[derive(Debug, Clone)]
pub struct TantivyIndex {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    schema: Schema,
    fields: Fields,
    options: TantivyOptions,
    partitions: Mutex<Partitions>,
    write: Mutex<WriteState>,
    partitions_opened: AtomicU64,
    partitions_searched: AtomicU64,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TantivyIndex")
            .field("root", &self.root)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Known partitions; those opened so far keep their reader.
#[derive(Default)]
struct Partitions {
    known: BTreeSet<Month>,
    open: HashMap<Month, Arc<Partition>>,
}

struct Partition {
    directory: PathBuf,
    index: tantivy::Index,
    /// Reloaded only by [`Index::commit`], so searches see exactly what
    /// the last commit published.
    reader: IndexReader,
}

/// The committed state of one partition, as searches see it.
struct Snapshot {
    month: Month,
    searcher: Searcher,
    directory: PathBuf,
}

#[derive(Default)]
struct WriteState {
    writers: HashMap<Month, OpenWriter>,
    /// Incremented on every use of a writer, for least-recently-used
    /// eviction.
    clock: u64,
    /// Partitions changed since the last [`Index::commit`].
    dirty: BTreeSet<Month>,
    /// Ids added since the last [`Index::commit`], and their partitions.
    added: HashMap<ArchiveId, Vec<Month>>,
}

struct OpenWriter {
    writer: IndexWriter<MessageDoc>,
    last_used: u64,
}

impl TantivyIndex {
    /// Opens the index in `root`, creating the directory if needed.
    pub fn open(root: impl AsRef<Path>) -> Result<TantivyIndex, IndexError> {
        TantivyIndex::open_with(root, TantivyOptions::default())
    }

    /// Opens the index in `root` with `options`.
    pub fn open_with(
        root: impl AsRef<Path>,
        options: TantivyOptions,
    ) -> Result<TantivyIndex, IndexError> {
        let root = root.as_ref().to_path_buf();
        std::fs::create_dir_all(&root)
            .map_err(|error| io_error("create index directory", &root, error))?;
        let mut known = BTreeSet::new();
        let entries = std::fs::read_dir(&root)
            .map_err(|error| io_error("list index directory", &root, error))?;
        for entry in entries {
            let entry = entry.map_err(|error| io_error("list index directory", &root, error))?;
            let month = entry.file_name().to_str().and_then(Month::parse);
            if let Some(month) = month
                && entry.path().join("meta.json").exists()
            {
                known.insert(month);
            }
        }
        let (schema, fields) = build_schema();
        Ok(TantivyIndex {
            inner: Arc::new(Inner {
                root,
                schema,
                fields,
                options,
                partitions: Mutex::new(Partitions {
                    known,
                    open: HashMap::new(),
                }),
                write: Mutex::new(WriteState::default()),
                partitions_opened: AtomicU64::new(0),
                partitions_searched: AtomicU64::new(0),
            }),
        })
    }

    /// Returns the counters.
    pub fn stats(&self) -> IndexStats {
        let open_writers = self.inner.write_state().writers.len() as u64;
        IndexStats {
            partitions_opened: self.inner.partitions_opened.load(Ordering::Relaxed),
            partitions_searched: self.inner.partitions_searched.load(Ordering::Relaxed),
            open_writers,
        }
    }

    /// Commits, then closes every open writer once its background merges
    /// finish, so that the directory holds only merged, committed files.
    /// Later writes open writers again.
    pub async fn close(&self) -> Result<(), IndexError> {
        self.run(|inner| inner.close()).await
    }

    /// Returns the months that have a partition, oldest first.
    pub fn months(&self) -> Vec<String> {
        let partitions = self.inner.partitions_state();
        partitions.known.iter().map(Month::to_string).collect()
    }

    async fn run<T, F>(&self, work: F) -> Result<T, IndexError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, IndexError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || work(&inner))
            .await
            .map_err(|error| IndexError::Other {
                backend: crate::error::BACKEND,
                source: Box::new(error),
            })?
    }
}

impl Inner {
    fn write_state(&self) -> MutexGuard<'_, WriteState> {
        self.write
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn partitions_state(&self) -> MutexGuard<'_, Partitions> {
        self.partitions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn directory(&self, month: Month) -> PathBuf {
        self.root.join(month.to_string())
    }

    /// Returns the partition of `month`, opening it (and creating it when
    /// `create` is set) on first use. `None` if it does not exist and
    /// `create` is not set.
    fn partition(&self, month: Month, create: bool) -> Result<Option<Arc<Partition>>, IndexError> {
        self.open_partition(&mut self.partitions_state(), month, create)
    }

    /// Does the work of [`Inner::partition`] under a lock already held.
    fn open_partition(
        &self,
        partitions: &mut Partitions,
        month: Month,
        create: bool,
    ) -> Result<Option<Arc<Partition>>, IndexError> {
        if let Some(partition) = partitions.open.get(&month) {
            return Ok(Some(partition.clone()));
        }
        if !create && !partitions.known.contains(&month) {
            return Ok(None);
        }
        let directory = self.directory(month);
        std::fs::create_dir_all(&directory)
            .map_err(|error| io_error("create partition directory", &directory, error))?;
        let mmap = MmapDirectory::open(&directory)
            .map_err(|error| tantivy_error("open partition", &directory, error.into()))?;
        let index = tantivy::Index::open_or_create(mmap, self.schema.clone())
            .map_err(|error| tantivy_error("open partition", &directory, error))?;
        register_tokenizers(index.tokenizers());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|error| tantivy_error("open partition reader", &directory, error))?;
        let partition = Arc::new(Partition {
            directory,
            index,
            reader,
        });
        partitions.known.insert(month);
        partitions.open.insert(month, partition.clone());
        self.partitions_opened.fetch_add(1, Ordering::Relaxed);
        Ok(Some(partition))
    }

    /// Returns the committed snapshot of the partitions whose months
    /// overlap `[start, end)`, newest first. The snapshots are taken under
    /// one lock, which [`Inner::commit`] also holds while it reloads
    /// readers, so they all show the same commit.
    fn snapshots(
        &self,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
    ) -> Result<Vec<Snapshot>, IndexError> {
        let mut partitions = self.partitions_state();
        let months = select(partitions.known.iter().copied(), start, end);
        let mut snapshots = Vec::with_capacity(months.len());
        for month in months {
            if let Some(partition) = self.open_partition(&mut partitions, month, false)? {
                snapshots.push(Snapshot {
                    month,
                    searcher: partition.reader.searcher(),
                    directory: partition.directory.clone(),
                });
            }
        }
        Ok(snapshots)
    }

    /// Returns the writer of `month`, opening it and closing the least
    /// recently used one when the limit is reached.
    fn writer<'a>(
        &self,
        state: &'a mut WriteState,
        month: Month,
    ) -> Result<&'a IndexWriter<MessageDoc>, IndexError> {
        state.clock += 1;
        let clock = state.clock;
        if !state.writers.contains_key(&month) {
            while state.writers.len() >= self.options.max_open_writers.max(1) {
                let oldest = state
                    .writers
                    .iter()
                    .min_by_key(|(_, open)| open.last_used)
                    .map(|(month, _)| *month)
                    .expect("the limit is at least one");
                let mut closing = state.writers.remove(&oldest).expect("listed writer");
                closing.writer.commit().map_err(|error| {
                    tantivy_error("commit evicted writer", &self.directory(oldest), error)
                })?;
            }
            let partition = self.partition(month, true)?.expect("created on demand");
            let threads = self.options.writer_threads.max(1);
            let options = IndexWriterOptions::builder()
                .num_worker_threads(threads)
                .memory_budget_per_thread(self.options.writer_memory_bytes / threads)
                .build();
            let writer = partition
                .index
                .writer_with_options(options)
                .map_err(|error| tantivy_error("open writer", &partition.directory, error))?;
            state.writers.insert(
                month,
                OpenWriter {
                    writer,
                    last_used: clock,
                },
            );
        }
        let open = state.writers.get_mut(&month).expect("opened above");
        open.last_used = clock;
        Ok(&open.writer)
    }

    fn id_term(&self, id: &ArchiveId) -> Term {
        Term::from_field_bytes(self.fields.id, id.as_bytes())
    }

    fn add(&self, documents: Vec<IndexDocument>) -> Result<(), IndexError> {
        // Only the last document of an id counts, so the batch can be
        // grouped by month: each writer is then opened at most once per
        // batch, however the dates are mixed.
        let mut last_of_id: HashMap<ArchiveId, usize> = HashMap::new();
        for (at, document) in documents.iter().enumerate() {
            last_of_id.insert(document.id, at);
        }
        let mut documents: Vec<IndexDocument> = documents
            .into_iter()
            .enumerate()
            .filter(|(at, document)| last_of_id[&document.id] == *at)
            .map(|(_, document)| document)
            .collect();
        documents.sort_by_key(|document| Month::of(document.date));

        let prepared: Vec<(ArchiveId, Month, MessageDoc)> = documents
            .iter()
            .map(|document| {
                (
                    document.id,
                    Month::of(document.date),
                    MessageDoc::new(&self.fields, document),
                )
            })
            .collect();
        let mut state = self.write_state();
        let committed = self.snapshots(None, None)?;
        for (id, month, doc) in prepared {
            // A document whose date moved to another month since it was
            // indexed sits in another partition: committed there, or added
            // since the last commit. Deleting an id that a partition's
            // segments hold only as deleted documents does no harm.
            let term = self.id_term(&id);
            let mut elsewhere: Vec<Month> = state.added.get(&id).cloned().unwrap_or_default();
            for snapshot in &committed {
                let frequency = snapshot
                    .searcher
                    .doc_freq(&term)
                    .map_err(|error| tantivy_error("look up id", &snapshot.directory, error))?;
                if frequency > 0 {
                    elsewhere.push(snapshot.month);
                }
            }
            for other in elsewhere.into_iter().filter(|other| *other != month) {
                self.writer(&mut state, other)?.delete_term(term.clone());
                state.dirty.insert(other);
            }
            let writer = self.writer(&mut state, month)?;
            writer.delete_term(self.id_term(&id));
            writer
                .add_document(doc)
                .map_err(|error| tantivy_error("add document", &self.directory(month), error))?;
            state.dirty.insert(month);
            let months = state.added.entry(id).or_default();
            if !months.contains(&month) {
                months.push(month);
            }
        }
        Ok(())
    }

    /// Returns the months whose committed documents include `id`.
    fn committed_months(&self, id: &ArchiveId) -> Result<Vec<Month>, IndexError> {
        let query = TermQuery::new(self.id_term(id), IndexRecordOption::Basic);
        let mut months = Vec::new();
        for snapshot in self.snapshots(None, None)? {
            let count = snapshot
                .searcher
                .search(&query, &Count)
                .map_err(|error| tantivy_error("look up id", &snapshot.directory, error))?;
            if count > 0 {
                months.push(snapshot.month);
            }
        }
        Ok(months)
    }

    fn delete(&self, ids: &[ArchiveId]) -> Result<(), IndexError> {
        let mut state = self.write_state();
        for id in ids {
            let mut months = self.committed_months(id)?;
            months.extend(state.added.get(id).into_iter().flatten().copied());
            months.sort_unstable();
            months.dedup();
            for month in months {
                self.writer(&mut state, month)?
                    .delete_term(self.id_term(id));
                state.dirty.insert(month);
            }
        }
        Ok(())
    }

    fn commit(&self) -> Result<(), IndexError> {
        let mut state = self.write_state();
        let dirty: Vec<Month> = state.dirty.iter().copied().collect();
        for month in &dirty {
            if let Some(open) = state.writers.get_mut(month) {
                open.writer
                    .commit()
                    .map_err(|error| tantivy_error("commit", &self.directory(*month), error))?;
            }
        }
        // Every partition's commit is durable now; publish them to searches
        // together, under the lock that searches take their snapshots in.
        let mut partitions = self.partitions_state();
        for month in dirty {
            if let Some(partition) = self.open_partition(&mut partitions, month, false)? {
                partition
                    .reader
                    .reload()
                    .map_err(|error| tantivy_error("reload reader", &partition.directory, error))?;
            }
            state.dirty.remove(&month);
        }
        state.added.clear();
        Ok(())
    }

    fn close(&self) -> Result<(), IndexError> {
        self.commit()?;
        let mut state = self.write_state();
        for (month, open) in std::mem::take(&mut state.writers) {
            open.writer
                .wait_merging_threads()
                .map_err(|error| tantivy_error("close writer", &self.directory(month), error))?;
        }
        Ok(())
    }

    fn search(&self, query: &Query, offset: usize, limit: usize) -> Result<SearchPage, IndexError> {
        let (start, end) = query.date_bounds();
        let snapshots = self.snapshots(start, end)?;
        self.partitions_searched
            .store(snapshots.len() as u64, Ordering::Relaxed);
        let needed = offset.saturating_add(limit);
        let mut found = Vec::new();
        let mut collected = 0;
        for snapshot in snapshots {
            let month = snapshot.month;
            let tantivy_query = build(&self.fields, query, (month.start(), month.end()));
            // Partitions come newest first, so once enough hits are collected
            // the older partitions only add to the total.
            let collector = TopHits {
                limit: needed - collected,
            };
            let part: Found = snapshot
                .searcher
                .search(tantivy_query.as_ref(), &collector)
                .map_err(|error| tantivy_error("search", &snapshot.directory, error))?;
            collected += part.keys.len();
            found.push(part);
        }
        let merged = merge(found, needed);
        let hits: Vec<IndexHit> = merged
            .keys
            .iter()
            .skip(offset)
            .map(|key| key.hit())
            .collect();
        Ok(SearchPage {
            total: merged.total,
            hits,
        })
    }

    fn contains(&self, id: &ArchiveId) -> Result<bool, IndexError> {
        Ok(!self.committed_months(id)?.is_empty())
    }

    fn count(&self) -> Result<u64, IndexError> {
        let snapshots = self.snapshots(None, None)?;
        Ok(snapshots
            .iter()
            .map(|snapshot| snapshot.searcher.num_docs())
            .sum())
    }

    fn clear(&self) -> Result<(), IndexError> {
        let mut state = self.write_state();
        // Dropping a writer discards what it has not committed and
        // releases its lock.
        state.writers.clear();
        state.dirty.clear();
        state.added.clear();
        let mut partitions = self.partitions_state();
        partitions.open.clear();
        for month in std::mem::take(&mut partitions.known) {
            let directory = self.directory(month);
            match std::fs::remove_dir_all(&directory) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => {
                    return Err(io_error("remove partition directory", &directory, error));
                }
            }
        }
        sync_directory(&self.root)
    }
}

/// Makes the removal of entries in `directory` durable.
fn sync_directory(directory: &Path) -> Result<(), IndexError> {
    std::fs::File::open(directory)
        .and_then(|file| file.sync_all())
        .map_err(|error| io_error("sync index directory", directory, error))
}

#[async_trait]
impl Index for TantivyIndex {
    async fn add(&self, documents: Vec<IndexDocument>) -> Result<(), IndexError> {
        self.run(move |inner| inner.add(documents)).await
    }

    async fn delete(&self, ids: &[ArchiveId]) -> Result<(), IndexError> {
        let ids = ids.to_vec();
        self.run(move |inner| inner.delete(&ids)).await
    }

    async fn commit(&self) -> Result<(), IndexError> {
        self.run(|inner| inner.commit()).await
    }

    async fn search(
        &self,
        query: &Query,
        offset: usize,
        limit: usize,
    ) -> Result<SearchPage, IndexError> {
        let query = query.clone();
        self.run(move |inner| inner.search(&query, offset, limit))
            .await
    }

    async fn contains(&self, id: &ArchiveId) -> Result<bool, IndexError> {
        let id = *id;
        self.run(move |inner| inner.contains(&id)).await
    }

    async fn count(&self) -> Result<u64, IndexError> {
        self.run(|inner| inner.count()).await
    }

    async fn clear(&self) -> Result<(), IndexError> {
        self.run(|inner| inner.clear()).await
    }
}
