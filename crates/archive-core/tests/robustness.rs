//! Robustness: every real-world message under `testdata/real/` (many of
//! them malformed) and a set of hostile inputs parse without a panic, and
//! the results keep the parser's invariants.
//!
//! Run with `--nocapture` to see how many messages got each flag.

#[path = "support/corpus.rs"]
mod corpus;

use std::collections::BTreeMap;

use archive_core::{
    ArchiveId, Message, ParseFlag, ParseOptions, RecordMeta, Summary, parse_message, summarize,
};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

fn recorded_at() -> DateTime<Utc> {
    "2030-01-01T00:00:00Z".parse().expect("valid timestamp")
}

fn parse_both(raw: &[u8]) -> (Summary, Message) {
    let meta = RecordMeta::default();
    let options = ParseOptions::default();
    (
        summarize(raw, &meta, recorded_at(), &options),
        parse_message(raw, &meta, recorded_at(), &options),
    )
}

/// Returns the broken invariants of one parsed message.
fn invariant_problems(raw: &[u8], summary: &Summary, message: &Message) -> Vec<String> {
    let mut problems = Vec::new();
    let mut check = |ok: bool, what: &str| {
        if !ok {
            problems.push(what.to_owned());
        }
    };

    check(
        message.id == ArchiveId::of(raw),
        "id is the SHA-256 of the raw bytes",
    );
    check(message.size == raw.len() as u64, "size is the raw length");
    check(
        summary.message_id == message.message_id,
        "summary and message agree on message_id",
    );
    check(
        summary.date == message.date,
        "summary and message agree on date",
    );
    check(
        summary.date_source == message.date_source,
        "summary and message agree on date_source",
    );
    check(
        summary.kind == message.kind,
        "summary and message agree on kind",
    );
    check(
        summary
            .flags
            .iter()
            .all(|flag| message.flags.contains(flag)),
        "summary flags are message flags",
    );
    check(
        message.flags.windows(2).all(|pair| pair[0] < pair[1]),
        "flags are sorted and unique",
    );
    check(
        !message.flags.contains(&ParseFlag::ParseFailed),
        "the panic guard did not fire",
    );
    check(!message.text.contains("\r\n"), "text has LF line ends");
    check(
        message.date_is_estimated() == summary.flags.iter().any(|flag| flag.is_date_estimate()),
        "date estimate flags agree",
    );

    for attachment in &message.attachments {
        check(
            attachment.size == attachment.data.len() as u64,
            "attachment size matches its data",
        );
        check(
            attachment.sha256 == hex::encode(Sha256::digest(&attachment.data)),
            "attachment sha256 matches its data",
        );
        check(
            attachment.content_type == attachment.content_type.to_ascii_lowercase(),
            "content type is lower-case",
        );
        check(
            attachment.content_type.contains('/'),
            "content type has a subtype",
        );
        check(
            attachment.text.is_some() == attachment.content_type.starts_with("text/"),
            "text/* attachments have text",
        );
    }
    problems
}

#[test]
fn real_messages_keep_invariants() {
    let messages = corpus::real_messages();
    assert!(messages.len() >= 966, "found {} messages", messages.len());

    let mut failures = Vec::new();
    let mut flag_counts: BTreeMap<String, usize> = BTreeMap::new();
    for (label, raw) in &messages {
        let (summary, message) = parse_both(raw);
        for problem in invariant_problems(raw, &summary, &message) {
            failures.push(format!("{label}: {problem}"));
        }
        for flag in &message.flags {
            *flag_counts.entry(format!("{flag:?}")).or_default() += 1;
        }
    }

    println!(
        "parsed {} real messages; messages per flag:",
        messages.len()
    );
    for (flag, count) in &flag_counts {
        println!("  {flag}: {count}");
    }
    assert!(
        failures.is_empty(),
        "{} broken invariants:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Builds a message whose header block is `headers` and whose body is
/// `body`.
fn hostile(headers: &str, body: &[u8]) -> Vec<u8> {
    let mut raw = format!("From: a@example.com\r\nSubject: hostile\r\n{headers}\r\n").into_bytes();
    raw.extend_from_slice(body);
    raw
}

#[test]
fn deep_nested_messages_parse() {
    let body = b"Content-Type: message/rfc822\r\n\r\n".repeat(50_000);
    let raw = hostile("Content-Type: message/rfc822\r\n", &body);
    let (summary, message) = parse_both(&raw);
    assert_eq!(
        invariant_problems(&raw, &summary, &message),
        Vec::<String>::new()
    );
    assert_eq!(message.attachments.len(), 1);
    assert_eq!(message.attachments[0].content_type, "message/rfc822");
}

#[test]
fn deep_nested_multiparts_parse() {
    let mut body = Vec::new();
    for level in 0..20_000 {
        body.extend_from_slice(
            format!(
                "--b{level}\r\nContent-Type: multipart/mixed; boundary=\"b{}\"\r\n\r\n",
                level + 1
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(b"--b20000\r\nContent-Type: text/plain\r\n\r\ndeep\r\n");
    let raw = hostile("Content-Type: multipart/mixed; boundary=\"b0\"\r\n", &body);
    let (summary, message) = parse_both(&raw);
    assert_eq!(
        invariant_problems(&raw, &summary, &message),
        Vec::<String>::new()
    );
    assert!(message.flags.contains(&ParseFlag::NestingTooDeep));
    assert!(
        message
            .attachments
            .iter()
            .any(|attachment| attachment.text.as_deref().map(str::trim_end) == Some("deep"))
    );
}

#[test]
fn long_lines_and_many_parts_parse() {
    let inputs = [
        hostile("Content-Type: text/plain\r\n", &vec![b'a'; 4_000_000]),
        hostile(
            "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n",
            &b"QUJD!".repeat(500_000),
        ),
        hostile(
            "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n",
            &b"=\r\n=ZZ=".repeat(500_000),
        ),
        hostile(
            "Content-Type: multipart/mixed; boundary=b\r\n",
            &b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n".repeat(20_000),
        ),
        hostile(
            &format!("Subject: {}\r\n", "=?utf-8?q?a?= ".repeat(200_000)),
            b"body",
        ),
        hostile(
            &format!("To: {}\r\n", "\"a\" <b@c>, (".repeat(200_000)),
            b"body",
        ),
        hostile(
            &format!(
                "Content-Type: text/plain; {}\r\n",
                "name*0*=x; ".repeat(100_000)
            ),
            b"body",
        ),
    ];
    for raw in &inputs {
        let (summary, message) = parse_both(raw);
        assert_eq!(
            invariant_problems(raw, &summary, &message),
            Vec::<String>::new()
        );
    }
}

#[test]
fn garbage_inputs_parse() {
    let inputs: [&[u8]; 8] = [
        b"",
        b"\r\n",
        b"garbage",
        b"no colon line\r\n\r\nbody",
        b":\r\n",
        b"\x1b$B",
        b"--\r\n--",
        b"Content-Type: multipart/mixed\r\n\r\n--x",
    ];
    for raw in inputs {
        let (summary, message) = parse_both(raw);
        assert_eq!(
            invariant_problems(raw, &summary, &message),
            Vec::<String>::new()
        );
    }
    let (_, message) = parse_both(b"just text\r\nmore");
    assert_eq!(
        message.flags,
        [
            ParseFlag::DateMissing,
            ParseFlag::MessageIdMissing,
            ParseFlag::NoHeaders
        ]
    );
    assert_eq!(message.text, "just text\nmore");
}
