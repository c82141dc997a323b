//! Measures `FsStorage`: put throughput, get latency, open time and memory
//! per catalog entry.
//!
//! Run with `cargo run --release -p archive-fs --example measure [DIR]`.
//! DIR is where the store is built (default: a new temporary directory,
//! removed at the end). The store takes about 520 MB. Open, memory and get
//! are measured in fresh child processes (`measure --open DIR`), so memory
//! freed by the put phase does not hide the catalog's growth.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use archive_core::pack::FooterEntry;
use archive_core::{ArchiveId, EntryInfo, PackEntry, Partition, Storage};
use archive_fs::FsStorage;
use bytes::Bytes;
use chrono::{DateTime, NaiveDate};

/// Packs written: 200 packs of 500 entries give 100,000 entries.
const PACKS: usize = 200;
const BATCH_LEN: usize = 500;
/// Mean frame size in bytes. Frames vary from 4 KB to 6 KB.
const FRAME_LEN: usize = 5_000;
/// Partitions the packs are spread over, as days of one class.
const DAYS: usize = 20;
/// Puts running at once in the concurrent phase.
const CONCURRENT_PUTS: usize = 4;
const GETS: usize = 20_000;
/// Fresh processes that each open the store once.
const OPEN_RUNS: usize = 3;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 3 && args[1] == "--open" {
        measure_open_and_gets(Path::new(&args[2])).await;
        return;
    }

    let (_temp, dir) = store_dir(args.get(1));
    println!("store directory: {}", dir.display());
    let mut random = XorShift(0x2545_F491_4F6C_DD1D);
    let mut batches: Vec<(Partition, Vec<PackEntry>)> = (0..PACKS)
        .map(|n| (day(n % DAYS), batch(n, &mut random)))
        .collect();
    let concurrent = batches.split_off(PACKS / 2);

    let storage = Arc::new(FsStorage::open(&dir).await.expect("open store"));
    measure_sequential_puts(&storage, batches).await;
    measure_concurrent_puts(&storage, concurrent).await;
    drop(storage);

    for _ in 0..OPEN_RUNS {
        let status = Command::new(std::env::current_exe().expect("path of this program"))
            .arg("--open")
            .arg(&dir)
            .status()
            .expect("run the open measurement");
        assert!(status.success(), "open measurement failed: {status}");
    }
}

/// Opens the store in this fresh process and measures open time, memory
/// growth and the latency of random gets.
async fn measure_open_and_gets(dir: &Path) {
    let rss_before = resident_bytes();
    let started = Instant::now();
    let storage = FsStorage::open(dir).await.expect("reopen store");
    let open_time = started.elapsed();
    let rss_after = resident_bytes();

    let mut ids = Vec::new();
    for day in storage.partitions().await.expect("partitions") {
        let listed = storage.list(&day).await.expect("list");
        ids.extend(listed.iter().map(|entry| entry.info.id));
    }
    println!(
        "open: {} entries in {:.1} ms (fresh process, page cache warm)",
        ids.len(),
        ms(open_time)
    );
    report_memory(rss_before, rss_after, ids.len());
    measure_gets(&storage, &ids, &mut XorShift(0x9E37_79B9_7F4A_7C15)).await;
}

/// Returns the store directory `arg`, or a new temporary directory that is
/// removed when the returned guard drops.
fn store_dir(arg: Option<&String>) -> (Option<tempfile::TempDir>, PathBuf) {
    match arg {
        Some(dir) => (None, PathBuf::from(dir)),
        None => {
            let temp = tempfile::tempdir().expect("create temporary directory");
            let path = temp.path().to_path_buf();
            (Some(temp), path)
        }
    }
}

async fn measure_sequential_puts(storage: &FsStorage, batches: Vec<(Partition, Vec<PackEntry>)>) {
    let (packs, bytes) = totals(&batches);
    let started = Instant::now();
    for (day, entries) in batches {
        let outcome = storage.put(&day, entries).await.expect("put");
        assert_eq!(outcome.stored, BATCH_LEN);
    }
    report_puts("one at a time", packs, bytes, started.elapsed());
}

async fn measure_concurrent_puts(
    storage: &Arc<FsStorage>,
    batches: Vec<(Partition, Vec<PackEntry>)>,
) {
    let (packs, bytes) = totals(&batches);
    let mut queues: Vec<Vec<(Partition, Vec<PackEntry>)>> = vec![Vec::new(); CONCURRENT_PUTS];
    for (n, batch) in batches.into_iter().enumerate() {
        queues[n % CONCURRENT_PUTS].push(batch);
    }

    let started = Instant::now();
    let mut tasks = Vec::new();
    for queue in queues {
        let storage = storage.clone();
        tasks.push(tokio::spawn(async move {
            for (day, entries) in queue {
                let outcome = storage.put(&day, entries).await.expect("put");
                assert_eq!(outcome.stored, BATCH_LEN);
            }
        }));
    }
    for task in tasks {
        task.await.expect("put task");
    }
    report_puts(
        &format!("{CONCURRENT_PUTS} at a time"),
        packs,
        bytes,
        started.elapsed(),
    );
}

fn totals(batches: &[(Partition, Vec<PackEntry>)]) -> (usize, usize) {
    let bytes = batches
        .iter()
        .flat_map(|(_, entries)| entries.iter().map(|entry| entry.frame.len()))
        .sum();
    (batches.len(), bytes)
}

fn report_puts(mode: &str, packs: usize, bytes: usize, elapsed: Duration) {
    let seconds = elapsed.as_secs_f64();
    println!(
        "put, {mode}: {packs} packs of {BATCH_LEN} frames ({:.0} MB) in {seconds:.2} s: \
         {:.1} packs/s, {:.1} MB/s",
        bytes as f64 / 1e6,
        packs as f64 / seconds,
        bytes as f64 / 1e6 / seconds
    );
}

async fn measure_gets(storage: &FsStorage, ids: &[ArchiveId], random: &mut XorShift) {
    let mut latencies = Vec::with_capacity(GETS);
    for _ in 0..GETS {
        let id = ids[random.next() as usize % ids.len()];
        let started = Instant::now();
        let entry = storage.get(&id).await.expect("get");
        latencies.push(started.elapsed());
        assert_eq!(entry.info.id, id);
    }
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    let p99 = latencies[latencies.len() * 99 / 100];
    println!(
        "get: {GETS} random ids of {}: median {:.1} µs, p99 {:.1} µs (page cache warm)",
        ids.len(),
        us(median),
        us(p99)
    );
}

/// Prints the measured resident-memory growth of open and the estimate
/// from struct sizes.
fn report_memory(before: Option<u64>, after: Option<u64>, entries: usize) {
    if let (Some(before), Some(after)) = (before, after) {
        let per_entry = after.saturating_sub(before) as f64 / entries as f64;
        println!("memory: resident set grew by {per_entry:.0} bytes per entry during open");
    }
    // The catalog keeps one FooterEntry per entry in its pack, and one
    // HashMap slot of ArchiveId plus EntryRef (an Arc pointer and a u32
    // row index, padded to 16 bytes) per id.
    let slot = size_of::<ArchiveId>() + 16;
    println!(
        "memory estimate: FooterEntry {} bytes (EntryInfo {}), id map slot {} bytes \
         plus 1 control byte, plus heap for Message-ID and idempotency key",
        size_of::<FooterEntry>(),
        size_of::<EntryInfo>(),
        slot
    );
}

/// Returns the resident set size of this process, read from /proc (Linux).
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn day(n: usize) -> Partition {
    let date = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap() + chrono::Days::new(n as u64);
    Partition::new("default", date).unwrap()
}

/// Returns the entries of pack `n`: frames of random bytes (compressed mail
/// does not compress further) and facts of typical size.
fn batch(n: usize, random: &mut XorShift) -> Vec<PackEntry> {
    (0..BATCH_LEN)
        .map(|i| {
            let len = FRAME_LEN - 1_000 + random.next() as usize % 2_001;
            let frame: Vec<u8> = (0..len).map(|_| random.next() as u8).collect();
            let info = EntryInfo {
                id: ArchiveId::of(format!("pack {n} message {i}").as_bytes()),
                date: DateTime::from_timestamp_millis(1_764_840_000_000).unwrap(),
                recorded_at: DateTime::from_timestamp_millis(1_764_840_000_500).unwrap(),
                raw_len: len as u64 * 3,
                message_id: Some(format!("20261204.{n:06}.{i:06}.a1b2c3d4@shop.example.com")),
                idempotency_key: Some(format!("order-{n:06}{i:04}/confirmation")),
                role: archive_core::EntryRole::Message,
                source: archive_core::Source::App,
            };
            PackEntry {
                info,
                frame: Bytes::from(frame),
            }
        })
        .collect()
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn us(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}
