//! `sentmail search` and `sentmail reindex`.

use std::io::Write;
use std::time::Duration;

use archive_core::{Archive, Mailbox, SearchHit};
use serde_json::json;

use crate::cli::SearchArgs;
use crate::{progress, view};

/// Maximum wait for replayed mail to reach the index before a search.
const REPLAY_WAIT: Duration = Duration::from_secs(60);

/// Runs a search and prints the hits.
pub async fn search(archive: &Archive, args: &SearchArgs) -> anyhow::Result<()> {
    // Mail left in the journal by a process that stopped without closing
    // the archive is replayed into the index in the background. Waiting
    // for it lets the search find that mail too.
    if let Err(error) = archive.flush(REPLAY_WAIT).await {
        tracing::warn!(%error, "the search may miss mail that is still being indexed");
    }
    let query = &args.query;
    let limit = if args.count { 0 } else { args.limit };
    let results = archive.search(query, args.offset, limit).await?;

    let mut stdout = std::io::stdout().lock();
    if args.count {
        writeln!(stdout, "{}", results.total)?;
        return Ok(());
    }
    if args.json {
        for hit in &results.hits {
            writeln!(stdout, "{}", hit_json(hit))?;
        }
        eprintln!("{}", match_count(results.total));
        return Ok(());
    }

    writeln!(
        stdout,
        "{} (showing {} from offset {})",
        match_count(results.total),
        results.hits.len(),
        args.offset
    )?;
    for hit in &results.hits {
        write!(stdout, "\n{}", hit_text(hit))?;
    }
    Ok(())
}

fn mailbox_json(mailbox: &Mailbox) -> serde_json::Value {
    json!({ "name": mailbox.name, "address": mailbox.address })
}

/// The JSON line of one hit.
fn hit_json(hit: &SearchHit) -> serde_json::Value {
    json!({
        "id": hit.id,
        "message_id": hit.message_id,
        "date": view::utc(&hit.date),
        "from": hit.from.first().map(mailbox_json),
        "to": hit.to.iter().map(mailbox_json).collect::<Vec<_>>(),
        "subject": hit.subject,
        "kind": hit.kind,
        "snippet": hit.snippet.text,
        "highlights": hit.snippet.highlights,
    })
}

fn addresses(list: &[Mailbox]) -> String {
    list.iter()
        .map(|mailbox| mailbox.address.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The lines of one hit for people: date, id, sender and recipients,
/// subject, and the snippet with matches in brackets.
fn hit_text(hit: &SearchHit) -> String {
    let id = hit.id.to_hex();
    let kind = hit
        .kind
        .as_deref()
        .map(|kind| format!("  [{kind}]"))
        .unwrap_or_default();
    format!(
        "{}  {}{kind}\n  {} -> {}\n  {}\n  {}\n",
        view::utc(&hit.date),
        &id[..12],
        addresses(&hit.from),
        addresses(&hit.to),
        hit.subject.as_deref().unwrap_or("(no subject)"),
        hit.snippet.bracketed(),
    )
}

/// Rebuilds the search index from storage.
pub async fn reindex(archive: &Archive) -> anyhow::Result<()> {
    let bar = progress::items_bar(0, "messages");
    let indexed = archive
        .reindex(|done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })
        .await?;
    bar.finish_and_clear();
    println!("Indexed {indexed} messages.");
    Ok(())
}

/// "1 message matches" or "N messages match".
fn match_count(total: u64) -> String {
    match total {
        1 => "1 message matches".to_owned(),
        _ => format!("{total} messages match"),
    }
}
