//! Sends a corpus to an SMTP server over concurrent connections and prints
//! the rate at which the server acknowledged it.
//!
//! Each connection sends MAIL, RCPT and DATA in one write (PIPELINING),
//! waits for `354`, sends the dot-stuffed message and waits for the final
//! reply. A message that gets a 4xx reply is sent again later, so the run
//! ends only when every message got `250`. With `--wait-maildir`, the run
//! also waits until that many files are in the Maildir's `new/`, which
//! measures a server that queues first and delivers later (Postfix).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use archive_bench::{load_mbox, mean_size, quantile};
use clap::Parser;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Send a corpus over SMTP and measure messages per second.
#[derive(Debug, Parser)]
struct Args {
    /// Corpus to send, as an mbox file (for example from gen_corpus.py).
    #[arg(long)]
    corpus: PathBuf,
    /// Number of messages to load from the corpus and send.
    #[arg(long, default_value_t = 100_000)]
    messages: usize,
    /// SMTP server address.
    #[arg(long)]
    server: SocketAddr,
    /// Concurrent connections.
    #[arg(long, default_value_t = 50)]
    connections: usize,
    /// Envelope sender.
    #[arg(long, default_value = "shop@bench.test")]
    from: String,
    /// Envelope recipient.
    #[arg(long, default_value = "archive@bench.test")]
    rcpt: String,
    /// After the last 250, wait until this Maildir's new/ contains every
    /// message, and report that rate too.
    #[arg(long)]
    wait_maildir: Option<PathBuf>,
    /// Label printed with the figures.
    #[arg(long, default_value = "server")]
    label: String,
    /// Client threads. One thread keeps the client's CPU share small; two
    /// show whether the client limits a fast server.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

/// Times a message may be deferred with 4xx before the run fails.
const MAX_DEFERRALS: u32 = 1000;
/// Wait before sending a deferred message again.
const DEFER_WAIT: Duration = Duration::from_millis(20);

struct Shared {
    messages: Vec<Vec<u8>>,
    next: AtomicUsize,
    deferred: AtomicU64,
    latencies: Mutex<Vec<Duration>>,
    from: String,
    rcpt: String,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()?
    };
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    eprintln!(
        "loading {} messages from {}",
        args.messages,
        args.corpus.display()
    );
    let raw = load_mbox(&args.corpus, args.messages)?;
    let count = raw.len();
    let mean = mean_size(&raw);
    let messages: Vec<Vec<u8>> = raw
        .iter()
        .map(|message| archive_smtp::protocol::dot_stuff(message))
        .collect();
    drop(raw);
    let shared = Arc::new(Shared {
        messages,
        next: AtomicUsize::new(0),
        deferred: AtomicU64::new(0),
        latencies: Mutex::new(Vec::with_capacity(count)),
        from: args.from.clone(),
        rcpt: args.rcpt.clone(),
    });

    eprintln!(
        "sending {count} messages (mean {mean:.0} bytes) to {} over {} connections",
        args.server, args.connections
    );
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.connections {
        tasks.push(tokio::spawn(connection(args.server, shared.clone())));
    }
    for task in tasks {
        task.await??;
    }
    let acknowledged = started.elapsed();

    let mut latencies = shared.latencies.lock().unwrap().clone();
    anyhow::ensure!(
        latencies.len() == count,
        "{} of {count} acknowledged",
        latencies.len()
    );
    let rate = count as f64 / acknowledged.as_secs_f64();
    println!(
        "{}: {count} messages acknowledged with 250 in {:.1} s: {rate:.0} messages/s, {:.1} MiB/s",
        args.label,
        acknowledged.as_secs_f64(),
        rate * mean / (1 << 20) as f64,
    );
    println!(
        "{}: deferred with 4xx and resent: {}; latency MAIL to 250: p50 {:.2} ms, p99 {:.2} ms",
        args.label,
        shared.deferred.load(Ordering::Relaxed),
        quantile(&mut latencies, 0.5).as_secs_f64() * 1000.0,
        quantile(&mut latencies, 0.99).as_secs_f64() * 1000.0,
    );

    if let Some(maildir) = &args.wait_maildir {
        let new = maildir.join("new");
        let deadline = Instant::now() + Duration::from_secs(3600);
        loop {
            let delivered = std::fs::read_dir(&new).map(|dir| dir.count()).unwrap_or(0);
            if delivered >= count {
                break;
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "only {delivered} of {count} delivered to {} within an hour",
                new.display()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let delivered = started.elapsed();
        println!(
            "{}: {count} messages delivered to the Maildir in {:.1} s: {:.0} messages/s",
            args.label,
            delivered.as_secs_f64(),
            count as f64 / delivered.as_secs_f64()
        );
    }
    Ok(())
}

/// Sends messages over one connection until none are left.
async fn connection(server: SocketAddr, shared: Arc<Shared>) -> anyhow::Result<()> {
    let stream = TcpStream::connect(server).await?;
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut line = String::new();
    expect(&mut read, &mut line, "220").await?;
    write.write_all(b"EHLO bench.test\r\n").await?;
    expect(&mut read, &mut line, "250").await?;

    loop {
        let index = shared.next.fetch_add(1, Ordering::Relaxed);
        let Some(message) = shared.messages.get(index) else {
            break;
        };
        let mut deferrals = 0;
        loop {
            let started = Instant::now();
            let envelope = format!(
                "MAIL FROM:<{}> SIZE={}\r\nRCPT TO:<{}>\r\nDATA\r\n",
                shared.from,
                message.len(),
                shared.rcpt
            );
            write.write_all(envelope.as_bytes()).await?;
            let mail = reply(&mut read, &mut line).await?;
            let rcpt = reply(&mut read, &mut line).await?;
            let data = reply(&mut read, &mut line).await?;
            // The first reply that is not a success decides; a 503 after a
            // failed MAIL or RCPT only follows from it.
            let outcome = if !mail.starts_with('2') {
                mail
            } else if !rcpt.starts_with('2') {
                rcpt
            } else if data.starts_with("354") {
                write.write_all(message).await?;
                reply(&mut read, &mut line).await?
            } else {
                data
            };
            if outcome.starts_with("250") {
                shared.latencies.lock().unwrap().push(started.elapsed());
                break;
            }
            anyhow::ensure!(
                outcome.starts_with('4'),
                "message {index} rejected: {outcome}"
            );
            write.write_all(b"RSET\r\n").await?;
            reply(&mut read, &mut line).await?;
            deferrals += 1;
            anyhow::ensure!(
                deferrals < MAX_DEFERRALS,
                "message {index} deferred {deferrals} times: {outcome}"
            );
            shared.deferred.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(DEFER_WAIT).await;
        }
    }
    write.write_all(b"QUIT\r\n").await?;
    Ok(())
}

/// Reads one reply (all its lines) and returns its last line.
async fn reply(
    read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    line: &mut String,
) -> anyhow::Result<String> {
    loop {
        line.clear();
        anyhow::ensure!(
            read.read_line(line).await? > 0,
            "server closed the connection"
        );
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(line.trim_end().to_owned());
        }
    }
}

async fn expect(
    read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    line: &mut String,
    code: &str,
) -> anyhow::Result<()> {
    let reply = reply(read, line).await?;
    anyhow::ensure!(reply.starts_with(code), "expected {code}, got {reply}");
    Ok(())
}
