//! The search query model, independent of any index engine.
//!
//! A [`Query`] is built by [`parse_query`](super::parse_query) from what
//! support staff type, or directly by code. Its meaning is fixed here and
//! in [`matches`](super::matches), the reference implementation that every
//! [`Index`](super::Index) must agree with:
//!
//! - A text term matches a field value when the normalized term (see
//!   [`normalize`](super::normalize)) is a substring of the normalized
//!   value. Japanese text needs no spaces, case and width do not matter.
//! - A term that looks like a phone number (digits and `-`, `(`, `)`, `+`,
//!   `.`, space; at least six digits) also matches the same digits written
//!   with other separators.
//! - Addresses are searchable as written, as `local@domain` without a
//!   `+tag`, and by display name.
//! - Several terms must all match; `OR` and `-` combine them.

use chrono::{DateTime, Utc};

/// A search query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// Every message.
    All,
    /// Text that must occur in a field.
    Text(TextTerm),
    /// The mail kind equals this value (normalized, whole value).
    Kind(String),
    /// The message has at least one attachment that is not inline.
    HasAttachment,
    /// The message date lies in `[start, end)`; a missing bound is open.
    Date {
        /// Earliest date, inclusive.
        start: Option<DateTime<Utc>>,
        /// Latest date, exclusive.
        end: Option<DateTime<Utc>>,
    },
    /// Every part matches.
    And(Vec<Query>),
    /// At least one part matches.
    Or(Vec<Query>),
    /// The part does not match.
    Not(Box<Query>),
}

/// The fields a text term can be restricted to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TextField {
    /// Every text field below, and the kind.
    Any,
    /// `From` display names and addresses.
    From,
    /// Every recipient: To, Cc, Bcc and envelope recipients.
    To,
    /// The subject.
    Subject,
    /// The text body and the text of inline text parts.
    Body,
    /// Attachment file names.
    Attachment,
    /// Order ids from the application's metadata, and the subject and body.
    Order,
    /// Customer ids from the application's metadata.
    Customer,
    /// The Message-ID.
    MessageId,
    /// One application metadata key (compared in lower case).
    Meta(String),
}

/// A text term and the field it is restricted to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextTerm {
    /// Where the term must occur.
    pub field: TextField,
    /// The term as typed.
    pub text: String,
}

impl TextTerm {
    /// Creates a term.
    pub fn new(field: TextField, text: impl Into<String>) -> TextTerm {
        TextTerm {
            field,
            text: text.into(),
        }
    }

    /// The normalized term that must be a substring of a normalized value.
    pub fn normalized(&self) -> String {
        super::normalize(&self.text)
    }

    /// The digits to look for in phone numbers, if the term looks like one.
    pub fn phone_digits(&self) -> Option<String> {
        super::phone_digits(&self.normalized())
    }
}

impl Query {
    /// Returns every text term that a match must contain: those not under
    /// `Not`. Used to highlight snippets.
    pub fn positive_terms(&self) -> Vec<&TextTerm> {
        let mut terms = Vec::new();
        self.collect_positive(&mut terms);
        terms
    }

    fn collect_positive<'a>(&'a self, out: &mut Vec<&'a TextTerm>) {
        match self {
            Query::Text(term) => out.push(term),
            Query::And(parts) | Query::Or(parts) => {
                for part in parts {
                    part.collect_positive(out);
                }
            }
            _ => {}
        }
    }

    /// Returns the date range outside which no message can match, so an
    /// index partitioned by time can skip partitions.
    pub fn date_bounds(&self) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        match self {
            Query::Date { start, end } => (*start, *end),
            Query::And(parts) => parts.iter().fold((None, None), |(start, end), part| {
                let (part_start, part_end) = part.date_bounds();
                (max_option(start, part_start), min_option(end, part_end))
            }),
            _ => (None, None),
        }
    }
}

fn max_option(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn min_option(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
