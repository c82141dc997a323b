//! Measures `parse_message` and `summarize` on the synthetic sample.
//!
//! Run in release: `cargo run --release -p archive-core --example parse_speed`.
//! It reads `testdata/synthetic-sample/*.eml` and prints messages per second
//! and microseconds per message for each function.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use archive_core::{ParseOptions, RecordMeta, parse_message, summarize};
use chrono::Utc;

/// Passes over the whole sample for each measurement.
const ROUNDS: usize = 50;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/synthetic-sample");
    let mut messages: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .expect("the synthetic sample directory is readable")
        .map(|entry| entry.expect("directory entry is readable").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "eml"))
        .map(|path| std::fs::read(path).expect("sample message is readable"))
        .collect();
    messages.sort();
    let bytes: usize = messages.iter().map(Vec::len).sum();
    println!(
        "{} messages, {} bytes on average",
        messages.len(),
        bytes / messages.len().max(1)
    );

    let meta = RecordMeta::default();
    let options = ParseOptions::default();
    let now = Utc::now();

    let summarize_time = measure(&messages, |raw| {
        black_box(summarize(raw, &meta, now, &options));
    });
    report("summarize", summarize_time, messages.len());

    let parse_time = measure(&messages, |raw| {
        black_box(parse_message(raw, &meta, now, &options));
    });
    report("parse_message", parse_time, messages.len());
}

fn measure(messages: &[Vec<u8>], mut run: impl FnMut(&[u8])) -> Duration {
    for raw in messages {
        run(raw);
    }
    let start = Instant::now();
    for _ in 0..ROUNDS {
        for raw in messages {
            run(raw);
        }
    }
    start.elapsed()
}

fn report(name: &str, elapsed: Duration, count: usize) {
    let total = (count * ROUNDS) as f64;
    let seconds = elapsed.as_secs_f64();
    println!(
        "{name}: {:.0} messages/s, {:.2} µs/message",
        total / seconds,
        seconds * 1e6 / total
    );
}
