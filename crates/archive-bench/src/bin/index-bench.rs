//! Measures the tantivy search index and prints the figures.
//!
//! - `throughput`: parses messages of an mbox corpus held in memory, builds
//!   their index documents and adds them to a new `TantivyIndex`, committing
//!   once a second as the archive does. Then it feeds the same messages,
//!   with the same normalized fields, to an SQLite FTS5 table with the
//!   trigram tokenizer, and prints both rates, their ratio, and index bytes
//!   per raw byte.
//! - `build`: streams a (large) mbox corpus into an index directory and
//!   writes the archive id of every message, in corpus order, to a file,
//!   so that `search` can map hits to rows of the generator's truth file.
//! - `search`: runs queries of each kind against a built index, prints
//!   latency quantiles, and checks the hits of some queries with the
//!   reference matcher on the parsed messages.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context;
use archive_bench::{load_mbox, mean_size, quantile};
use archive_core::search::{Index, IndexDocument, matches, normalize, parse_query};
use archive_core::{ArchiveId, ParseOptions, RecordMeta, parse_message};
use archive_tantivy::{TantivyIndex, TantivyOptions};
use bytes::Bytes;
use chrono::{DateTime, FixedOffset, Utc};
use clap::{Parser, Subcommand};

/// Measure the tantivy search index.
#[derive(Debug, Parser)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Indexing rate of tantivy and of SQLite FTS5 (trigram) on one corpus.
    Throughput(ThroughputArgs),
    /// Builds an index from a corpus and records the id of every message.
    Build {
        /// Corpus, as an mbox file.
        #[arg(long)]
        corpus: PathBuf,
        /// Index directory to create (must not exist).
        #[arg(long)]
        index: PathBuf,
        /// Threads that parse messages and build documents.
        #[arg(long, default_value_t = 2)]
        threads: usize,
    },
    /// Query latency and exactness against a built index.
    Search(SearchArgs),
}

#[derive(Debug, clap::Args)]
struct SearchArgs {
    /// Index directory written by `build`.
    #[arg(long)]
    index: PathBuf,
    /// The corpus the index was built from, to check hits.
    #[arg(long)]
    corpus: PathBuf,
    /// Truth file of the corpus (gen_corpus.py --truth).
    #[arg(long)]
    truth: PathBuf,
    /// Queries of each kind.
    #[arg(long, default_value_t = 200)]
    queries: usize,
    /// Queries of each kind whose every hit is checked with the reference
    /// matcher on the parsed message.
    #[arg(long, default_value_t = 20)]
    verify: usize,
    /// Hits per page.
    #[arg(long, default_value_t = 50)]
    limit: usize,
}

#[derive(Debug, clap::Args)]
struct ThroughputArgs {
    /// Corpus, as an mbox file (for example from gen_corpus.py).
    #[arg(long)]
    corpus: PathBuf,
    /// Number of messages to load from the corpus.
    #[arg(long, default_value_t = 100_000)]
    messages: usize,
    /// Threads that parse messages and build documents.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Indexing threads of the tantivy partition writer.
    #[arg(long, default_value_t = TantivyOptions::default().writer_threads)]
    writer_threads: usize,
    /// Directory for the temporary indexes; defaults to the system's.
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Skip the SQLite run.
    #[arg(long)]
    skip_sqlite: bool,
    /// Skip the tantivy run.
    #[arg(long)]
    skip_tantivy: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match args.command {
        Command::Throughput(args) => throughput(&runtime, &args),
        Command::Build {
            corpus,
            index,
            threads,
        } => build(&runtime, &corpus, &index, threads),
        Command::Search(args) => runtime.block_on(search(&args)),
    }
}

/// Parses one raw message into its index document, as the archive does.
fn document_of(raw: &[u8]) -> IndexDocument {
    let message = parse_message(
        raw,
        &RecordMeta::default(),
        Utc::now(),
        &ParseOptions::default(),
    );
    IndexDocument::from_message(&message)
}

/// Messages parsed and indexed in one `add` call.
const BATCH: usize = 200;

fn throughput(runtime: &tokio::runtime::Runtime, args: &ThroughputArgs) -> anyhow::Result<()> {
    let ThroughputArgs {
        corpus,
        messages,
        threads,
        writer_threads,
        work_dir,
        skip_sqlite,
        skip_tantivy,
    } = args;
    let (messages, threads, writer_threads) = (*messages, *threads, *writer_threads);
    let (skip_sqlite, skip_tantivy) = (*skip_sqlite, *skip_tantivy);
    let corpus_messages = load_mbox(corpus, messages)?;
    let raw_bytes: u64 = corpus_messages.iter().map(|m| m.len() as u64).sum();
    println!(
        "corpus: {} messages, {raw_bytes} bytes, {:.0} bytes on average",
        corpus_messages.len(),
        mean_size(&corpus_messages)
    );
    let work = match work_dir {
        Some(dir) => tempfile::tempdir_in(dir)?,
        None => tempfile::tempdir()?,
    };

    let mut tantivy_rate = None;
    if !skip_tantivy {
        let root = work.path().join("tantivy");
        let options = TantivyOptions {
            writer_threads,
            ..TantivyOptions::default()
        };
        let index = TantivyIndex::open_with(&root, options)?;
        let started = Instant::now();
        let commits = index_all(runtime, &index, &corpus_messages, threads)?;
        let elapsed = started.elapsed();
        let rate = corpus_messages.len() as f64 / elapsed.as_secs_f64();
        runtime.block_on(index.close())?;
        let index_bytes = directory_bytes(&root)?;
        println!(
            "tantivy: {} messages in {:.1} s: {rate:.0} messages/s ({commits} commits)",
            corpus_messages.len(),
            elapsed.as_secs_f64()
        );
        println!(
            "tantivy index: {index_bytes} bytes after merges, {:.3} of the raw bytes, {:.0} bytes per message",
            index_bytes as f64 / raw_bytes as f64,
            index_bytes as f64 / corpus_messages.len() as f64
        );
        tantivy_rate = Some(rate);
    }

    if !skip_sqlite {
        let path = work.path().join("fts5.sqlite");
        let started = Instant::now();
        sqlite_index_all(&path, &corpus_messages, threads)?;
        let elapsed = started.elapsed();
        let rate = corpus_messages.len() as f64 / elapsed.as_secs_f64();
        let bytes = directory_bytes(work.path())?
            - if skip_tantivy {
                0
            } else {
                directory_bytes(&work.path().join("tantivy"))?
            };
        println!(
            "sqlite fts5 trigram: {} messages in {:.1} s: {rate:.0} messages/s; {bytes} bytes, {:.3} of the raw bytes",
            corpus_messages.len(),
            elapsed.as_secs_f64(),
            bytes as f64 / raw_bytes as f64
        );
        if let Some(tantivy_rate) = tantivy_rate {
            println!("tantivy ÷ sqlite: {:.2}", tantivy_rate / rate);
        }
    }
    Ok(())
}

/// Parses and indexes `messages` on `threads` threads while another thread
/// commits once a second; returns the number of commits.
fn index_all(
    runtime: &tokio::runtime::Runtime,
    index: &TantivyIndex,
    messages: &[Bytes],
    threads: usize,
) -> anyhow::Result<u64> {
    let next = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    let commits = AtomicU64::new(0);
    let handle = runtime.handle();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let committer = scope.spawn(|| -> anyhow::Result<()> {
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_secs(1));
                handle.block_on(index.commit())?;
                commits.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        });
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<()> {
                    loop {
                        let start = next.fetch_add(BATCH as u64, Ordering::Relaxed) as usize;
                        if start >= messages.len() {
                            return Ok(());
                        }
                        let end = (start + BATCH).min(messages.len());
                        let batch: Vec<IndexDocument> = messages[start..end]
                            .iter()
                            .map(|raw| document_of(raw))
                            .collect();
                        handle.block_on(index.add(batch))?;
                    }
                })
            })
            .collect();
        let mut result = Ok(());
        for worker in workers {
            result = result.and(worker.join().expect("worker thread"));
        }
        done.store(true, Ordering::Relaxed);
        committer.join().expect("committer thread")?;
        result
    })?;
    handle.block_on(index.commit())?;
    Ok(commits.load(Ordering::Relaxed) + 1)
}

/// The FTS5 columns: every field the tantivy index searches.
const SQLITE_SCHEMA: &str = "CREATE VIRTUAL TABLE mail USING fts5(
    id UNINDEXED, date UNINDEXED, kind, from_, to_, subject, body, attachment,
    message_id, order_, customer, meta, tokenize = 'trigram')";

/// Returns the row of the FTS5 table: the same normalized values as the
/// tantivy documents, one line per value.
fn sqlite_row(document: &IndexDocument) -> [String; 12] {
    let join = |values: &[String]| -> String {
        values
            .iter()
            .map(|value| normalize(value))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let meta: Vec<String> = document
        .meta
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    [
        document.id.to_hex(),
        document.date.timestamp().to_string(),
        document.kind.as_deref().map(normalize).unwrap_or_default(),
        join(&document.from),
        join(&document.to),
        join(&document.subject),
        join(&document.body),
        join(&document.attachment),
        join(&document.message_id),
        join(&document.order),
        join(&document.customer),
        join(&meta),
    ]
}

/// Parses on `threads` threads and inserts on one connection, one
/// transaction per batch (SQLite has a single writer).
fn sqlite_index_all(path: &Path, messages: &[Bytes], threads: usize) -> anyhow::Result<()> {
    let mut connection = rusqlite::Connection::open(path)?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    connection.execute(SQLITE_SCHEMA, [])?;
    let next = AtomicU64::new(0);
    let (sender, receiver) = mpsc::sync_channel::<Vec<[String; 12]>>(4);
    std::thread::scope(|scope| -> anyhow::Result<()> {
        for _ in 0..threads.max(1) {
            let sender = sender.clone();
            let next = &next;
            scope.spawn(move || {
                loop {
                    let start = next.fetch_add(BATCH as u64, Ordering::Relaxed) as usize;
                    if start >= messages.len() {
                        return;
                    }
                    let end = (start + BATCH).min(messages.len());
                    let rows = messages[start..end]
                        .iter()
                        .map(|raw| sqlite_row(&document_of(raw)))
                        .collect();
                    if sender.send(rows).is_err() {
                        return;
                    }
                }
            });
        }
        drop(sender);
        for rows in receiver {
            let transaction = connection.transaction()?;
            {
                let mut insert = transaction.prepare_cached(
                    "INSERT INTO mail VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )?;
                for row in &rows {
                    insert.execute(rusqlite::params_from_iter(row.iter()))?;
                }
            }
            transaction.commit()?;
        }
        Ok(())
    })?;
    connection.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    Ok(())
}

/// Returns the bytes of every file below `path`.
fn directory_bytes(path: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in walkdir::WalkDir::new(path) {
        let entry = entry?;
        if entry.file_type().is_file() {
            total += entry.metadata()?.len();
        }
    }
    Ok(total)
}

/// Reads up to `count` messages from an mbox stream.
fn read_chunk(
    mbox: &mut mail_parser::mailbox::mbox::MessageIterator<BufReader<File>>,
    count: usize,
) -> anyhow::Result<Vec<Bytes>> {
    let mut chunk = Vec::with_capacity(count);
    for message in mbox.by_ref().take(count) {
        let message = message.map_err(|error| anyhow::anyhow!("reading corpus: {error}"))?;
        chunk.push(Bytes::from(message.unwrap_contents()));
    }
    Ok(chunk)
}

/// Parses `chunk` in batches of [`BATCH`], one thread per batch, and
/// returns the batches in order.
fn parse_in_parallel(chunk: &[Bytes]) -> Vec<Vec<IndexDocument>> {
    std::thread::scope(|scope| {
        let workers: Vec<_> = chunk
            .chunks(BATCH)
            .map(|part| scope.spawn(move || part.iter().map(|raw| document_of(raw)).collect()))
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("parser thread"))
            .collect()
    })
}

/// Name of the file, inside the index directory, that lists the archive
/// id of every message in corpus order (32 bytes each).
const IDS_FILE: &str = "corpus-ids.bin";

fn build(
    runtime: &tokio::runtime::Runtime,
    corpus: &Path,
    index_dir: &Path,
    threads: usize,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        !index_dir.exists(),
        "{} exists; remove it or choose another --index",
        index_dir.display()
    );
    let index = TantivyIndex::open(index_dir)?;
    let file = File::open(corpus).with_context(|| format!("opening {}", corpus.display()))?;
    let reader = BufReader::with_capacity(1 << 20, file);
    let mut mbox = mail_parser::mailbox::mbox::MessageIterator::new(reader);
    let mut ids = BufWriter::new(File::create(index_dir.join(IDS_FILE))?);
    let handle = runtime.handle();
    let started = Instant::now();
    let mut last_commit = Instant::now();
    let mut count = 0u64;
    let mut raw_bytes = 0u64;
    loop {
        let chunk = read_chunk(&mut mbox, BATCH * threads.max(1))?;
        if chunk.is_empty() {
            break;
        }
        for batch in parse_in_parallel(&chunk) {
            for document in &batch {
                ids.write_all(document.id.as_bytes())?;
            }
            count += batch.len() as u64;
            handle.block_on(index.add(batch))?;
        }
        raw_bytes += chunk.iter().map(|m| m.len() as u64).sum::<u64>();
        if last_commit.elapsed() >= Duration::from_secs(1) {
            handle.block_on(index.commit())?;
            last_commit = Instant::now();
        }
        if count.is_multiple_of(100_000) {
            eprintln!(
                "{count} messages, {:.0} messages/s",
                count as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    ids.flush()?;
    handle.block_on(index.close())?;
    let elapsed = started.elapsed();
    let index_bytes = directory_bytes(index_dir)? - (count * 32);
    println!(
        "built: {count} messages in {:.0} s ({:.0} messages/s, reading the corpus included)",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64()
    );
    println!(
        "index: {index_bytes} bytes, {:.3} of {raw_bytes} raw bytes; months: {}",
        index_bytes as f64 / raw_bytes as f64,
        index.months().join(" ")
    );
    Ok(())
}

/// The fields of one truth row that the queries use.
#[derive(Debug, serde::Deserialize)]
struct TruthRow {
    timestamp: i64,
    /// Byte offset of the message (its `From ` line) in the mbox file.
    offset: u64,
    /// Bytes of the message in the mbox file, `From ` line included.
    length: u64,
    kind: String,
    to: String,
    customer_name: Option<String>,
    order_number: Option<String>,
    phone: Option<String>,
}

/// A deterministic random number generator (xorshift), so that every run
/// sends the same queries.
struct Random(u64);

impl Random {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// One query and the rows that must be among its hits; `exact` when the
/// hits must be exactly those rows.
struct Case {
    query: String,
    expected: Vec<u32>,
    exact: bool,
}

/// Reads single messages of an mbox corpus by their offset in the truth
/// file, to check hits with the reference matcher.
struct CorpusReader {
    file: File,
}

impl CorpusReader {
    /// Returns the index document of the message at `row`, checking that
    /// its id is the one the index build recorded.
    fn document(&self, row: &TruthRow, id: &ArchiveId) -> anyhow::Result<IndexDocument> {
        use std::os::unix::fs::FileExt;
        let mut bytes = vec![0u8; row.length as usize];
        self.file.read_exact_at(&mut bytes, row.offset)?;
        let mut mbox =
            mail_parser::mailbox::mbox::MessageIterator::new(std::io::Cursor::new(bytes));
        let message = mbox
            .next()
            .context("no message at the truth offset")?
            .map_err(|error| anyhow::anyhow!("reading corpus: {error}"))?;
        let document = document_of(message.contents());
        anyhow::ensure!(
            document.id == *id,
            "the message at offset {} is not the one indexed",
            row.offset
        );
        Ok(document)
    }
}

async fn search(args: &SearchArgs) -> anyhow::Result<()> {
    let mut id_bytes = Vec::new();
    File::open(args.index.join(IDS_FILE))?.read_to_end(&mut id_bytes)?;
    let ids: Vec<ArchiveId> = id_bytes
        .chunks_exact(32)
        .map(|chunk| ArchiveId::from_bytes(chunk.try_into().expect("32 bytes")))
        .collect();
    let row_of: HashMap<ArchiveId, u32> = ids
        .iter()
        .enumerate()
        .map(|(row, id)| (*id, row as u32))
        .collect();

    let mut rows = Vec::with_capacity(ids.len());
    for line in BufReader::new(File::open(&args.truth)?).lines() {
        rows.push(serde_json::from_str::<TruthRow>(&line?)?);
    }
    anyhow::ensure!(
        rows.len() == ids.len(),
        "the truth file has {} rows but the index {} messages",
        rows.len(),
        ids.len()
    );
    anyhow::ensure!(
        rows.is_sorted_by_key(|row| row.timestamp),
        "the truth rows are not in date order"
    );
    println!("truth: {} rows", rows.len());
    let truth = Truth::new(&rows);
    let corpus = CorpusReader {
        file: File::open(&args.corpus)
            .with_context(|| format!("opening {}", args.corpus.display()))?,
    };

    let index = TantivyIndex::open(&args.index)?;
    let zone = FixedOffset::east_opt(9 * 3600).expect("valid offset");
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    let kinds = [
        "partial address",
        "full address, upper case",
        "family name (kanji)",
        "order number",
        "order number fragment",
        "phone with hyphens",
        "phone without hyphens",
        "date range and kind",
    ];
    // Warm the page cache and the partition readers once.
    for warm in ["注文", "kind:campaign after:2026-06-01"] {
        index
            .search(&parse_query(warm, zone)?, 0, args.limit)
            .await?;
    }
    println!(
        "| query kind | queries | p50 ms | p95 ms | p99 ms | max ms | mean total | checked against the reference |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for kind in kinds {
        let cases: Vec<Case> = (0..args.queries)
            .map(|_| make_case(kind, &truth, &mut random))
            .collect();
        let mut latencies = Vec::with_capacity(cases.len());
        let mut totals = 0u64;
        let mut checked = Checked::default();
        for (at, case) in cases.iter().enumerate() {
            let query = parse_query(&case.query, zone)?;
            let started = Instant::now();
            let page = index.search(&query, 0, args.limit).await?;
            latencies.push(started.elapsed());
            totals += page.total;
            if at < args.verify {
                let all = index.search(&query, 0, page.total as usize).await?;
                checked.add(case, &query, &all.hits, &row_of, &rows, &ids, &corpus)?;
            }
        }
        let milliseconds = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "| {kind} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.0} | {checked} |",
            cases.len(),
            milliseconds(quantile(&mut latencies, 0.5)),
            milliseconds(quantile(&mut latencies, 0.95)),
            milliseconds(quantile(&mut latencies, 0.99)),
            milliseconds(quantile(&mut latencies, 1.0)),
            totals as f64 / cases.len() as f64,
        );
    }
    Ok(())
}

/// Results of checking queries against the reference matcher.
#[derive(Debug, Default)]
struct Checked {
    queries: usize,
    hits: usize,
    false_positives: usize,
    candidates: usize,
    misses: usize,
    wrong_totals: usize,
}

impl Checked {
    /// Checks every hit, and every truth candidate that is not a hit, with
    /// the reference matcher on the parsed message. For exact cases the
    /// hits must also be exactly the candidates.
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        case: &Case,
        query: &archive_core::search::Query,
        hits: &[archive_core::search::IndexHit],
        row_of: &HashMap<ArchiveId, u32>,
        rows: &[TruthRow],
        ids: &[ArchiveId],
        corpus: &CorpusReader,
    ) -> anyhow::Result<()> {
        self.queries += 1;
        let mut found = HashSet::new();
        for hit in hits {
            self.hits += 1;
            let Some(&row) = row_of.get(&hit.id) else {
                self.false_positives += 1;
                continue;
            };
            found.insert(row);
            let document = corpus.document(&rows[row as usize], &hit.id)?;
            if !matches(&document, query) {
                self.false_positives += 1;
                eprintln!("false positive for {:?}: row {row}", case.query);
            }
        }
        for &row in &case.expected {
            self.candidates += 1;
            if found.contains(&row) {
                continue;
            }
            let document = corpus.document(&rows[row as usize], &ids[row as usize])?;
            if matches(&document, query) {
                self.misses += 1;
                eprintln!("missed row {row} for {:?}", case.query);
            }
        }
        if case.exact && found.len() != case.expected.len() {
            self.wrong_totals += 1;
            eprintln!(
                "{:?}: {} hits, truth {}",
                case.query,
                found.len(),
                case.expected.len()
            );
        }
        Ok(())
    }
}

impl std::fmt::Display for Checked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} queries, {} hits: {} false positives; {} truth candidates: {} missed",
            self.queries, self.hits, self.false_positives, self.candidates, self.misses
        )?;
        if self.wrong_totals > 0 {
            write!(f, "; {} totals differ from the truth", self.wrong_totals)?;
        }
        Ok(())
    }
}

/// The truth rows grouped by the values queries look for.
struct Truth<'a> {
    rows: &'a [TruthRow],
    by_address: HashMap<&'a str, Vec<u32>>,
    by_family: HashMap<String, Vec<u32>>,
    by_order: HashMap<&'a str, Vec<u32>>,
    by_phone: HashMap<&'a str, Vec<u32>>,
    orders: Vec<&'a str>,
}

impl<'a> Truth<'a> {
    fn new(rows: &'a [TruthRow]) -> Truth<'a> {
        let mut truth = Truth {
            rows,
            by_address: HashMap::new(),
            by_family: HashMap::new(),
            by_order: HashMap::new(),
            by_phone: HashMap::new(),
            orders: Vec::new(),
        };
        for (at, row) in rows.iter().enumerate() {
            let at = at as u32;
            truth.by_address.entry(&row.to).or_default().push(at);
            if let Some(name) = &row.customer_name {
                truth
                    .by_family
                    .entry(family_name(name))
                    .or_default()
                    .push(at);
            }
            if let Some(order) = &row.order_number {
                truth.by_order.entry(order).or_default().push(at);
            }
            if let Some(phone) = &row.phone {
                truth.by_phone.entry(phone).or_default().push(at);
            }
        }
        truth.orders = truth.by_order.keys().copied().collect();
        truth.orders.sort_unstable();
        truth
    }
}

/// Returns the family name: the normalized name up to its first space.
fn family_name(name: &str) -> String {
    normalize(name)
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Builds a random query of `kind` and the truth rows it must find.
fn make_case(kind: &str, truth: &Truth<'_>, random: &mut Random) -> Case {
    let rows = truth.rows;
    let row = &rows[random.below(rows.len())];
    let case = |query: String, expected: Vec<u32>| Case {
        query,
        expected,
        exact: false,
    };
    match kind {
        "partial address" => {
            let local = row.to.split('@').next().unwrap_or_default();
            let part: String = local.chars().take(7).collect();
            let expected = truth
                .by_address
                .iter()
                .filter(|(address, _)| address.contains(part.as_str()))
                .flat_map(|(_, rows)| rows.iter().copied())
                .collect();
            case(part, expected)
        }
        "full address, upper case" => case(
            row.to.to_uppercase(),
            truth.by_address[row.to.as_str()].clone(),
        ),
        "family name (kanji)" => {
            let family = family_name(row.customer_name.as_deref().unwrap_or("山田 太郎"));
            let expected = truth.by_family.get(&family).cloned().unwrap_or_default();
            case(family, expected)
        }
        "order number" | "order number fragment" => {
            let order = truth.orders[random.below(truth.orders.len())];
            let expected = truth.by_order[order].clone();
            let query = if kind == "order number" {
                order.to_owned()
            } else {
                order[order.len() - 7..].to_owned()
            };
            case(query, expected)
        }
        "phone with hyphens" | "phone without hyphens" => {
            let phone = row.phone.as_deref().unwrap_or("090-0000-0000");
            let expected = truth.by_phone.get(phone).cloned().unwrap_or_default();
            let query = if kind == "phone with hyphens" {
                phone.to_owned()
            } else {
                phone.replace('-', "")
            };
            case(query, expected)
        }
        _ => {
            // Seven days from the row's day (JST), of the row's kind.
            let jst = FixedOffset::east_opt(9 * 3600).expect("valid offset");
            let date = DateTime::<Utc>::from_timestamp(row.timestamp, 0).unwrap_or_default();
            let from = date.with_timezone(&jst).date_naive();
            let to = from + chrono::Days::new(7);
            let start = from
                .and_hms_opt(0, 0, 0)
                .expect("midnight")
                .and_utc()
                .timestamp()
                - 9 * 3600;
            let end = start + 7 * 86_400;
            // Rows are in date order, so the range is one slice.
            let first = rows.partition_point(|other| other.timestamp < start);
            let last = rows.partition_point(|other| other.timestamp < end);
            let expected = (first..last)
                .filter(|&at| rows[at].kind == row.kind)
                .map(|at| at as u32)
                .collect();
            Case {
                query: format!("kind:{} after:{from} before:{to}", row.kind),
                expected,
                exact: true,
            }
        }
    }
}
