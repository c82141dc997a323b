//! Golden tests: every `.eml` fixture under `testdata/cases/` and
//! `testdata/parse/` that has an expected file is parsed and compared with
//! it.
//!
//! The expected file of `input.eml` is `expected.json`, and that of any
//! other `NAME.eml` is `NAME.expected.json`. The expected values are written
//! by hand from each case's description, never from the parser's output.
//! Only the keys present are compared:
//!
//! - `subject`, `message_id`, `date` (RFC 3339, UTC), `date_source`, `kind`;
//! - `from`, `to`, `cc`: lists of `{"name", "address"}`;
//! - `text`: compared after CRLF to LF and trimming final line breaks;
//! - `html`: true when an HTML body is expected;
//! - `attachments`: the exact list of `{"name", "content_type", "size",
//!   "sha256", "inline", "content_id"}`, plus `text` when given;
//! - `flags`: the exact set of flags;
//! - `headers`: header values by name, as shown in the header view.
//!
//! On a mismatch the actual values are written to `NAME.failed` beside the
//! input, and the test fails with the differing keys.

use std::fs;
use std::path::{Path, PathBuf};

use archive_core::{Message, ParseOptions, RecordMeta, parse_message};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// Returns `(input, expected)` pairs for every fixture with an expected file.
fn fixtures() -> Vec<(PathBuf, PathBuf)> {
    let mut pairs = Vec::new();
    for group in ["cases", "parse"] {
        let Ok(dirs) = fs::read_dir(testdata().join(group)) else {
            continue;
        };
        for dir in dirs.map(|entry| entry.expect("directory entry").path()) {
            let Ok(files) = fs::read_dir(&dir) else {
                continue;
            };
            for input in files.map(|entry| entry.expect("directory entry").path()) {
                if input.extension().is_none_or(|extension| extension != "eml") {
                    continue;
                }
                let stem = input
                    .file_stem()
                    .expect("file stem")
                    .to_string_lossy()
                    .into_owned();
                let expected = if stem == "input" {
                    dir.join("expected.json")
                } else {
                    dir.join(format!("{stem}.expected.json"))
                };
                if expected.exists() {
                    pairs.push((input, expected));
                }
            }
        }
    }
    pairs.sort();
    pairs
}

fn recorded_at() -> DateTime<Utc> {
    "2030-01-01T00:00:00Z".parse().expect("valid timestamp")
}

fn mailboxes(list: &[archive_core::Mailbox]) -> Value {
    list.iter()
        .map(|mailbox| json!({"name": mailbox.name, "address": mailbox.address}))
        .collect()
}

fn normalize_text(text: &str) -> String {
    text.replace("\r\n", "\n").trim_end_matches('\n').to_owned()
}

/// Builds the actual values in the expected file's shape.
fn actual_values(message: &Message, expected: &Map<String, Value>) -> Map<String, Value> {
    let attachments: Value = message
        .attachments
        .iter()
        .map(|attachment| {
            let mut value = json!({
                "name": attachment.name,
                "content_type": attachment.content_type,
                "size": attachment.size,
                "sha256": attachment.sha256,
                "inline": attachment.inline,
                "content_id": attachment.content_id,
            });
            if let Some(text) = &attachment.text {
                value["text"] = json!(normalize_text(text));
            }
            value
        })
        .collect();
    let headers: Map<String, Value> = expected
        .get("headers")
        .and_then(Value::as_object)
        .map(|wanted| {
            wanted
                .keys()
                .map(|name| (name.clone(), json!(message.header(name))))
                .collect()
        })
        .unwrap_or_default();

    let mut actual = Map::new();
    actual.insert("subject".into(), json!(message.subject));
    actual.insert("message_id".into(), json!(message.message_id));
    actual.insert(
        "date".into(),
        json!(message.date.to_rfc3339_opts(SecondsFormat::Secs, true)),
    );
    actual.insert(
        "date_source".into(),
        serde_json::to_value(message.date_source).expect("serializable"),
    );
    actual.insert("kind".into(), json!(message.kind));
    actual.insert("from".into(), mailboxes(&message.from));
    actual.insert("to".into(), mailboxes(&message.to));
    actual.insert("cc".into(), mailboxes(&message.cc));
    actual.insert("text".into(), json!(normalize_text(&message.text)));
    actual.insert("html".into(), json!(message.html.is_some()));
    actual.insert("attachments".into(), attachments);
    actual.insert(
        "flags".into(),
        serde_json::to_value(&message.flags).expect("serializable"),
    );
    actual.insert("headers".into(), Value::Object(headers));
    actual
}

/// Drops `text` from actual attachments whose expected entry has none.
fn align_attachment_texts(actual: &mut Map<String, Value>, expected: &Map<String, Value>) {
    let (Some(Value::Array(actual_list)), Some(Value::Array(expected_list))) =
        (actual.get_mut("attachments"), expected.get("attachments"))
    else {
        return;
    };
    for (actual_item, expected_item) in actual_list.iter_mut().zip(expected_list) {
        if expected_item.get("text").is_none()
            && let Some(object) = actual_item.as_object_mut()
        {
            object.remove("text");
        }
    }
}

/// Returns every decoded string of a message, to check for remnants.
fn decoded_strings(message: &Message) -> Vec<(String, &str)> {
    let mut strings: Vec<(String, &str)> = Vec::new();
    strings.extend(
        message
            .subject
            .as_deref()
            .map(|subject| ("subject".to_owned(), subject)),
    );
    strings.push(("text".to_owned(), &message.text));
    strings.extend(
        message
            .html
            .as_deref()
            .map(|html| ("html".to_owned(), html)),
    );
    for mailbox in message.from.iter().chain(&message.to).chain(&message.cc) {
        strings.extend(
            mailbox
                .name
                .as_deref()
                .map(|name| ("mailbox name".to_owned(), name)),
        );
    }
    for attachment in &message.attachments {
        strings.extend(
            attachment
                .name
                .as_deref()
                .map(|name| ("attachment name".to_owned(), name)),
        );
        strings.extend(
            attachment
                .text
                .as_deref()
                .map(|text| ("attachment text".to_owned(), text)),
        );
    }
    for header in &message.headers {
        strings.push((format!("header {}", header.name), &header.value));
    }
    strings
}

fn check_fixture(input: &Path, expected_path: &Path) -> Vec<String> {
    let raw = fs::read(input).expect("fixture is readable");
    let expected_text = fs::read_to_string(expected_path).expect("expected file is readable");
    let expected: Map<String, Value> = serde_json::from_str(&expected_text)
        .unwrap_or_else(|error| panic!("{} is not valid JSON: {error}", expected_path.display()));

    let message = parse_message(
        &raw,
        &RecordMeta::default(),
        recorded_at(),
        &ParseOptions::default(),
    );
    let mut actual = actual_values(&message, &expected);
    align_attachment_texts(&mut actual, &expected);

    let mut problems = Vec::new();
    for (key, expected_value) in &expected {
        if key == "allow_remnants" {
            continue;
        }
        let actual_value = actual.get(key).unwrap_or(&Value::Null);
        if actual_value != expected_value {
            problems.push(format!(
                "  {key}:\n    expected: {}\n    actual:   {}",
                serde_json::to_string(expected_value).expect("serializable"),
                serde_json::to_string(actual_value).expect("serializable"),
            ));
        }
    }

    if expected.get("allow_remnants") != Some(&Value::Bool(true)) {
        for (field, text) in decoded_strings(&message) {
            for (remnant, label) in [
                ("\u{FFFD}", "U+FFFD"),
                ("\u{1B}", "ESC"),
                ("=?", "an encoded word"),
            ] {
                if text.contains(remnant) {
                    problems.push(format!("  {field} contains {label}: {text:?}"));
                }
            }
        }
    }

    if !problems.is_empty() {
        let failed = input.with_extension("failed");
        let pretty = serde_json::to_string_pretty(&Value::Object(actual)).expect("serializable");
        fs::write(&failed, pretty).expect("failed file is writable");
        problems.insert(
            0,
            format!(
                "{} (actual values in {}):",
                input.display(),
                failed.display()
            ),
        );
    }
    problems
}

#[test]
fn golden_fixtures_match() {
    let fixtures = fixtures();
    assert!(
        !fixtures.is_empty(),
        "no fixtures with an expected file under {}",
        testdata().display()
    );

    let problems: Vec<String> = fixtures
        .iter()
        .flat_map(|(input, expected)| check_fixture(input, expected))
        .collect();
    assert!(
        problems.is_empty(),
        "{} of {} fixtures differ:\n{}",
        problems
            .iter()
            .filter(|line| !line.starts_with(' '))
            .count(),
        fixtures.len(),
        problems.join("\n")
    );
}

#[test]
fn golden_fixtures_cover_cases() {
    let fixtures = fixtures();
    for case in [
        "01", "03", "04", "05", "07", "08", "09", "10", "11", "12", "14",
    ] {
        let found = fixtures.iter().filter(|(input, _)| {
            input
                .parent()
                .and_then(Path::file_name)
                .is_some_and(|name| name.to_string_lossy().starts_with(case))
        });
        let expected = if case == "14" { 5 } else { 1 };
        assert_eq!(found.count(), expected, "case {case}");
    }
}
