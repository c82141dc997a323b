//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// The sent-mail archive: record every mail a shop sends, find it, show it.
#[derive(Debug, Parser)]
#[command(name = "sentmail", version, about, max_term_width = 100)]
pub struct Cli {
    /// Data directory of the archive: the capture journal, and the packs
    /// unless --storage names a bucket.
    #[arg(
        long,
        global = true,
        env = "SENTMAIL_DATA",
        default_value = "./sentmail-data"
    )]
    pub data: PathBuf,

    /// Storage of the packs.
    #[command(flatten)]
    pub storage: crate::storage::StorageArgs,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import .eml files, directories (recursively), mbox files and Maildirs.
    Import(ImportArgs),
    /// Show one message: headers, text and attachments.
    Show(ShowArgs),
    /// List messages, newest first.
    List(ListArgs),
    /// Search archived mail: parts of addresses, Japanese text, order and
    /// phone numbers, dates and kinds.
    Search(SearchArgs),
    /// Rebuild the search index from the stored messages.
    Reindex,
    /// Re-read every stored message and check it against its SHA-256 id.
    Verify,
    /// Check that the archive contains every mail the application sent, by
    /// count per time window or by idempotency key, and list what is
    /// missing.
    Reconcile(ReconcileArgs),
    /// Receive BCC or journal copies over SMTP and record every message.
    Serve(crate::serve::ServeArgs),
}

/// Arguments of `sentmail search`.
#[derive(Debug, Args)]
#[command(after_help = SEARCH_HELP)]
pub struct SearchArgs {
    /// The query, as one argument: quote it for the shell, for example
    /// 'hoge.12 発送 after:2026-12-01'. A query that starts with '-' goes
    /// after '--', behind the options: sentmail search --count -- '-キャンセル 発送'.
    pub query: String,

    /// Print one JSON object per hit; the count of all matches goes to
    /// standard error.
    #[arg(long)]
    pub json: bool,

    /// Print only the number of matching messages.
    #[arg(long, conflicts_with = "json")]
    pub count: bool,

    /// Number of hits to print.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,

    /// Number of newest hits to skip.
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
}

const SEARCH_HELP: &str = "\
Query syntax:
  山田 発送                   both terms (case, width and spaces in Japanese do not matter)
  注文確認 OR 発送完了         either term
  発送 -キャンセル            exclude a term
  \"注文番号 A-2026\"           a term that contains a space
  from:shop to:hoge.12        restrict to a field; to: covers To, Cc, Bcc and envelope
  subject: body: attachment: order: customer: meta.KEY: message-id: kind: has:attachment
  after:2026-12-01 before:2026-12-05T12:00 date:2026-12   dates in JST unless an offset
                                                          such as Z or +09:00 is given";

/// Arguments of `sentmail reconcile`.
#[derive(Debug, Args)]
#[command(after_help = RECONCILE_HELP)]
pub struct ReconcileArgs {
    /// File of what the application sent: JSON Lines windows or a list of
    /// idempotency keys (see below). '-' reads standard input.
    #[arg(required_unless_present = "count", conflicts_with = "count")]
    pub file: Option<PathBuf>,

    /// Number of mails the application sent in the window that --after
    /// and --before set, checked instead of a file.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,

    /// Start of the window (inclusive): RFC 3339, or a date such as
    /// 2026-12-01 for 00:00 JST. Unset: no start.
    #[arg(long, value_name = "TIME", requires = "count")]
    pub after: Option<String>,

    /// End of the window (exclusive), in the same formats as --after.
    /// Unset: no end.
    #[arg(long, value_name = "TIME", requires = "count")]
    pub before: Option<String>,

    /// Print one JSON object per window.
    #[arg(long)]
    pub json: bool,
}

const RECONCILE_HELP: &str = "\
File format: one window per line (JSON Lines), \"after\" and \"before\" optional
  {\"after\": \"2026-12-01\", \"before\": \"2026-12-02\", \"count\": 1200}
  {\"after\": \"2026-12-01T00:00:00+09:00\", \"keys\": [\"order-1\", \"order-2\"]}
A file whose lines do not start with '{' is a list of keys, one per line. Blank lines
and lines starting with '#' are skipped in both formats.

A count is compared with the mail the archive recorded in the window [after, before)
from the application or over SMTP. Imported mail does not count. A key counts as
archived whenever its mail was recorded, so the window does not apply to keys.
Times without an offset are read in JST.

Exit status: 0 when nothing is missing, 1 when mail is missing, 2 on errors.";

/// Arguments of `sentmail import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Files and directories to import. The kind of each (.eml, mbox,
    /// Maildir) is detected from its content and layout.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,

    /// Maximum size of one message, in bytes or with a unit (50MB, 2GiB).
    /// Larger messages are reported as failures.
    #[arg(long, default_value = "50MiB", value_parser = parse_size)]
    pub max_size: u64,

    /// Print the summary as one JSON object on standard output.
    #[arg(long)]
    pub json: bool,

    /// Messages recorded concurrently; more lets the journal share syncs.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,
}

/// Arguments of `sentmail show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Archive id: 64 hex digits, or a unique prefix of at least 8.
    #[arg(required_unless_present = "message_id", conflicts_with = "message_id")]
    pub id: Option<String>,

    /// Find the message by its Message-ID header instead.
    #[arg(long, value_name = "MID")]
    pub message_id: Option<String>,

    /// Write the original bytes, exactly as archived, to standard output.
    #[arg(long, conflicts_with = "json")]
    pub raw: bool,

    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `sentmail list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print one JSON object per line.
    #[arg(long)]
    pub json: bool,

    /// Number of messages to print.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,

    /// Number of newest messages to skip.
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
}

/// Parses a byte size such as `1048576`, `50MB`, `50MiB` or `2G`.
/// Decimal units (KB, MB, GB) are powers of 1000, binary ones (KiB, MiB,
/// GiB, or K, M, G alone) powers of 1024.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("invalid size {text:?}: expected a number of bytes such as 50MB"))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        other => {
            return Err(format!(
                "invalid size unit {other:?} in {text:?}: use B, KB, MB, GB, KiB, MiB or GiB"
            ));
        }
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("size {text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_units() {
        assert_eq!(parse_size("1048576"), Ok(1_048_576));
        assert_eq!(parse_size("50MB"), Ok(50_000_000));
        assert_eq!(parse_size("50MiB"), Ok(50 << 20));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert!(parse_size("ten").is_err());
        assert!(parse_size("5XB").is_err());
    }

    #[test]
    fn cli_definition_is_valid() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
