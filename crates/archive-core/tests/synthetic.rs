//! Ground truth: the 200 generated shop mails in `testdata/synthetic-sample/`
//! must parse to exactly the values their generator recorded in
//! `truth.jsonl`.

use std::fs;
use std::path::{Path, PathBuf};

use archive_core::{ParseOptions, RecordMeta, parse_message, summarize};
use serde_json::Value;

fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/synthetic-sample")
}

fn truth() -> Vec<Value> {
    let text =
        fs::read_to_string(sample_dir().join("truth.jsonl")).expect("truth.jsonl is readable");
    text.lines()
        .map(|line| serde_json::from_str(line).expect("valid JSON line"))
        .collect()
}

/// Returns the differences between one parsed message and its truth row.
fn check(row: &Value) -> Vec<String> {
    let path = row["path"].as_str().expect("path");
    let raw = fs::read(sample_dir().join(path)).expect("sample message is readable");
    let recorded_at = "2030-01-01T00:00:00Z".parse().expect("valid timestamp");
    let message = parse_message(
        &raw,
        &RecordMeta::default(),
        recorded_at,
        &ParseOptions::default(),
    );
    let summary = summarize(
        &raw,
        &RecordMeta::default(),
        recorded_at,
        &ParseOptions::default(),
    );

    let mut problems = Vec::new();
    let mut compare = |field: &str, actual: Value, expected: &Value| {
        if &actual != expected {
            problems.push(format!(
                "{path} {field}: expected {expected}, actual {actual}"
            ));
        }
    };

    compare("subject", message.subject.clone().into(), &row["subject"]);
    compare(
        "message_id",
        message.message_id.clone().into(),
        &row["message_id"],
    );
    compare(
        "summary message_id",
        summary.message_id.clone().into(),
        &row["message_id"],
    );
    compare(
        "timestamp",
        message.date.timestamp().into(),
        &row["timestamp"],
    );
    compare(
        "summary timestamp",
        summary.date.timestamp().into(),
        &row["timestamp"],
    );
    compare("kind", message.kind.clone().into(), &row["kind"]);
    compare("summary kind", summary.kind.clone().into(), &row["kind"]);

    let from: Vec<&str> = message
        .from
        .iter()
        .map(|mailbox| mailbox.address.as_str())
        .collect();
    compare("from", from.into(), &Value::from(vec![row["from"].clone()]));
    let to: Vec<&str> = message
        .to
        .iter()
        .map(|mailbox| mailbox.address.as_str())
        .collect();
    compare("to", to.into(), &Value::from(vec![row["to"].clone()]));
    // Some mails address the customer by name in To, and all greet them by
    // name in the body.
    if let Some(name) = message.to.first().and_then(|mailbox| mailbox.name.clone()) {
        compare("to name", name.into(), &row["customer_name"]);
    }
    let customer = row["customer_name"].as_str().expect("customer_name");
    compare(
        "text has customer name",
        message.text.contains(customer).into(),
        &true.into(),
    );

    let attachments: Vec<Value> = message
        .regular_attachments()
        .map(|attachment| {
            serde_json::json!({
                "filename": attachment.name,
                "content_type": attachment.content_type,
                "size": attachment.size,
            })
        })
        .collect();
    let expected_attachments: Vec<Value> = row["attachment"]
        .as_object()
        .map(|_| row["attachment"].clone())
        .into_iter()
        .collect();
    compare(
        "attachments",
        attachments.into(),
        &expected_attachments.into(),
    );

    compare(
        "flags",
        serde_json::to_value(&message.flags).expect("serializable"),
        &Value::Array(Vec::new()),
    );
    problems
}

#[test]
fn synthetic_sample_matches_truth() {
    let rows = truth();
    assert_eq!(rows.len(), 200);

    let problems: Vec<String> = rows.iter().flat_map(check).collect();
    assert!(
        problems.is_empty(),
        "{} differences:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn synthetic_sample_has_named_recipients() {
    let named = truth()
        .iter()
        .filter(|row| {
            let raw =
                fs::read(sample_dir().join(row["path"].as_str().expect("path"))).expect("readable");
            let recorded_at = "2030-01-01T00:00:00Z".parse().expect("valid timestamp");
            let message = parse_message(
                &raw,
                &RecordMeta::default(),
                recorded_at,
                &ParseOptions::default(),
            );
            message
                .to
                .first()
                .is_some_and(|mailbox| mailbox.name.is_some())
        })
        .count();
    // The To display name check above must not be vacuous.
    assert!(named >= 50, "only {named} messages have a To display name");
}
