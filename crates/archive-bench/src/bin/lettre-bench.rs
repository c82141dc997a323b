//! Measures the latency that `ArchivingTransport` adds to a lettre send,
//! per mail, against an SMTP sink on loopback (Postfix's `smtp-sink` in
//! `scripts/bench-lettre.sh`).
//!
//! One task sends one mail at a time through one lettre
//! `AsyncSmtpTransport` with its connection pool, as a shop's request
//! handler would. The modes take turns in rounds, in a rotating order, so
//! that drift on the machine reaches each of them alike:
//!
//! - `plain`: lettre alone, the baseline;
//! - `before-send`: `ArchivingTransport` with `RecordTiming::BeforeSend`;
//! - `while-sending`: `ArchivingTransport` with `RecordTiming::WhileSending`;
//! - `record-only` (with `--record-only`): `Archive::record` without a send,
//!   which shows the archive's own share.
//!
//! Every mode sends the same corpus messages, each with its own Message-ID
//! and idempotency key, so the archive stores every send. The archive is a
//! `sentmail::EmbeddedArchive` with default options in a temporary
//! directory. Before the warm-up, the program records corpus messages
//! without sending them until the archive has trained its compression
//! dictionary, which an archive in use already has. The archive is flushed,
//! untimed, after each block of sends, so a block starts with no background
//! work left from the block before. At the end the program closes the
//! archive and checks that it contains exactly the recorded and archived
//! mails, each archiving send with one send status, and fails otherwise.
//!
//! NOTE: lettre 0.11.23 leaves Nagle's algorithm on, so every send waits
//! for the sink's delayed ACK (about 40 ms on Linux), which hides the
//! archive's cost. `scripts/bench-lettre.sh --quickack` removes that wait.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use archive_bench::quantile;
use archive_core::sending::{ArchivingTransport, RecordTiming};
use archive_core::{ArchiveId, ArchiveOptions, Receipt, RecordMeta, RecordStatus, Source, Storage};
use archive_fs::FsStorage;
use clap::Parser;
use lettre::address::{Address, Envelope};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use sentmail::EmbeddedArchive;
use serde::Deserialize;

/// Measure the per-mail latency that ArchivingTransport adds to a lettre send.
#[derive(Debug, Parser)]
struct Args {
    /// SMTP sink to send to. It must be a loopback address, such as
    /// 127.0.0.1:2525.
    #[arg(long)]
    sink: SocketAddr,
    /// Corpus directory written by `gen_corpus.py --format eml`.
    #[arg(long)]
    corpus: PathBuf,
    /// Ground-truth file of the corpus (`gen_corpus.py --truth`). Defaults
    /// to CORPUS/truth.jsonl.
    #[arg(long)]
    truth: Option<PathBuf>,
    /// Timed rounds. Each round sends one block of mails in every mode.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Mails per mode in each round.
    #[arg(long, default_value_t = 200)]
    per_round: usize,
    /// Untimed mails per mode before the rounds.
    #[arg(long, default_value_t = 100)]
    warmup: usize,
    /// Corpus messages recorded before the warm-up, without a send. The
    /// default is the number that trains the compression dictionary.
    #[arg(long, default_value_t = ArchiveOptions::default().dictionary_training_messages)]
    prime: usize,
    /// Also time `Archive::record` alone, without a send, as a fourth mode.
    #[arg(long)]
    record_only: bool,
    /// Directory for the temporary archive. Defaults to the system's
    /// temporary directory.
    #[arg(long)]
    work_dir: Option<PathBuf>,
}

/// Maximum wait for the archive to move a block's mails into storage and
/// the index, and for the dictionary to be trained.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(120);
/// Appends of the fsync probe, and the size of each.
const PROBE_APPENDS: usize = 300;
const PROBE_APPEND_BYTES: usize = 8 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Recorded before the warm-up; never timed.
    Prime,
    Plain,
    BeforeSend,
    WhileSending,
    RecordOnly,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Prime => "prime",
            Mode::Plain => "plain",
            Mode::BeforeSend => "before-send",
            Mode::WhileSending => "while-sending",
            Mode::RecordOnly => "record-only",
        }
    }

    fn sends_status(self) -> bool {
        matches!(self, Mode::BeforeSend | Mode::WhileSending)
    }
}

/// One line of the corpus's ground-truth file, the fields used here.
#[derive(Debug, Deserialize)]
struct TruthLine {
    index: usize,
    kind: String,
    from: String,
    to: String,
    customer_id: u64,
    order_number: Option<String>,
    path: String,
}

/// A corpus message and the shop data sent with it.
struct Mail {
    index: usize,
    raw: Vec<u8>,
    envelope: Envelope,
    kind: String,
    customer_id: String,
    order_id: Option<String>,
}

impl Mail {
    /// Returns the metadata a shop records with this mail. The idempotency
    /// key contains the mode, so no send counts as a retry of another.
    fn meta(&self, mode: Mode) -> RecordMeta {
        let key = format!("{}/{}/{}", mode.name(), self.kind, self.index);
        let mut meta = RecordMeta::new(Source::App)
            .with_kind(self.kind.clone())
            .with_customer_id(self.customer_id.clone())
            .with_idempotency_key(key);
        if let Some(order_id) = &self.order_id {
            meta = meta.with_order_id(order_id.clone());
        }
        meta
    }

    /// Returns the message as sent in `mode`, with the mode's name in front
    /// of its Message-ID, so that each mode's copy is a message of its own.
    fn raw_for(&self, mode: Mode) -> anyhow::Result<Vec<u8>> {
        tag_message_id(&self.raw, mode.name()).with_context(|| {
            format!(
                "corpus message {} has no Message-ID header, or its lines do not end in CRLF",
                self.index
            )
        })
    }
}

/// Returns `raw` with `tag` and a dot inserted after the `<` of its
/// Message-ID header, or `None` when the header has no Message-ID.
fn tag_message_id(raw: &[u8], tag: &str) -> Option<Vec<u8>> {
    let header_end = find(raw, b"\r\n\r\n")?;
    let mut line_start = 0;
    while line_start < header_end {
        let line_end = line_start + find(&raw[line_start..], b"\r\n")?;
        let line = &raw[line_start..line_end];
        let name = b"message-id:";
        if line.len() > name.len() && line[..name.len()].eq_ignore_ascii_case(name) {
            let open = line_start + line.iter().position(|&byte| byte == b'<')? + 1;
            let mut tagged = Vec::with_capacity(raw.len() + tag.len() + 1);
            tagged.extend_from_slice(&raw[..open]);
            tagged.extend_from_slice(tag.as_bytes());
            tagged.push(b'.');
            tagged.extend_from_slice(&raw[open..]);
            return Some(tagged);
        }
        line_start = line_end + 2;
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Reads the first `count` messages of the corpus with their truth lines.
fn load_corpus(dir: &Path, truth: &Path, count: usize) -> anyhow::Result<Vec<Mail>> {
    let file = File::open(truth)
        .with_context(|| format!("opening the truth file {} failed", truth.display()))?;
    let mut mails = Vec::with_capacity(count);
    for line in BufReader::new(file).lines().take(count) {
        let line = line.with_context(|| format!("reading {} failed", truth.display()))?;
        let truth: TruthLine = serde_json::from_str(&line)
            .with_context(|| format!("invalid line in {}: {line}", truth.display()))?;
        let path = dir.join(&truth.path);
        let raw =
            std::fs::read(&path).with_context(|| format!("reading {} failed", path.display()))?;
        let from: Address = truth
            .from
            .parse()
            .with_context(|| format!("invalid sender address {:?}", truth.from))?;
        let to: Address = truth
            .to
            .parse()
            .with_context(|| format!("invalid recipient address {:?}", truth.to))?;
        mails.push(Mail {
            index: truth.index,
            raw,
            envelope: Envelope::new(Some(from), vec![to])?,
            kind: truth.kind,
            customer_id: format!("C-{:06}", truth.customer_id),
            order_id: truth.order_number,
        });
    }
    anyhow::ensure!(
        mails.len() == count,
        "the corpus in {} has {} messages, but the run needs {count}. Generate a larger one with gen_corpus.py -n",
        dir.display(),
        mails.len()
    );
    Ok(mails)
}

type Relay = AsyncSmtpTransport<Tokio1Executor>;

/// The transports of every mode, on one lettre pool and one archive.
struct Senders {
    relay: Relay,
    before_send: ArchivingTransport<Relay>,
    while_sending: ArchivingTransport<Relay>,
    archive: EmbeddedArchive,
    /// Ids of the mails archived by the two archiving modes.
    with_status: Vec<ArchiveId>,
    /// Ids of the mails recorded without a send (primed and `record-only`).
    without_status: Vec<ArchiveId>,
}

impl Senders {
    /// Sends `mail` in `mode` and returns the time the caller waited.
    async fn send(&mut self, mode: Mode, mail: &Mail) -> anyhow::Result<Duration> {
        let raw = mail.raw_for(mode)?;
        let mut meta = mail.meta(mode);
        if matches!(mode, Mode::Prime | Mode::RecordOnly) {
            // ArchivingTransport fills these from the envelope.
            meta.envelope_from = mail.envelope.from().map(ToString::to_string);
            meta.envelope_to = mail.envelope.to().iter().map(ToString::to_string).collect();
        }
        let failed = || format!("corpus message {} ({}) failed", mail.index, mode.name());
        let started = Instant::now();
        let (elapsed, receipt) = match mode {
            Mode::Plain => {
                let response = self.relay.send_raw(&mail.envelope, &raw).await;
                let elapsed = started.elapsed();
                let response = response.with_context(failed)?;
                anyhow::ensure!(
                    response.is_positive(),
                    "the sink rejected corpus message {}: {response:?}",
                    mail.index
                );
                return Ok(elapsed);
            }
            Mode::BeforeSend | Mode::WhileSending => {
                let transport = if mode == Mode::BeforeSend {
                    &self.before_send
                } else {
                    &self.while_sending
                };
                let sent = transport.send_raw_with(&mail.envelope, &raw, meta).await;
                let elapsed = started.elapsed();
                let sent = sent.with_context(failed)?;
                (elapsed, sent.receipt)
            }
            Mode::Prime | Mode::RecordOnly => {
                let receipt = self.archive.record(raw, meta).await;
                (started.elapsed(), Some(receipt.with_context(failed)?))
            }
        };

        let Some(Receipt { id, status }) = receipt else {
            anyhow::bail!(
                "corpus message {} ({}) got no receipt",
                mail.index,
                mode.name()
            );
        };
        anyhow::ensure!(
            status == RecordStatus::Stored,
            "corpus message {} ({}) was not stored as new: {status:?}",
            mail.index,
            mode.name()
        );
        if mode.sends_status() {
            self.with_status.push(id);
        } else {
            self.without_status.push(id);
        }
        Ok(elapsed)
    }
}

/// The figures of one mode over all rounds.
#[derive(Default)]
struct Figures {
    latencies: Vec<Duration>,
    round_medians: Vec<Duration>,
    journal_syncs: u64,
    /// Time of the flushes after the blocks.
    drain: Duration,
    /// CPU time of the whole process during the blocks and their flushes.
    cpu: Duration,
}

/// Returns the CPU time (user and system) that this process has used, from
/// `/proc/self/stat`, in clock ticks of 10 ms (USER_HZ, 100 on x86-64 Linux).
fn process_cpu() -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // The command name is in parentheses and may contain spaces, so fields
    // are counted after it. utime and stime are fields 14 and 15 of the line.
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("/proc/self/stat has no command name")?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| -> anyhow::Result<u64> {
        let field = fields.get(index).context("/proc/self/stat is too short")?;
        Ok(field.parse()?)
    };
    let total = ticks(11)? + ticks(12)?;
    Ok(Duration::from_millis(total * 10))
}

/// Sends `mails` in `mode`, one after another, then flushes the archive.
/// Adds the figures to `figures` unless it is `None` (warm-up).
async fn run_block(
    senders: &mut Senders,
    mode: Mode,
    mails: &[Mail],
    figures: Option<&mut Figures>,
) -> anyhow::Result<()> {
    let syncs_before = senders.archive.stats().journal_syncs;
    let cpu_before = process_cpu()?;
    let mut latencies = Vec::with_capacity(mails.len());
    for mail in mails {
        latencies.push(senders.send(mode, mail).await?);
    }
    let drain_started = Instant::now();
    senders.archive.flush(DRAIN_TIMEOUT).await?;
    let drain = drain_started.elapsed();

    if let Some(figures) = figures {
        figures.journal_syncs += senders.archive.stats().journal_syncs - syncs_before;
        figures.drain += drain;
        figures.cpu += process_cpu()? - cpu_before;
        figures.latencies.extend_from_slice(&latencies);
        figures.round_medians.push(quantile(&mut latencies, 0.5));
    }
    Ok(())
}

/// Waits until storage contains a compression dictionary, so that training
/// it does not fall into the timed rounds.
async fn wait_for_dictionary(storage: &FsStorage) -> anyhow::Result<()> {
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    while storage.dictionaries().await?.is_empty() {
        anyhow::ensure!(
            Instant::now() < deadline,
            "no compression dictionary was stored within {} s of priming the archive",
            DRAIN_TIMEOUT.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Times `PROBE_APPENDS` appends of `PROBE_APPEND_BYTES` to a file in
/// `dir`, each followed by `fdatasync`, which is about what the journal
/// does for one message of the corpus (compressed to a few KiB).
fn probe_fdatasync(dir: &Path) -> anyhow::Result<Vec<Duration>> {
    let path = dir.join("fdatasync.probe");
    let mut file = File::create(&path)?;
    let block = vec![0x5au8; PROBE_APPEND_BYTES];
    let mut latencies = Vec::with_capacity(PROBE_APPENDS);
    for _ in 0..PROBE_APPENDS {
        let started = Instant::now();
        file.write_all(&block)?;
        file.sync_data()?;
        latencies.push(started.elapsed());
    }
    drop(file);
    std::fs::remove_file(&path)?;
    Ok(latencies)
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

/// Prints one line per mode and the comparison with the baseline.
fn report(modes: &[Mode], figures: &mut [Figures]) {
    let baseline_median = quantile(&mut figures[0].latencies, 0.5);
    let baseline_p99 = quantile(&mut figures[0].latencies, 0.99);
    println!(
        "{:<14} {:>6} {:>10} {:>10} {:>12} {:>10} {:>11} {:>11} {:>12} {:>9}",
        "mode",
        "mails",
        "median µs",
        "p99 µs",
        "Δ median µs",
        "Δ p99 µs",
        "Δ median %",
        "syncs/mail",
        "CPU µs/mail",
        "drain ms"
    );
    for (mode, figures) in modes.iter().zip(figures.iter_mut()) {
        let count = figures.latencies.len();
        let median = quantile(&mut figures.latencies, 0.5);
        let p99 = quantile(&mut figures.latencies, 0.99);
        let delta_median = micros(median) - micros(baseline_median);
        let delta_p99 = micros(p99) - micros(baseline_p99);
        println!(
            "{:<14} {:>6} {:>10.0} {:>10.0} {:>12.0} {:>10.0} {:>10.1}% {:>11.2} {:>12.0} {:>9.1}",
            mode.name(),
            count,
            micros(median),
            micros(p99),
            delta_median,
            delta_p99,
            100.0 * delta_median / micros(baseline_median),
            figures.journal_syncs as f64 / count as f64,
            micros(figures.cpu) / count as f64,
            figures.drain.as_secs_f64() * 1e3 / figures.round_medians.len() as f64,
        );
    }
    println!("median of each round, µs (blocks in rotating order):");
    for (mode, figures) in modes.iter().zip(figures.iter()) {
        let medians: Vec<String> = figures
            .round_medians
            .iter()
            .map(|median| format!("{:.0}", micros(*median)))
            .collect();
        println!("  {:<14} {}", mode.name(), medians.join("  "));
    }
    for (mode, figures) in modes.iter().zip(figures.iter_mut()).skip(1) {
        if !mode.sends_status() {
            continue;
        }
        let median = quantile(&mut figures.latencies, 0.5);
        let ratio = (micros(median) - micros(baseline_median)) / micros(baseline_median);
        let verdict = if ratio <= 0.10 { "met" } else { "not met" };
        println!(
            "{}: median overhead {:.1}% of the plain send; target at most 10%: {verdict}",
            mode.name(),
            100.0 * ratio
        );
    }
}

/// Checks that the closed archive contains exactly the recorded and archived
/// mails, and one send status for each mail an archiving mode sent.
async fn check_archive(senders: &Senders) -> anyhow::Result<()> {
    let expected: HashSet<ArchiveId> = senders
        .with_status
        .iter()
        .chain(&senders.without_status)
        .copied()
        .collect();
    let stored: HashSet<ArchiveId> = senders
        .archive
        .entries()
        .await?
        .into_iter()
        .map(|info| info.id)
        .collect();
    let missing = expected.difference(&stored).count();
    let unexpected = stored.difference(&expected).count();
    anyhow::ensure!(
        missing == 0 && unexpected == 0,
        "the archive contains {} messages, expected {}: {missing} missing, {unexpected} not recorded by this run",
        stored.len(),
        expected.len()
    );
    let mut wrong_statuses = 0;
    for id in &senders.with_status {
        if senders.archive.send_statuses(id).await.len() != 1 {
            wrong_statuses += 1;
        }
    }
    anyhow::ensure!(
        wrong_statuses == 0,
        "{wrong_statuses} of {} archived sends do not have exactly one send status",
        senders.with_status.len()
    );
    println!(
        "archive check: {} messages, exactly those recorded; each of the {} archiving sends has one send status",
        stored.len(),
        senders.with_status.len()
    );
    Ok(())
}

async fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.sink.ip().is_loopback(),
        "--sink {} is not a loopback address. This benchmark sends only to this machine",
        args.sink
    );
    anyhow::ensure!(
        args.rounds > 0 && args.per_round > 0,
        "--rounds and --per-round must be at least 1"
    );
    let truth = args
        .truth
        .clone()
        .unwrap_or_else(|| args.corpus.join("truth.jsonl"));
    let needed = (args.warmup + args.rounds * args.per_round).max(args.prime);
    let mails = load_corpus(&args.corpus, &truth, needed)?;
    let mean = mails.iter().map(|mail| mail.raw.len()).sum::<usize>() / mails.len();
    println!(
        "corpus: {} messages from {}, mean size {mean} bytes",
        mails.len(),
        args.corpus.display()
    );

    let mut modes = vec![Mode::Plain, Mode::BeforeSend, Mode::WhileSending];
    if args.record_only {
        modes.push(Mode::RecordOnly);
    }

    let work = args.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::tempdir_in(&work)?;
    let storage = Arc::new(FsStorage::open(dir.path()).await?);
    // What `EmbeddedArchive::open` does, keeping the storage handle to
    // watch for the dictionary.
    let archive =
        EmbeddedArchive::open_on(storage.clone(), dir.path(), ArchiveOptions::default()).await?;

    let relay = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(args.sink.ip().to_string())
        .port(args.sink.port())
        .build();
    let before_send =
        ArchivingTransport::new(&archive, relay.clone()).timing(RecordTiming::BeforeSend);
    let while_sending =
        ArchivingTransport::new(&archive, relay.clone()).timing(RecordTiming::WhileSending);
    let mut senders = Senders {
        relay,
        before_send,
        while_sending,
        archive,
        with_status: Vec::new(),
        without_status: Vec::new(),
    };

    let started = Instant::now();
    run_block(&mut senders, Mode::Prime, &mails[..args.prime], None).await?;
    if args.prime >= senders.archive.options().dictionary_training_messages {
        wait_for_dictionary(&storage).await?;
    }
    println!(
        "primed: {} messages recorded in {:.1} s; the archive has a trained dictionary: {}",
        args.prime,
        started.elapsed().as_secs_f64(),
        !storage.dictionaries().await?.is_empty()
    );

    let (warmup, timed) = mails[..args.warmup + args.rounds * args.per_round].split_at(args.warmup);
    let started = Instant::now();
    for &mode in &modes {
        run_block(&mut senders, mode, warmup, None).await?;
    }
    println!(
        "warm-up: {} mails per mode in {:.1} s",
        args.warmup,
        started.elapsed().as_secs_f64()
    );

    let mut probe = probe_fdatasync(dir.path())?;
    println!(
        "fdatasync after an append of {PROBE_APPEND_BYTES} bytes, {PROBE_APPENDS} times: median {:.0} µs, p99 {:.0} µs",
        micros(quantile(&mut probe, 0.5)),
        micros(quantile(&mut probe, 0.99))
    );

    let mut figures: Vec<Figures> = modes.iter().map(|_| Figures::default()).collect();
    let started = Instant::now();
    for (round, block) in timed.chunks(args.per_round).enumerate() {
        for turn in 0..modes.len() {
            let slot = (round + turn) % modes.len();
            run_block(&mut senders, modes[slot], block, Some(&mut figures[slot])).await?;
        }
    }
    println!(
        "{} rounds of {} mails per mode in {:.1} s (journal syncs include those of send statuses)",
        args.rounds,
        args.per_round,
        started.elapsed().as_secs_f64()
    );
    report(&modes, &mut figures);

    senders.relay.shutdown().await;
    senders.archive.close().await?;
    check_archive(&senders).await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let args = Args::parse();
    // The sends run on a worker thread, as a shop's request handler does.
    tokio::spawn(run(args)).await?
}
