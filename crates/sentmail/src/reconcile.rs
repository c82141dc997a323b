//! `sentmail reconcile`: checks that the archive contains every mail the
//! application states it sent, and prints what is missing per window.

mod input;

use std::io::Write;
use std::process::ExitCode;

use anyhow::bail;
use archive_core::{Archive, ReconcileReport, Window, WindowReport};
use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde_json::json;

use crate::cli::ReconcileArgs;

/// Runs the check and prints one report per window. Returns exit status 1
/// when any window misses mail.
pub async fn run(archive: &Archive, args: &ReconcileArgs) -> anyhow::Result<ExitCode> {
    let zone = archive.options().parse.default_zone;
    let expectations = match (&args.file, args.count) {
        (Some(path), _) => input::read_file(path, zone)?,
        (None, Some(count)) => {
            let after = args.after.as_deref();
            let before = args.before.as_deref();
            vec![input::count_from_options(count, after, before, zone)?]
        }
        (None, None) => bail!("give a FILE of expected mail or --count N"),
    };

    let report = archive.reconcile(&expectations).await?;
    print(&report, args.json, zone)?;
    Ok(if report.is_complete() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print(report: &ReconcileReport, json: bool, zone: FixedOffset) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    for window in &report.windows {
        if json {
            writeln!(stdout, "{}", window_json(window))?;
        } else {
            write!(stdout, "{}", window_text(window, zone))?;
        }
    }
    Ok(())
}

/// Formats the summary line of one window, then its missing keys, one per
/// line.
fn window_text(report: &WindowReport, zone: FixedOffset) -> String {
    let mut text = format!(
        "{}: expected {}, archived {}, missing {}",
        window_label(&report.window, zone),
        report.expected,
        report.archived,
        report.missing
    );
    if report.extra > 0 {
        text.push_str(&format!(", extra {}", report.extra));
    }
    text.push('\n');
    for key in report.missing_keys.iter().flatten() {
        text.push_str(&format!("  {key}\n"));
    }
    text
}

fn window_label(window: &Window, zone: FixedOffset) -> String {
    if window.after.is_none() && window.before.is_none() {
        return "all time".to_owned();
    }
    let after = window
        .after
        .map_or("(no start)".to_owned(), |time| format_time(time, zone));
    let before = window
        .before
        .map_or("(no end)".to_owned(), |time| format_time(time, zone));
    format!("{after} .. {before}")
}

/// The JSON object of one window, with times in UTC.
fn window_json(report: &WindowReport) -> serde_json::Value {
    let utc = FixedOffset::east_opt(0).expect("valid offset");
    json!({
        "after": report.window.after.map(|time| format_time(time, utc)),
        "before": report.window.before.map(|time| format_time(time, utc)),
        "expected": report.expected,
        "archived": report.archived,
        "missing": report.missing,
        "extra": report.extra,
        "missing_keys": report.missing_keys,
    })
}

/// Formats a time as RFC 3339 at `offset`, with fractions of a second only
/// when it has them and `Z` for UTC.
fn format_time(time: DateTime<Utc>, offset: FixedOffset) -> String {
    time.with_timezone(&offset)
        .to_rfc3339_opts(SecondsFormat::AutoSi, true)
}
