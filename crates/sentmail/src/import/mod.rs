//! `sentmail import`: stream messages from files into the archive.
//!
//! A blocking thread reads the inputs one message at a time into a bounded
//! channel, so memory does not grow with the corpus. Up to `--concurrency`
//! messages are recorded at once, which lets the journal share each sync
//! among them. A message that cannot be read or recorded is reported with
//! its file and offset, and the import goes on.

mod mbox;
mod sources;
mod summary;

pub use summary::ImportSummary;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use archive_core::search::IndexDocument;
use archive_core::{Archive, RecordError, RecordMeta, RecordStatus, Source, parse_message};
use bytes::Bytes;
use chrono::Utc;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::cli::ImportArgs;
use crate::progress;
use sources::{Item, Origin};
use summary::Outcome;

/// Longest time one message waits for room in a full journal before it is
/// reported as failed.
const FULL_JOURNAL_PATIENCE: Duration = Duration::from_secs(600);

/// Runs the import and returns its summary.
pub async fn run(archive: &Archive, args: &ImportArgs) -> anyhow::Result<ImportSummary> {
    let started = Instant::now();
    let paths = args.paths.clone();
    let plan = tokio::task::spawn_blocking(move || sources::plan(&paths)).await?;
    let files = plan.files.len() as u64;

    let bytes_read = Arc::new(AtomicU64::new(0));
    let bar = progress::bytes_bar(plan.total_bytes, !args.json);
    let (sender, mut items) = mpsc::channel::<Item>(256);
    let reader = {
        let bytes_read = bytes_read.clone();
        let max_len = args.max_size;
        let zone = archive.options().parse.default_zone;
        tokio::task::spawn_blocking(move || {
            sources::read_all(&plan, max_len, zone, &bytes_read, |item| {
                sender.blocking_send(item).is_ok()
            });
        })
    };

    let mut summary = ImportSummary::new(files);
    let mut running = JoinSet::new();
    let limit = usize::from(args.concurrency);
    let mut input_open = true;
    while input_open || !running.is_empty() {
        tokio::select! {
            item = items.recv(), if input_open && running.len() < limit => match item {
                Some(Item::Message { origin, raw, received_at }) => {
                    let archive = archive.clone();
                    let meta = import_meta(&origin, received_at);
                    running.spawn(record_one(archive, origin, Bytes::from(raw), meta));
                }
                Some(Item::Failure { origin, reason }) => summary.add(Outcome::failed(origin, reason)),
                None => input_open = false,
            },
            Some(done) = running.join_next(), if !running.is_empty() => {
                summary.add(done?);
            }
        }
        bar.set_position(bytes_read.load(Ordering::Relaxed));
        bar.set_message(summary.progress_line(started.elapsed()));
    }
    reader.await?;
    bar.finish_and_clear();

    summary.finish(started.elapsed());
    Ok(summary)
}

fn import_meta(origin: &Origin, received_at: Option<chrono::DateTime<Utc>>) -> RecordMeta {
    let mut meta = RecordMeta::new(Source::Import);
    meta.origin = Some(origin.to_string());
    meta.received_at = received_at;
    meta
}

/// Parses one message (to count parse flags and to hand the index its
/// document) and records it, waiting while the journal is full.
async fn record_one(archive: Archive, origin: Origin, raw: Bytes, meta: RecordMeta) -> Outcome {
    let parse_input = raw.clone();
    let parse_meta = meta.clone();
    let parse_options = archive.options().parse.clone();
    let parsed = tokio::task::spawn_blocking(move || {
        let message = parse_message(&parse_input, &parse_meta, Utc::now(), &parse_options);
        (message.flags.clone(), IndexDocument::from_message(&message))
    })
    .await;
    let (flags, document) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => return Outcome::failed(origin, format!("parsing failed: {error}")),
    };

    let waited_since = Instant::now();
    let mut pause = Duration::from_millis(20);
    let recorded = loop {
        let attempt = archive
            .record_with_document(raw.clone(), meta.clone(), document.clone())
            .await;
        match attempt {
            Err(RecordError::JournalFull { .. })
                if waited_since.elapsed() < FULL_JOURNAL_PATIENCE =>
            {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
            other => break other,
        }
    };

    match recorded {
        Ok(receipt) => Outcome::recorded(receipt.status == RecordStatus::Stored, flags),
        Err(error) => Outcome::failed(origin, format!("recording failed: {error}")),
    }
}
