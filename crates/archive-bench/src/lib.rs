//! Shared helpers of the benchmark programs: loading a corpus, measuring
//! the disk, and summarizing latencies.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;

/// Reads up to `limit` messages from an mbox file into memory.
pub fn load_mbox(path: &Path, limit: usize) -> anyhow::Result<Vec<Bytes>> {
    let file = File::open(path)
        .map_err(|error| anyhow::anyhow!("opening corpus {} failed: {error}", path.display()))?;
    let reader = BufReader::with_capacity(1 << 20, file);
    let mut messages = Vec::new();
    for message in mail_parser::mailbox::mbox::MessageIterator::new(reader).take(limit) {
        let message = message.map_err(|error| {
            anyhow::anyhow!("reading corpus {} failed: {error}", path.display())
        })?;
        messages.push(Bytes::from(message.unwrap_contents()));
    }
    anyhow::ensure!(
        !messages.is_empty(),
        "corpus {} holds no messages",
        path.display()
    );
    Ok(messages)
}

/// Mean size of `messages` in bytes.
pub fn mean_size(messages: &[Bytes]) -> f64 {
    messages.iter().map(|m| m.len() as f64).sum::<f64>() / messages.len() as f64
}

/// Measures sequential write bandwidth in bytes per second: writes
/// `total` bytes in 1 MiB blocks to a new file in `dir`, then one
/// `fdatasync`, and divides by the elapsed time.
pub fn write_bandwidth(dir: &Path, total: u64) -> anyhow::Result<f64> {
    let path = dir.join("bandwidth.probe");
    let block = vec![0x5au8; 1 << 20];
    let started = Instant::now();
    let mut file = File::create(&path)?;
    let mut written = 0;
    while written < total {
        file.write_all(&block)?;
        written += block.len() as u64;
    }
    file.sync_data()?;
    let elapsed = started.elapsed();
    drop(file);
    std::fs::remove_file(&path)?;
    Ok(written as f64 / elapsed.as_secs_f64())
}

/// Returns the value at quantile `q` (0 to 1) of `samples`, which it sorts.
pub fn quantile(samples: &mut [Duration], q: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort_unstable();
    let rank = ((samples.len() - 1) as f64 * q).round() as usize;
    samples[rank]
}

/// Returns the median of `values`, which it sorts.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_known_samples() {
        let mut samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile(&mut samples, 0.5), Duration::from_millis(51));
        assert_eq!(quantile(&mut samples, 0.99), Duration::from_millis(99));
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
    }
}
