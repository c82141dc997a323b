//! Reading what the application states it sent: a JSON Lines file of
//! windows, a plain list of idempotency keys, or the `--count` options.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use archive_core::search::parse_date_span;
use archive_core::{Expectation, Expected, Window};
use chrono::{DateTime, FixedOffset, Utc};
use serde::Deserialize;

/// An example window line, shown in error messages.
const EXAMPLE_LINE: &str = r#"{"after": "2026-12-01", "before": "2026-12-02", "count": 1200}"#;

/// One line of a JSON Lines file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowLine {
    after: Option<String>,
    before: Option<String>,
    count: Option<u64>,
    keys: Option<Vec<String>>,
}

/// Reads the file at `path`, or standard input for `-`. Times without an
/// offset are read in `zone`.
pub fn read_file(path: &Path, zone: FixedOffset) -> anyhow::Result<Vec<Expectation>> {
    let (name, text) = read_text(path)?;
    parse(&name, &text, zone)
}

/// Builds the window of `--count`, `--after` and `--before`.
pub fn count_from_options(
    count: u64,
    after: Option<&str>,
    before: Option<&str>,
    zone: FixedOffset,
) -> anyhow::Result<Expectation> {
    let window = window(after, before, "--after", "--before", zone).map_err(anyhow::Error::msg)?;
    Ok(Expectation {
        window,
        expected: Expected::Count(count),
    })
}

/// Returns a name for messages and the text of the input.
fn read_text(path: &Path) -> anyhow::Result<(String, String)> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading standard input failed")?;
        return Ok(("standard input".to_owned(), text));
    }
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {name} failed"))?;
    Ok((name, text))
}

/// Parses the whole input: JSON Lines when its first line starts with `{`,
/// a list of keys otherwise. Blank lines and lines starting with `#` are
/// skipped in both.
fn parse(name: &str, text: &str, zone: FixedOffset) -> anyhow::Result<Vec<Expectation>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .collect();
    let Some((_, first)) = lines.first() else {
        bail!(
            "{name} contains no windows and no keys; give one JSON window per line, \
             such as {EXAMPLE_LINE}, or one idempotency key per line"
        );
    };
    if first.starts_with('{') {
        lines
            .iter()
            .map(|&(number, line)| {
                parse_window_line(line, zone).map_err(|e| anyhow!("{name} line {number}: {e}"))
            })
            .collect()
    } else {
        Ok(vec![parse_key_list(name, &lines)?])
    }
}

/// Reads a list of keys, one per line, as one expectation without bounds.
fn parse_key_list(name: &str, lines: &[(usize, &str)]) -> anyhow::Result<Expectation> {
    let mut keys = Vec::with_capacity(lines.len());
    for &(number, line) in lines {
        if line.starts_with('{') {
            bail!(
                "{name} line {number}: this line is a JSON window, but the first line is a key, \
                 so the file is read as one key per line; put windows and keys in separate files"
            );
        }
        keys.push(line.to_owned());
    }
    Ok(Expectation {
        window: Window::default(),
        expected: Expected::Keys(keys),
    })
}

/// Reads one JSON window; the error names the bad value and the fix.
fn parse_window_line(line: &str, zone: FixedOffset) -> Result<Expectation, String> {
    if !line.starts_with('{') {
        return Err(format!(
            "expected a JSON window such as {EXAMPLE_LINE}, not {line:?}; \
             the first line is a window, so every line must be one"
        ));
    }
    let parsed: WindowLine = serde_json::from_str(line).map_err(|error| {
        format!(
            "invalid JSON window: {}; write one object per line such as {EXAMPLE_LINE}",
            json_message(&error)
        )
    })?;
    let window = window(
        parsed.after.as_deref(),
        parsed.before.as_deref(),
        "\"after\"",
        "\"before\"",
        zone,
    )?;
    let expected = match (parsed.count, parsed.keys) {
        (Some(count), None) => Expected::Count(count),
        (None, Some(keys)) => Expected::Keys(checked_keys(keys)?),
        (Some(_), Some(_)) => {
            return Err("the window has both \"count\" and \"keys\"; give one of them".into());
        }
        (None, None) => {
            return Err(
                "the window has neither \"count\" (a number of mails) nor \"keys\" \
                 (a list of idempotency keys); give one of them"
                    .into(),
            );
        }
    };
    Ok(Expectation { window, expected })
}

/// Returns serde_json's message without its position, which counts lines
/// inside one line of the file and would contradict the file's line number.
fn json_message(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    text.strip_suffix(&position).unwrap_or(&text).to_owned()
}

fn checked_keys(keys: Vec<String>) -> Result<Vec<String>, String> {
    if let Some(index) = keys.iter().position(|key| key.trim().is_empty()) {
        return Err(format!(
            "key {} of \"keys\" is empty; remove it or give the idempotency key",
            index + 1
        ));
    }
    Ok(keys)
}

/// Builds a window from optional bound texts, which the messages call
/// `after_name` and `before_name`.
fn window(
    after: Option<&str>,
    before: Option<&str>,
    after_name: &str,
    before_name: &str,
    zone: FixedOffset,
) -> Result<Window, String> {
    let window = Window {
        after: after
            .map(|text| bound(text, after_name, zone))
            .transpose()?,
        before: before
            .map(|text| bound(text, before_name, zone))
            .transpose()?,
    };
    if let (Some(start), Some(end)) = (window.after, window.before)
        && start >= end
    {
        let after = after.unwrap_or_default();
        let before = before.unwrap_or_default();
        return Err(format!(
            "{after_name} {after:?} is not earlier than {before_name} {before:?}, so the \
             window is empty; {after_name} is inclusive and {before_name} exclusive"
        ));
    }
    Ok(window)
}

/// Reads one bound: the start of the date or time that `text` names.
fn bound(text: &str, name: &str, zone: FixedOffset) -> Result<DateTime<Utc>, String> {
    match parse_date_span(text, zone) {
        Some((start, _)) => Ok(start),
        None => Err(format!(
            "invalid {name} value {text:?}; use RFC 3339 such as 2026-12-01T00:00:00+09:00, \
             or a date such as 2026-12-01 for 00:00 at {zone}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jst() -> FixedOffset {
        FixedOffset::east_opt(9 * 3600).unwrap()
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn error(text: &str) -> String {
        parse("orders.jsonl", text, jst()).unwrap_err().to_string()
    }

    #[test]
    fn json_lines_windows() {
        let text = "# December\n\
            {\"after\": \"2026-12-01\", \"before\": \"2026-12-02\", \"count\": 1200}\n\
            \n\
            {\"after\": \"2026-12-01T12:00:00Z\", \"keys\": [\"order-1\", \"order-2\"]}\n";
        let parsed = parse("orders.jsonl", text, jst()).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].window.after, Some(at("2026-11-30T15:00:00Z")));
        assert_eq!(parsed[0].window.before, Some(at("2026-12-01T15:00:00Z")));
        assert_eq!(parsed[0].expected, Expected::Count(1200));
        assert_eq!(parsed[1].window.after, Some(at("2026-12-01T12:00:00Z")));
        assert_eq!(parsed[1].window.before, None);
        assert_eq!(
            parsed[1].expected,
            Expected::Keys(vec!["order-1".into(), "order-2".into()])
        );
    }

    #[test]
    fn plain_key_list() {
        let text = "\u{feff}# sent on 2026-12-01\r\norder-1\r\n\r\n  order-2  \r\n";
        let parsed = parse("keys.txt", text, jst()).unwrap();
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].window, Window::default());
        assert_eq!(
            parsed[0].expected,
            Expected::Keys(vec!["order-1".into(), "order-2".into()])
        );
    }

    #[test]
    fn errors_name_line_and_value() {
        let bad_date = error("{\"count\": 1}\n{\"after\": \"yesterday\", \"count\": 2}\n");
        assert!(
            bad_date.starts_with("orders.jsonl line 2: invalid \"after\" value \"yesterday\""),
            "{bad_date}"
        );
        assert!(bad_date.contains("2026-12-01T00:00:00+09:00"), "{bad_date}");

        let bad_json = error("{\"count\": 1}\n\n{\"count\": -5}\n");
        assert!(
            bad_json.starts_with(
                "orders.jsonl line 3: invalid JSON window: invalid value: integer `-5`"
            ),
            "{bad_json}"
        );
        assert!(!bad_json.contains("column"), "{bad_json}");

        let unknown = error("{\"cout\": 1}\n");
        assert!(unknown.contains("unknown field `cout`"), "{unknown}");

        let both = error("{\"count\": 1, \"keys\": [\"a\"]}\n");
        assert!(both.contains("both \"count\" and \"keys\""), "{both}");
        let neither = error("{\"after\": \"2026-12-01\"}\n");
        assert!(neither.contains("neither \"count\""), "{neither}");
        let empty_key = error("{\"keys\": [\"a\", \" \"]}\n");
        assert!(
            empty_key.contains("key 2 of \"keys\" is empty"),
            "{empty_key}"
        );
    }

    #[test]
    fn mixed_and_empty_files_are_rejected() {
        let key_in_windows = error("{\"count\": 1}\norder-1\n");
        assert!(
            key_in_windows.starts_with("orders.jsonl line 2: expected a JSON window"),
            "{key_in_windows}"
        );
        let window_in_keys = error("order-1\n{\"count\": 1}\n");
        assert!(
            window_in_keys.starts_with("orders.jsonl line 2: this line is a JSON window"),
            "{window_in_keys}"
        );
        let empty = error("# nothing\n\n");
        assert!(empty.contains("contains no windows and no keys"), "{empty}");
    }

    #[test]
    fn inverted_window_is_rejected() {
        let inverted =
            error("{\"after\": \"2026-12-02\", \"before\": \"2026-12-01\", \"count\": 1}");
        assert!(inverted.contains("is not earlier than"), "{inverted}");

        let options = count_from_options(1, Some("2026-12-02"), Some("2026-12-02"), jst());
        let message = options.unwrap_err().to_string();
        assert!(
            message.starts_with("--after \"2026-12-02\" is not earlier than --before"),
            "{message}"
        );
    }
}
