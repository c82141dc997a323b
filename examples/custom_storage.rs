//! A custom `Storage`: the archive on `MirrorStorage`, which writes every
//! pack to two directories (two disks, say) and reads from the second when
//! the first fails. The storage conformance suite checks it in
//! `tests/mirror.rs`.
//!
//! ```text
//! cargo run -p sentmail-examples --example custom_storage -- /mnt/disk1/mail /mnt/disk2/mail
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use archive_core::{Archive, RecordMeta, Source};
use archive_fs::FsStorage;
use clap::Parser;
use sentmail_examples::mirror::MirrorStorage;

/// Records a few mails onto two mirrored directories and reads one back.
#[derive(Debug, Parser)]
struct Args {
    /// The first directory; it also contains the capture journal.
    primary: PathBuf,
    /// The mirror.
    secondary: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let storage = MirrorStorage::new(
        Arc::new(FsStorage::open(&args.primary).await?),
        Arc::new(FsStorage::open(&args.secondary).await?),
    );
    let archive = Archive::builder(Arc::new(storage), args.primary.join("journal"))
        .open()
        .await?;

    let mut ids = Vec::new();
    let mut stored = 0;
    for n in 1..=3 {
        let raw = format!(
            "From: shop@example.jp\r\nTo: hoge.{n}@example.com\r\n\
             Subject: shipping notice {n}\r\n\r\nTracking number 1234-5678-{n:04}\r\n"
        );
        let meta = RecordMeta::new(Source::App).with_kind("shipping_notice");
        let receipt = archive.record(raw, meta).await?;
        stored += usize::from(!receipt.is_duplicate());
        ids.push(receipt.id);
    }
    archive.close(Duration::from_secs(60)).await?;

    let message = archive.open(&ids[0]).await?;
    println!(
        "recorded {} messages, {stored} of them new, in both directories; the first reads back as {:?}",
        ids.len(),
        message.subject.unwrap_or_default()
    );
    Ok(())
}
