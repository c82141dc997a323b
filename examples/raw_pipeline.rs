//! Recording from an existing mail pipeline that already renders each mail
//! to RFC 5322 bytes: record the bytes, then hand them on. The pipeline
//! here is synchronous code on its own thread, so it uses
//! `record_blocking`; async code calls `record`.
//!
//! ```text
//! cargo run -p sentmail-examples --example raw_pipeline -- --kind shipping_notice mail1.eml mail2.eml
//! ```

use std::path::PathBuf;

use anyhow::Context;
use archive_core::{Archive, RecordMeta, Source};
use clap::Parser;
use sentmail::EmbeddedArchive;

/// Records rendered mails before they are handed to the mail server.
#[derive(Debug, Parser)]
struct Args {
    /// Data directory of the archive.
    #[arg(long, default_value = "./sentmail-data")]
    data: PathBuf,
    /// The kind recorded with every mail.
    #[arg(long, default_value = "notification")]
    kind: String,
    /// Rendered mails, one per file.
    files: Vec<PathBuf>,
}

/// The pipeline's last step before the mail server: archive, then send.
fn deliver(archive: &Archive, path: &PathBuf, kind: &str) -> anyhow::Result<()> {
    let raw = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    // The file name is unique per rendered mail in this pipeline, so it
    // serves as the idempotency key: a re-run records nothing twice.
    let key = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned());
    let mut meta = RecordMeta::new(Source::App).with_kind(kind);
    meta.idempotency_key = key;
    let receipt = archive.record_blocking(raw, meta)?;
    println!("{}  {:?}  {}", receipt.id, receipt.status, path.display());
    // Here the pipeline would pass the bytes to its mail server.
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.files.is_empty() {
        anyhow::bail!("no files given: name the rendered mails to record, for example mail1.eml");
    }
    let archive = EmbeddedArchive::open(&args.data).await?;

    let pipeline = {
        let archive = archive.archive().clone();
        let (files, kind) = (args.files.clone(), args.kind.clone());
        std::thread::spawn(move || -> anyhow::Result<()> {
            for path in &files {
                deliver(&archive, path, &kind)?;
            }
            Ok(())
        })
    };
    let result = tokio::task::spawn_blocking(move || pipeline.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the pipeline thread panicked"))?;
    archive.close().await?;
    result
}
