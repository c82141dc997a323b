//! `sentmail show`, `list` and `verify`.

use std::io::Write;

use anyhow::{Context, bail};
use archive_core::{Archive, ArchiveId};

use crate::cli::{ListArgs, ShowArgs};
use crate::{progress, view};

/// Prints one message.
pub async fn show(archive: &Archive, args: &ShowArgs) -> anyhow::Result<()> {
    let id = match (&args.id, &args.message_id) {
        (Some(text), _) => archive.resolve_id(text).await?,
        (None, Some(message_id)) => by_message_id(archive, message_id).await?,
        (None, None) => bail!("give an archive id or --message-id"),
    };

    let mut stdout = std::io::stdout().lock();
    if args.raw {
        let raw = archive.get_raw(&id).await?;
        stdout
            .write_all(&raw)
            .context("writing to standard output failed")?;
        return Ok(());
    }
    let message = archive.open(&id).await?;
    if args.json {
        writeln!(stdout, "{}", view::message_json(&message))?;
    } else {
        write!(stdout, "{}", view::message_text(&message))?;
    }
    Ok(())
}

async fn by_message_id(archive: &Archive, message_id: &str) -> anyhow::Result<ArchiveId> {
    let found = archive.find_by_message_id(message_id).await?;
    match found.as_slice() {
        [] => bail!("no archived message has Message-ID {message_id}"),
        [only] => Ok(only.id),
        several => {
            let ids: Vec<String> = several
                .iter()
                .map(|info| format!("  {}  {}", info.id, view::utc(&info.date)))
                .collect();
            bail!(
                "{} archived messages have Message-ID {message_id}; show one by its archive id:\n{}",
                several.len(),
                ids.join("\n")
            )
        }
    }
}

/// Lists messages newest first.
pub async fn list(archive: &Archive, args: &ListArgs) -> anyhow::Result<()> {
    let (page, total) = archive.list(args.offset, args.limit).await?;
    let mut stdout = std::io::stdout().lock();
    for info in &page {
        let message = archive.open(&info.id).await?;
        let subject = message.subject.as_deref();
        if args.json {
            writeln!(stdout, "{}", view::list_json(info, subject))?;
        } else {
            let id = info.id.to_hex();
            writeln!(
                stdout,
                "{}  {}  {}",
                view::utc(&info.date),
                &id[..12],
                subject.unwrap_or("")
            )?;
        }
    }
    if !args.json {
        let shown = page.len();
        writeln!(
            stdout,
            "({shown} of {total} messages, offset {})",
            args.offset
        )?;
    }
    Ok(())
}

/// Re-reads and checks every message; fails if anything is damaged.
pub async fn verify(archive: &Archive) -> anyhow::Result<()> {
    let bar = progress::items_bar(0, "messages");
    let report = archive
        .verify(|checked, total| {
            bar.set_length(total);
            bar.set_position(checked);
        })
        .await?;
    bar.finish_and_clear();

    if report.damaged.is_empty() {
        let statuses = match report.send_statuses {
            0 => String::new(),
            1 => " and 1 send status".to_owned(),
            count => format!(" and {count} send statuses"),
        };
        println!(
            "Checked {} messages{statuses}: no damage found.",
            report.checked
        );
        return Ok(());
    }
    for damage in &report.damaged {
        println!("DAMAGED {}: {}", damage.location, damage.reason);
    }
    bail!(
        "checked {} messages and found {} damaged",
        report.checked,
        report.damaged.len()
    )
}
