//! `sentmail`: the command-line program of the sent-mail archive.

mod cli;
mod commands;
mod import;
mod progress;
mod reconcile;
mod search;
mod serve;
mod storage;
mod view;

use std::path::Path;
use std::process::ExitCode;

use archive_core::{Archive, ArchiveOptions};
use clap::Parser;
use sentmail::EmbeddedArchive;

use cli::{Cli, Command};

/// jemalloc instead of glibc's allocator: with the many threads of
/// indexing, parsing and Tokio, glibc keeps freed memory in one arena per
/// thread, which more than doubled the peak memory of a 100,000-message
/// import (measured: 558 MB of anonymous memory with glibc, 252 MB with
/// jemalloc, and jemalloc was faster).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The receiver logs every accepted message at info level.
    let default_filter = match cli.command {
        Command::Serve(_) => "info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .init();

    // A few blocking threads suffice on small machines; each extra thread
    // that allocates costs glibc another memory arena.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(8)
        .build()
        .expect("Tokio runtime starts");
    // `reconcile` exits 1 when mail is missing, so its errors exit 2.
    let error_status = match cli.command {
        Command::Reconcile(_) => ExitCode::from(2),
        _ => ExitCode::FAILURE,
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", error_chain(&error));
            error_status
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Serve(args) = &cli.command {
        return serve::run(&cli.storage, &cli.data, args).await;
    }
    let mut options = ArchiveOptions::default();
    if let Command::Import(args) = &cli.command {
        options.max_message_bytes = args.max_size;
    }
    let opened = open_archive(&cli.storage, &cli.data, options).await?;
    let archive = &opened.archive;

    let outcome = match &cli.command {
        Command::Import(args) => import(archive, args).await,
        Command::Show(args) => commands::show(archive, args)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::List(args) => commands::list(archive, args)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Search(args) => search::search(archive, args)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Reindex => search::reindex(archive).await.map(|()| ExitCode::SUCCESS),
        Command::Verify => commands::verify(archive).await.map(|()| ExitCode::SUCCESS),
        Command::Reconcile(args) => reconcile::run(archive, args).await,
        Command::Serve(_) => unreachable!("serve returned above"),
    };
    opened.close().await?;
    outcome
}

/// An open archive with the storage it was built from.
pub(crate) struct Opened {
    pub(crate) archive: EmbeddedArchive,
    storage: storage::OpenedStorage,
}

impl Opened {
    /// Flushes pending messages into storage and the index, then closes
    /// both.
    pub(crate) async fn close(&self) -> anyhow::Result<()> {
        self.archive.close().await?;
        self.storage.log_requests();
        Ok(())
    }
}

/// Opens the archive in `data`: the storage chosen by `storage_args`, the
/// search index in `data/index` and the capture journal in `data/journal`.
pub(crate) async fn open_archive(
    storage_args: &storage::StorageArgs,
    data: &Path,
    options: ArchiveOptions,
) -> anyhow::Result<Opened> {
    let storage = storage::open(storage_args, data).await?;
    let archive = EmbeddedArchive::open_on(storage.storage.clone(), data, options).await?;
    Ok(Opened { archive, storage })
}

async fn import(archive: &Archive, args: &cli::ImportArgs) -> anyhow::Result<ExitCode> {
    let summary = import::run(archive, args).await?;
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print!("{}", summary.to_text());
    }
    Ok(if summary.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

/// Joins an error and its sources with ": ", leaving out a source whose
/// text the message before it already contains, as many messages embed
/// their source.
fn error_chain(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let cause = cause.to_string();
        if text.contains(&cause) {
            continue;
        }
        if !text.is_empty() {
            text += ": ";
        }
        text += &cause;
    }
    text
}
