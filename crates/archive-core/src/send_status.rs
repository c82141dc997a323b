//! The outcome of handing a recorded message to a relay.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The outcome of a send attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendOutcome {
    /// The relay accepted the message (a 2xx reply).
    Accepted,
    /// The relay refused the message for good (a 5xx reply).
    Rejected,
    /// The attempt failed without a final reply: a 4xx reply, a lost
    /// connection, a timeout. The sender may retry.
    Failed,
}

/// The relay's reply to one send attempt, stored beside the message.
///
/// A message can have several: a failed attempt and then an accepted retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendStatus {
    /// The outcome of the attempt.
    pub outcome: SendOutcome,
    /// When the reply came, or the attempt failed.
    pub at: DateTime<Utc>,
    /// The SMTP reply code, when the relay replied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    /// The relay's reply text, lines joined with a newline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    /// The queue id the relay gave the message, when its reply names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<String>,
    /// The error, when the attempt failed without a reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl SendStatus {
    /// Creates a status with `outcome` at the current time and nothing else.
    pub fn new(outcome: SendOutcome) -> SendStatus {
        SendStatus {
            outcome,
            at: Utc::now(),
            code: None,
            response: None,
            queue_id: None,
            error: None,
        }
    }

    /// Creates the status of a relay reply: accepted for 2xx, rejected for
    /// 5xx, failed otherwise. The queue id is taken from the text when it
    /// contains one (see [`queue_id_of`]).
    pub fn from_reply(code: u16, response: impl Into<String>) -> SendStatus {
        let outcome = match code {
            200..=299 => SendOutcome::Accepted,
            500..=599 => SendOutcome::Rejected,
            _ => SendOutcome::Failed,
        };
        let response = response.into();
        SendStatus {
            code: Some(code),
            queue_id: queue_id_of(&response),
            response: Some(response),
            ..SendStatus::new(outcome)
        }
    }

    /// Creates the status of an attempt that failed with `error`.
    pub fn failed(error: impl Into<String>) -> SendStatus {
        SendStatus {
            error: Some(error.into()),
            ..SendStatus::new(SendOutcome::Failed)
        }
    }
}

/// Finds the queue id in a relay's reply to the end of data, as Postfix
/// (`2.0.0 Ok: queued as 4ABC123`), Exim (`OK id=1abc-0002-xy`) and
/// Sendmail (`2.0.0 abc123 Message accepted for delivery`) write it.
pub fn queue_id_of(response: &str) -> Option<String> {
    let words: Vec<&str> = response.split_whitespace().collect();
    let token = |word: &str| {
        let word = word.trim_matches(|c: char| matches!(c, '<' | '>' | '(' | ')' | ',' | '.'));
        (!word.is_empty()).then(|| word.to_owned())
    };
    if let Some(at) = words.windows(2).position(|pair| pair == ["queued", "as"]) {
        return words.get(at + 2).and_then(|word| token(word));
    }
    if let Some(id) = words.iter().find_map(|word| word.strip_prefix("id=")) {
        return token(id);
    }
    let accepted = response.contains("Message accepted for delivery");
    match words.as_slice() {
        [status, id, ..] if accepted && status.contains('.') => token(id),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_ids_of_common_relays() {
        let cases = [
            ("2.0.0 Ok: queued as 4Fq9Zk2T1Sz1", Some("4Fq9Zk2T1Sz1")),
            ("OK id=1vXyZa-0003Kq-2B", Some("1vXyZa-0003Kq-2B")),
            (
                "2.0.0 5B4Mx1a2 Message accepted for delivery",
                Some("5B4Mx1a2"),
            ),
            ("2.0.0 Ok", None),
            ("", None),
            ("queued as", None),
        ];
        for (response, expected) in cases {
            assert_eq!(queue_id_of(response).as_deref(), expected, "{response:?}");
        }
    }

    #[test]
    fn reply_codes_map_to_outcomes() {
        let accepted = SendStatus::from_reply(250, "2.0.0 Ok: queued as ABC");
        assert_eq!(accepted.outcome, SendOutcome::Accepted);
        assert_eq!(accepted.queue_id.as_deref(), Some("ABC"));
        assert_eq!(
            SendStatus::from_reply(550, "5.1.1 no such user").outcome,
            SendOutcome::Rejected
        );
        assert_eq!(
            SendStatus::from_reply(451, "4.3.0 try later").outcome,
            SendOutcome::Failed
        );
    }
}
