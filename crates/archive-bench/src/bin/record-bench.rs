//! Measures `Archive::record` on a local disk and prints the figures.
//!
//! 1. Sequential write bandwidth of the disk (1 MiB writes, one fdatasync).
//! 2. Baseline: the same archive with group commit off, so every message
//!    costs one fdatasync, with the same number of concurrent callers.
//! 3. Throughput: concurrent callers record the whole corpus.
//! 4. Latency: an open-loop load at half the measured throughput.
//!
//! Every run starts from an empty archive on `FsStorage` in a temporary
//! directory on the same disk, so the background mover writes packs while
//! the callers record, as in production.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use archive_bench::{load_mbox, mean_size, median, quantile, write_bandwidth};
use archive_core::{Archive, ArchiveOptions, RecordError, RecordMeta, Source};
use archive_fs::FsStorage;
use bytes::Bytes;
use clap::Parser;

/// Measure record throughput and latency.
#[derive(Debug, Parser)]
struct Args {
    /// Corpus to record, as an mbox file (for example from gen_corpus.py).
    #[arg(long)]
    corpus: PathBuf,
    /// Number of messages to load from the corpus.
    #[arg(long, default_value_t = 100_000)]
    messages: usize,
    /// Concurrent callers of `record`.
    #[arg(long, default_value_t = 16)]
    callers: usize,
    /// Messages recorded in the one-fsync-per-message baseline.
    #[arg(long, default_value_t = 10_000)]
    baseline_messages: usize,
    /// Messages recorded in the latency run.
    #[arg(long, default_value_t = 30_000)]
    latency_messages: usize,
    /// Directory for the temporary archives; defaults to the system's.
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// zstd level of stored messages.
    #[arg(long, default_value_t = ArchiveOptions::default().compression_level)]
    level: i32,
    /// Skip the bandwidth probe and the baseline, for profiling.
    #[arg(long)]
    throughput_only: bool,
    /// Compress without a trained dictionary.
    #[arg(long)]
    no_dictionary: bool,
}

/// Archive settings of one run.
#[derive(Debug, Clone, Copy)]
struct Settings {
    group_commit: bool,
    level: i32,
    dictionary: bool,
}

/// Figures of one throughput run.
struct Run {
    rate: f64,
    syncs: u64,
    full_retries: u64,
}

async fn open(dir: &Path, settings: Settings) -> anyhow::Result<Archive> {
    let storage = FsStorage::open(dir).await?;
    let mut options = ArchiveOptions::default();
    options.journal.group_commit = settings.group_commit;
    options.compression_level = settings.level;
    if !settings.dictionary {
        options.dictionary_training_messages = 0;
    }
    Ok(Archive::builder(Arc::new(storage), dir.join("journal"))
        .options(options)
        .open()
        .await?)
}

/// Records one message, retrying while the journal is full.
async fn record(archive: &Archive, raw: Bytes, full_retries: &AtomicU64) -> anyhow::Result<()> {
    loop {
        match archive
            .record(raw.clone(), RecordMeta::new(Source::App))
            .await
        {
            Ok(_) => return Ok(()),
            Err(RecordError::JournalFull { .. }) => {
                full_retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err(error) => return Err(error.into()),
        }
    }
}

/// `callers` tasks record `messages` as fast as they can.
async fn throughput(
    work: &Path,
    messages: &[Bytes],
    callers: usize,
    settings: Settings,
) -> anyhow::Result<Run> {
    let dir = tempfile::tempdir_in(work)?;
    let archive = open(dir.path(), settings).await?;
    let messages: Arc<Vec<Bytes>> = Arc::new(messages.to_vec());
    let next = Arc::new(AtomicU64::new(0));
    let full_retries = Arc::new(AtomicU64::new(0));

    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..callers {
        let (archive, messages, next, full) = (
            archive.clone(),
            messages.clone(),
            next.clone(),
            full_retries.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(raw) = messages.get(index) else {
                    return Ok::<_, anyhow::Error>(());
                };
                record(&archive, raw.clone(), &full).await?;
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    let elapsed = started.elapsed();
    let syncs = archive.stats().journal_syncs;
    archive.close(Duration::from_secs(600)).await?;

    Ok(Run {
        rate: messages.len() as f64 / elapsed.as_secs_f64(),
        syncs,
        full_retries: full_retries.load(Ordering::Relaxed),
    })
}

/// Records `messages` at a fixed arrival rate and returns each call's
/// latency.
async fn open_loop(
    work: &Path,
    messages: &[Bytes],
    rate: f64,
    settings: Settings,
) -> anyhow::Result<Vec<Duration>> {
    let dir = tempfile::tempdir_in(work)?;
    let archive = open(dir.path(), settings).await?;
    let full_retries = Arc::new(AtomicU64::new(0));
    let interval = Duration::from_secs_f64(1.0 / rate);

    let started = Instant::now();
    let mut tasks = Vec::with_capacity(messages.len());
    for (index, raw) in messages.iter().enumerate() {
        let due = started + interval.mul_f64(index as f64);
        tokio::time::sleep_until(due.into()).await;
        let (archive, raw, full) = (archive.clone(), raw.clone(), full_retries.clone());
        tasks.push(tokio::spawn(async move {
            let call = Instant::now();
            record(&archive, raw, &full).await.map(|()| call.elapsed())
        }));
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    for task in tasks {
        latencies.push(task.await??);
    }
    archive.close(Duration::from_secs(600)).await?;
    Ok(latencies)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let work = args.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    let messages = load_mbox(&args.corpus, args.messages)?;
    let mean = mean_size(&messages);
    println!(
        "corpus: {} messages, mean size {mean:.0} bytes",
        messages.len()
    );
    let grouped_settings = Settings {
        group_commit: true,
        level: args.level,
        dictionary: !args.no_dictionary,
    };
    let single_settings = Settings {
        group_commit: false,
        ..grouped_settings
    };
    if args.throughput_only {
        let run = throughput(&work, &messages, args.callers, grouped_settings).await?;
        println!(
            "group commit, {} callers, level {}: {:.0} messages/s",
            args.callers, args.level, run.rate
        );
        return Ok(());
    }

    let mut bandwidths: Vec<f64> = (0..3)
        .map(|_| write_bandwidth(&work, 1 << 30))
        .collect::<Result<_, _>>()?;
    let bandwidth = median(&mut bandwidths);
    let bandwidth_target = 0.5 * bandwidth / mean;
    println!(
        "sequential write bandwidth: {:.0} MiB/s (median of 3); 50% of it is {bandwidth_target:.0} messages/s",
        bandwidth / (1 << 20) as f64
    );

    let baseline_count = args.baseline_messages.min(messages.len());
    let baseline = throughput(
        &work,
        &messages[..baseline_count],
        args.callers,
        single_settings,
    )
    .await?;
    println!(
        "baseline, one fdatasync per message: {:.0} messages/s ({} messages, {} syncs); 4x is {:.0}",
        baseline.rate,
        baseline_count,
        baseline.syncs,
        baseline.rate * 4.0
    );

    let grouped = throughput(&work, &messages, args.callers, grouped_settings).await?;
    println!(
        "group commit, {} callers: {:.0} messages/s, {:.1} MiB/s of mail, {:.1} messages per sync, {} full-journal retries",
        args.callers,
        grouped.rate,
        grouped.rate * mean / (1 << 20) as f64,
        messages.len() as f64 / grouped.syncs.max(1) as f64,
        grouped.full_retries
    );
    println!(
        "ratios: {:.2}x the bandwidth target, {:.2}x the one-fsync baseline",
        grouped.rate / bandwidth_target,
        grouped.rate / baseline.rate
    );

    let latency_count = args.latency_messages.min(messages.len());
    let half = grouped.rate / 2.0;
    let mut latencies =
        open_loop(&work, &messages[..latency_count], half, grouped_settings).await?;
    println!(
        "latency at {half:.0} messages/s ({latency_count} messages): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        quantile(&mut latencies, 0.5).as_secs_f64() * 1e3,
        quantile(&mut latencies, 0.99).as_secs_f64() * 1e3,
        quantile(&mut latencies, 1.0).as_secs_f64() * 1e3,
    );
    Ok(())
}
