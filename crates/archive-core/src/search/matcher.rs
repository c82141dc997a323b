//! The reference meaning of a query: whether one document matches.
//!
//! [`MemoryIndex`](super::MemoryIndex) searches with this function, and the
//! index conformance suite compares every backend with it.

use super::document::IndexDocument;
use super::normalize::{normalize, numeric_runs};
use super::query::{Query, TextTerm};

/// Returns true if `document` matches `query`.
pub fn matches(document: &IndexDocument, query: &Query) -> bool {
    match query {
        Query::All => true,
        Query::Text(term) => text_matches(document, term),
        Query::Kind(kind) => document
            .kind
            .as_deref()
            .is_some_and(|value| normalize(value) == normalize(kind)),
        Query::HasAttachment => document.has_attachment,
        Query::Date { start, end } => {
            start.is_none_or(|start| document.date >= start)
                && end.is_none_or(|end| document.date < end)
        }
        Query::And(parts) => parts.iter().all(|part| matches(document, part)),
        Query::Or(parts) => parts.iter().any(|part| matches(document, part)),
        Query::Not(part) => !matches(document, part),
    }
}

fn text_matches(document: &IndexDocument, term: &TextTerm) -> bool {
    let wanted = term.normalized();
    let phone = term.phone_digits();
    document.values(&term.field).into_iter().any(|value| {
        let value = normalize(value);
        value.contains(&wanted)
            || phone
                .as_ref()
                .is_some_and(|digits| numeric_runs(&value).any(|run| run.contains(digits.as_str())))
    })
}
