//! How messages are printed: JSON objects and text for people.

use archive_core::{Attachment, EntryInfo, Mailbox, Message, RecordMeta, SendStatus};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Value, json};

/// Formats a time as RFC 3339 in UTC with a `Z`.
pub fn utc(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn mailbox_json(mailbox: &Mailbox) -> Value {
    json!({ "name": mailbox.name, "address": mailbox.address })
}

fn mailboxes_json(list: &[Mailbox]) -> Value {
    Value::Array(list.iter().map(mailbox_json).collect())
}

#[derive(Serialize)]
struct AttachmentJson<'a> {
    name: &'a Option<String>,
    content_type: &'a str,
    size: u64,
    sha256: &'a str,
    inline: bool,
    content_id: &'a Option<String>,
}

fn attachment_json(part: &Attachment) -> AttachmentJson<'_> {
    AttachmentJson {
        name: &part.name,
        content_type: &part.content_type,
        size: part.size,
        sha256: &part.sha256,
        inline: part.inline,
        content_id: &part.content_id,
    }
}

/// The JSON object of `sentmail show --json`.
pub fn message_json(message: &Message) -> Value {
    json!({
        "id": message.id,
        "message_id": message.message_id,
        "date": utc(&message.date),
        "date_source": message.date_source,
        "date_estimated": message.date_is_estimated(),
        "from": message.from.first().map(mailbox_json),
        "to": mailboxes_json(&message.to),
        "cc": mailboxes_json(&message.cc),
        "bcc": mailboxes_json(&message.bcc),
        "reply_to": mailboxes_json(&message.reply_to),
        "subject": message.subject,
        "kind": message.kind,
        "text": message.text,
        "html": message.html,
        "attachments": message.attachments.iter().map(attachment_json).collect::<Vec<_>>(),
        "flags": message.flags,
        "meta": message.meta,
        "recorded_at": utc(&message.recorded_at),
        "size": message.size,
        "send_statuses": message.send_statuses,
    })
}

/// The JSON line of `sentmail list --json`.
pub fn list_json(info: &EntryInfo, subject: Option<&str>) -> Value {
    json!({
        "id": info.id,
        "message_id": info.message_id,
        "date": utc(&info.date),
        "subject": subject,
    })
}

fn mailbox_text(mailbox: &Mailbox) -> String {
    match &mailbox.name {
        Some(name) if !name.is_empty() => format!("{name} <{}>", mailbox.address),
        _ => mailbox.address.clone(),
    }
}

fn mailboxes_text(list: &[Mailbox]) -> String {
    list.iter().map(mailbox_text).collect::<Vec<_>>().join(", ")
}

/// The recorded metadata, one `key  value` line each under a heading.
fn meta_text(meta: &RecordMeta) -> String {
    let mut rows = vec![("source", format!("{:?}", meta.source).to_lowercase())];
    if let Some(from) = &meta.envelope_from {
        rows.push(("envelope_from", from.clone()));
    }
    if !meta.envelope_to.is_empty() {
        rows.push(("envelope_to", meta.envelope_to.join(", ")));
    }
    if let Some(key) = &meta.idempotency_key {
        rows.push(("idempotency_key", key.clone()));
    }
    if let Some(origin) = &meta.origin {
        rows.push(("origin", origin.clone()));
    }
    rows.extend(
        meta.app
            .iter()
            .map(|(key, value)| (key.as_str(), value.clone())),
    );
    let width = rows.iter().map(|(key, _)| key.len()).max().unwrap_or(0);
    let mut out = String::from("Metadata:\n");
    for (key, value) in rows {
        out += &format!("  {key:<width$}  {value}\n");
    }
    out
}

/// One send status on one line: time, outcome, code, queue id, reply or
/// error.
fn status_text(status: &SendStatus) -> String {
    let outcome = format!("{:?}", status.outcome).to_lowercase();
    let mut text = format!("{} {outcome}", utc(&status.at));
    if let Some(code) = status.code {
        text += &format!(" {code}");
    }
    if let Some(queue_id) = &status.queue_id {
        text += &format!(" queue id {queue_id}");
    }
    if let Some(detail) = status.error.as_ref().or(status.response.as_ref()) {
        text += &format!(": {}", detail.replace('\n', " / "));
    }
    text
}

/// The text of `sentmail show`: headers, flags, attachments, then the body.
pub fn message_text(message: &Message) -> String {
    let mut out = String::new();
    let mut line = |label: &str, value: &str| {
        if !value.is_empty() {
            out += &format!("{label:<11} {value}\n");
        }
    };
    line("Archive-Id:", &message.id.to_hex());
    let estimated = if message.date_is_estimated() {
        " (estimated)"
    } else {
        ""
    };
    line("Date:", &format!("{}{estimated}", utc(&message.date)));
    if let Some(sent) = message.header("Date") {
        line("Date header:", sent);
    }
    line("From:", &mailboxes_text(&message.from));
    line("To:", &mailboxes_text(&message.to));
    line("Cc:", &mailboxes_text(&message.cc));
    line("Bcc:", &mailboxes_text(&message.bcc));
    line("Subject:", message.subject.as_deref().unwrap_or(""));
    line("Message-Id:", message.message_id.as_deref().unwrap_or(""));
    line("Kind:", message.kind.as_deref().unwrap_or(""));
    let flags: Vec<String> = message
        .flags
        .iter()
        .map(|flag| format!("{flag:?}"))
        .collect();
    line("Flags:", &flags.join(", "));
    out += &meta_text(&message.meta);
    if !message.send_statuses.is_empty() {
        out += "Send statuses:\n";
        for status in &message.send_statuses {
            out += &format!("  {}\n", status_text(status));
        }
    }

    for (number, part) in message.attachments.iter().enumerate() {
        let role = if part.inline { "inline" } else { "attachment" };
        let name = part.name.as_deref().unwrap_or("(no name)");
        out += &format!(
            "{role} {}: {name}  {}  {} bytes  sha256 {}\n",
            number + 1,
            part.content_type,
            part.size,
            part.sha256
        );
    }
    out += "\n";
    out += &message.text;
    if !message.text.ends_with('\n') {
        out += "\n";
    }
    out
}
