//! Recording a received message in the archive, and the reply that reports
//! the outcome to the client.

use std::net::SocketAddr;

use archive_core::{Archive, RecordError, RecordMeta, Source, summarize};
use chrono::Utc;

use crate::protocol::Reply;
use crate::protocol::session::{Transaction, too_large_reply};

/// The envelope and session facts of a message, besides its bytes.
pub(crate) struct Envelope<'a> {
    pub transaction: &'a Transaction,
    pub client: SocketAddr,
    pub local: SocketAddr,
    pub helo: Option<&'a str>,
    pub tls: Option<&'a str>,
    pub user: Option<&'a str>,
    pub session_id: &'a str,
    pub extended: bool,
}

impl Envelope<'_> {
    /// Builds the record metadata: the envelope fields, and the session
    /// facts as `smtp.*` application keys.
    fn record_meta(&self) -> RecordMeta {
        let transaction = self.transaction;
        let mut meta = RecordMeta::new(Source::Smtp);
        meta.envelope_from = Some(transaction.from.clone());
        meta.envelope_to = transaction.recipients.clone();
        meta.received_at = Some(Utc::now());
        meta.origin = Some(format!("SMTP client {}", self.client));
        meta.app
            .insert("smtp.client".into(), self.client.to_string());
        meta.app
            .insert("smtp.listener".into(), self.local.to_string());
        meta.app
            .insert("smtp.session".into(), self.session_id.to_owned());
        meta.app
            .insert("smtp.protocol".into(), self.protocol().to_owned());
        meta.app
            .insert("smtp.tls".into(), self.tls.unwrap_or("none").to_owned());
        if let Some(helo) = self.helo {
            meta.app.insert("smtp.helo".into(), helo.to_owned());
        }
        if let Some(user) = self.user {
            meta.app.insert("smtp.auth".into(), user.to_owned());
        }
        if let Some(body) = transaction.body {
            meta.app
                .insert("smtp.body".into(), body.as_str().to_owned());
        }
        if transaction.smtputf8 {
            meta.app.insert("smtp.smtputf8".into(), "yes".to_owned());
        }
        meta
    }

    /// Returns the protocol name as in a `Received:` header's `with` clause
    /// (RFC 3848): SMTP, ESMTP, ESMTPS, ESMTPA or ESMTPSA.
    fn protocol(&self) -> &'static str {
        match (self.extended, self.tls.is_some(), self.user.is_some()) {
            (false, _, _) => "SMTP",
            (true, false, false) => "ESMTP",
            (true, true, false) => "ESMTPS",
            (true, false, true) => "ESMTPA",
            (true, true, true) => "ESMTPSA",
        }
    }
}

/// Records `raw` and returns the reply for the end of data: `250` only once
/// the message is durable.
pub(crate) async fn deliver(archive: &Archive, envelope: &Envelope<'_>, raw: Vec<u8>) -> Reply {
    let meta = envelope.record_meta();
    let size = raw.len();
    let message_id = summarize(&raw, &meta, Utc::now(), &archive.options().parse).message_id;
    match archive.record(raw, meta).await {
        Ok(receipt) => {
            tracing::info!(
                id = %receipt.id,
                message_id = message_id.as_deref().unwrap_or("(none)"),
                status = ?receipt.status,
                size,
                from = %envelope.transaction.from,
                recipients = envelope.transaction.recipients.len(),
                "message archived"
            );
            Reply::new(250, "2.0.0", format!("Ok: archived as {}", receipt.id))
        }
        Err(error) => {
            let reply = reply_for(&error);
            if reply.is_permanent() {
                tracing::error!(%error, size, message_id = message_id.as_deref().unwrap_or("(none)"), %reply, "message rejected");
            } else {
                tracing::warn!(%error, size, message_id = message_id.as_deref().unwrap_or("(none)"), %reply, "message deferred; the client will retry");
            }
            reply
        }
    }
}

/// Maps a record error to a reply: retryable errors to `451` so that the
/// client retries, the others to a `5xx` that names the reason.
pub(crate) fn reply_for(error: &RecordError) -> Reply {
    match error {
        RecordError::JournalFull { .. } => {
            Reply::new(451, "4.3.1", "Archive storage is behind; try again later")
        }
        // The archive closes only at shutdown, after the connections
        // drained, so this is temporary for the sender.
        RecordError::Closed => {
            Reply::new(451, "4.3.2", "Archive is shutting down; try again later")
        }
        error if error.is_retryable() => Reply::new(
            451,
            "4.3.1",
            format!("Archive could not record the message ({error}); try again later"),
        ),
        RecordError::TooLarge { limit, .. } => too_large_reply(*limit),
        RecordError::Empty => Reply::new(554, "5.6.0", "Message is empty; nothing to archive"),
        RecordError::MetaTooLarge { size, limit } => Reply::new(
            552,
            "5.3.4",
            format!("Envelope too large to record: {size} bytes of metadata, limit {limit}"),
        ),
        error => Reply::new(
            554,
            "5.3.0",
            format!("Archive rejected the message: {error}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_errors_map_to_replies() {
        let cases = [
            (
                RecordError::JournalFull {
                    used: 10,
                    limit: 10,
                },
                "451 4.3.1 Archive storage is behind; try again later",
            ),
            (
                RecordError::Closed,
                "451 4.3.2 Archive is shutting down; try again later",
            ),
            (
                RecordError::TooLarge {
                    size: 11,
                    limit: 10,
                },
                "552 5.3.4 Message size exceeds fixed maximum message size of 10 bytes",
            ),
            (
                RecordError::Empty,
                "554 5.6.0 Message is empty; nothing to archive",
            ),
            (
                RecordError::MetaTooLarge {
                    size: 70000,
                    limit: 65536,
                },
                "552 5.3.4 Envelope too large to record: 70000 bytes of metadata, limit 65536",
            ),
        ];
        for (error, expected) in cases {
            assert_eq!(reply_for(&error).to_string(), expected);
        }
    }
}
