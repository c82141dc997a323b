//! `sentmail serve`: the SMTP receiver for BCC and journal copies.

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use archive_core::ArchiveOptions;
use archive_smtp::config::{IpNet, TlsFiles};
use archive_smtp::{Server, SmtpConfig};
use clap::Args;

use crate::cli::parse_size;

/// Arguments of `sentmail serve`. Flags override the configuration file;
/// a repeatable flag replaces the file's whole list.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML configuration file; its [smtp] table contains the receiver's
    /// settings (see README.md).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Address to listen on, such as 127.0.0.1:2525 (repeatable). Port 0
    /// picks a free port; the bound address is printed.
    #[arg(long, value_name = "ADDR")]
    pub listen: Vec<SocketAddr>,

    /// Host name in the greeting and EHLO reply.
    #[arg(long)]
    pub hostname: Option<String>,

    /// Client network allowed to connect, in CIDR notation such as
    /// 10.0.0.0/8 (repeatable). Default: loopback only.
    #[arg(long = "allow-network", value_name = "CIDR")]
    pub allow_networks: Vec<IpNet>,

    /// Recipient to accept, an address or a whole @domain (repeatable).
    /// Others are rejected as relay attempts. Default: every recipient.
    #[arg(long = "accept-rcpt", value_name = "ADDRESS")]
    pub accept_recipients: Vec<String>,

    /// Maximum open connections; more get 421.
    #[arg(long)]
    pub max_connections: Option<usize>,

    /// Maximum messages received at once; more get 451.
    #[arg(long)]
    pub max_in_flight: Option<usize>,

    /// Maximum message size, in bytes or with a unit (50MiB, 10MB).
    #[arg(long, value_parser = parse_size)]
    pub max_size: Option<u64>,

    /// PEM certificate chain for STARTTLS.
    #[arg(long, requires = "tls_key", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for STARTTLS.
    #[arg(long, requires = "tls_cert", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,

    /// Offer AUTH on connections without TLS (the password travels in
    /// clear text).
    #[arg(long)]
    pub allow_plaintext_auth: bool,

    /// Require AUTH before MAIL.
    #[arg(long)]
    pub require_auth: bool,

    /// Read a password from standard input, print its argon2id hash for
    /// the configuration file's password_hash, and exit.
    #[arg(long)]
    pub hash_password: bool,
}

/// Runs the receiver until SIGINT or SIGTERM, then closes the archive.
pub async fn run(
    storage_args: &crate::storage::StorageArgs,
    data: &Path,
    args: &ServeArgs,
) -> anyhow::Result<ExitCode> {
    if args.hash_password {
        return print_hash();
    }
    let config = load_config(args)?;
    let options = ArchiveOptions {
        max_message_bytes: config.max_message_bytes,
        ..ArchiveOptions::default()
    };
    let opened = crate::open_archive(storage_args, data, options).await?;
    let server = match Server::bind(&config, opened.archive.archive().clone()).await {
        Ok(server) => server,
        Err(error) => {
            opened.close().await?;
            return Err(error).context("starting the SMTP receiver failed");
        }
    };
    let mut stdout = std::io::stdout().lock();
    for address in server.local_addrs() {
        writeln!(stdout, "listening on {address}")?;
    }
    stdout.flush()?;
    drop(stdout);

    server.run(shutdown_signal()).await;
    opened.close().await?;
    tracing::info!("SMTP receiver stopped");
    Ok(ExitCode::SUCCESS)
}

fn print_hash() -> anyhow::Result<ExitCode> {
    let mut password = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut password)
        .context("reading the password from standard input failed")?;
    let password = password.trim_end_matches(['\r', '\n']);
    anyhow::ensure!(
        !password.is_empty(),
        "the password on standard input is empty"
    );
    println!("{}", archive_smtp::auth::hash_password(password.as_bytes()));
    Ok(ExitCode::SUCCESS)
}

/// Reads the configuration file, if any, and applies the flags.
fn load_config(args: &ServeArgs) -> anyhow::Result<SmtpConfig> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {} failed", path.display()))?;
            SmtpConfig::from_toml(&text).with_context(|| format!("in {}", path.display()))?
        }
        None => SmtpConfig::default(),
    };
    if !args.listen.is_empty() {
        config.listen = args.listen.clone();
    }
    if let Some(hostname) = &args.hostname {
        config.hostname = hostname.clone();
    }
    if !args.allow_networks.is_empty() {
        config.allowed_networks = args.allow_networks.clone();
    }
    if !args.accept_recipients.is_empty() {
        config.accept_recipients = args.accept_recipients.clone();
    }
    config.max_connections = args.max_connections.unwrap_or(config.max_connections);
    config.max_in_flight = args.max_in_flight.unwrap_or(config.max_in_flight);
    config.max_message_bytes = args.max_size.unwrap_or(config.max_message_bytes);
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        config.tls = Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        });
    }
    config.auth.allow_without_tls |= args.allow_plaintext_auth;
    config.auth.required |= args.require_auth;
    config.validate()?;
    Ok(config)
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};

    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(terminate) => terminate,
        Err(error) => {
            tracing::error!(%error, "installing the SIGTERM handler failed; only SIGINT stops the receiver");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
        _ = terminate.recv() => tracing::info!("SIGTERM received"),
    }
}
