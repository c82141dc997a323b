//! Translation of the engine-independent [`Query`] into tantivy queries.
//!
//! A text term matches a document when it matches one value of one of
//! the groups its field covers (see [`IndexDocument::values`]). For each
//! group the term becomes the cheapest exact query:
//!
//! - an empty normalized term: the group has a value at all;
//! - one character: a term query on the unigram field;
//! - an identifier-like term ([`is_identifier_term`]) of
//!   [`MIN_SUFFIX_CHARS`] to [`MAX_SUFFIX_CHARS`] characters: a prefix
//!   (term range) query on the identifier suffix field;
//! - any other term: a phrase of its bigrams ([`phrase_bigrams`]).
//!
//! A term that looks like a phone number also matches through its digits:
//! a prefix query on the digit suffix field, or a phrase of digit bigrams
//! when it has more than [`MAX_SUFFIX_CHARS`] digits.
//!
//! [`IndexDocument::values`]: archive_core::search::IndexDocument::values

use std::ops::Bound;

use archive_core::search::{Query, TextField, TextTerm, is_identifier_term, meta_key, normalize};
use chrono::{DateTime, Utc};
use tantivy::Term;
use tantivy::query::{
    AllQuery, BooleanQuery, EmptyQuery, Occur, PhraseQuery, Query as TantivyQuery, RangeQuery,
    TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};

use crate::schema::{FACT_ATTACHMENT, Fields, Group, fact_kind, fact_meta_present, fact_present};
use crate::tokenizer::{Grams, MAX_SUFFIX_CHARS, MIN_SUFFIX_CHARS, key_prefix, phrase_bigrams};

/// The time span a partition covers: `[start, end)`.
pub type Span = (DateTime<Utc>, DateTime<Utc>);

/// Builds the tantivy query of `query` for a partition covering `span`.
/// Date conditions that hold for the whole partition become "all", and
/// those that hold for none of it become "nothing".
pub fn build(fields: &Fields, query: &Query, span: Span) -> Box<dyn TantivyQuery> {
    Builder { fields, span }.query(query)
}

struct Builder<'a> {
    fields: &'a Fields,
    span: Span,
}

impl Builder<'_> {
    fn query(&self, query: &Query) -> Box<dyn TantivyQuery> {
        match query {
            Query::All => Box::new(AllQuery),
            Query::Text(term) => self.text(term),
            Query::Kind(kind) => self.fact(&fact_kind(&normalize(kind))),
            Query::HasAttachment => self.fact(FACT_ATTACHMENT),
            Query::Date { start, end } => self.date(*start, *end),
            Query::And(parts) => self.and(parts),
            Query::Or(parts) => {
                if parts.is_empty() {
                    return Box::new(EmptyQuery);
                }
                let clauses = parts
                    .iter()
                    .map(|part| (Occur::Should, self.query(part)))
                    .collect();
                Box::new(BooleanQuery::new(clauses))
            }
            Query::Not(part) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, Box::new(AllQuery)),
                (Occur::MustNot, self.query(part)),
            ])),
        }
    }

    /// Negated parts become `MustNot` clauses; a conjunction of negations
    /// only gets an "all" clause to subtract them from.
    fn and(&self, parts: &[Query]) -> Box<dyn TantivyQuery> {
        let mut clauses: Vec<(Occur, Box<dyn TantivyQuery>)> = Vec::new();
        for part in parts {
            match part {
                Query::Not(inner) => clauses.push((Occur::MustNot, self.query(inner))),
                _ => clauses.push((Occur::Must, self.query(part))),
            }
        }
        if !clauses.iter().any(|(occur, _)| *occur == Occur::Must) {
            clauses.push((Occur::Must, Box::new(AllQuery)));
        }
        Box::new(BooleanQuery::new(clauses))
    }

    fn fact(&self, fact: &str) -> Box<dyn TantivyQuery> {
        Box::new(TermQuery::new(
            Term::from_field_text(self.fields.facts, fact),
            IndexRecordOption::Basic,
        ))
    }

    fn date(
        &self,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
    ) -> Box<dyn TantivyQuery> {
        let (span_start, span_end) = self.span;
        let covers_start = start.is_none_or(|start| start <= span_start);
        let covers_end = end.is_none_or(|end| end >= span_end);
        if covers_start && covers_end {
            return Box::new(AllQuery);
        }
        let disjoint = start.is_some_and(|start| start >= span_end)
            || end.is_some_and(|end| end <= span_start)
            || matches!((start, end), (Some(start), Some(end)) if start >= end);
        if disjoint {
            return Box::new(EmptyQuery);
        }
        let mut clauses: Vec<(Occur, Box<dyn TantivyQuery>)> = Vec::new();
        if let Some(start) = start.filter(|_| !covers_start) {
            clauses.push((Occur::Must, self.at_or_after(start)));
        }
        if let Some(end) = end.filter(|_| !covers_end) {
            clauses.push((Occur::MustNot, self.at_or_after(end)));
        }
        if covers_start {
            clauses.push((Occur::Must, Box::new(AllQuery)));
        }
        Box::new(BooleanQuery::new(clauses))
    }

    /// Builds a query for documents dated at or after `instant`, exact to
    /// the nanosecond:
    /// whole seconds from the `seconds` field, and within the boundary
    /// second the `nanos` field.
    fn at_or_after(&self, instant: DateTime<Utc>) -> Box<dyn TantivyQuery> {
        let seconds = instant.timestamp();
        let nanos = u64::from(instant.timestamp_subsec_nanos());
        let seconds_from = |bound: Bound<i64>| -> Box<dyn TantivyQuery> {
            Box::new(RangeQuery::new(
                bound.map(|value| Term::from_field_i64(self.fields.seconds, value)),
                Bound::Unbounded,
            ))
        };
        if nanos == 0 {
            return seconds_from(Bound::Included(seconds));
        }
        let boundary_second: Box<dyn TantivyQuery> = Box::new(BooleanQuery::new(vec![
            (
                Occur::Must,
                Box::new(RangeQuery::new(
                    Bound::Included(Term::from_field_i64(self.fields.seconds, seconds)),
                    Bound::Included(Term::from_field_i64(self.fields.seconds, seconds)),
                )),
            ),
            (
                Occur::Must,
                Box::new(RangeQuery::new(
                    Bound::Included(Term::from_field_u64(self.fields.nanos, nanos)),
                    Bound::Unbounded,
                )),
            ),
        ]));
        Box::new(BooleanQuery::new(vec![
            (Occur::Should, seconds_from(Bound::Excluded(seconds))),
            (Occur::Should, boundary_second),
        ]))
    }

    fn text(&self, term: &TextTerm) -> Box<dyn TantivyQuery> {
        let normalized = term.normalized();
        let phone = term.phone_digits();
        let mut clauses: Vec<(Occur, Box<dyn TantivyQuery>)> = Vec::new();
        for (group, key) in groups_of(&term.field) {
            let prefix = key.as_deref().map(key_prefix).unwrap_or_default();
            clauses.push((
                Occur::Should,
                self.in_group(group, key.as_deref(), &prefix, &normalized),
            ));
            if let Some(digits) = &phone {
                clauses.push((Occur::Should, self.digits_in_group(group, &prefix, digits)));
            }
        }
        Box::new(BooleanQuery::new(clauses))
    }

    fn in_group(
        &self,
        group: Group,
        key: Option<&str>,
        prefix: &str,
        normalized: &str,
    ) -> Box<dyn TantivyQuery> {
        let length = normalized.chars().count();
        if length == 0 {
            return match key {
                Some(key) => self.fact(&fact_meta_present(key)),
                None => self.fact(&fact_present(group)),
            };
        }
        if length == 1 {
            let field = self.fields.text(group, Grams::Unigrams);
            return term_query(field, &format!("{prefix}{normalized}"));
        }
        let suffix_lengths = MIN_SUFFIX_CHARS..=MAX_SUFFIX_CHARS;
        if suffix_lengths.contains(&length)
            && group.grams().contains(&Grams::IdentifierSuffixes)
            && is_identifier_term(normalized)
        {
            let field = self.fields.text(group, Grams::IdentifierSuffixes);
            return prefix_query(field, &format!("{prefix}{normalized}"));
        }
        let field = self.fields.text(group, Grams::Bigrams);
        phrase_query(field, prefix, normalized)
    }

    fn digits_in_group(&self, group: Group, prefix: &str, digits: &str) -> Box<dyn TantivyQuery> {
        if digits.len() <= MAX_SUFFIX_CHARS {
            let field = self.fields.text(group, Grams::DigitSuffixes);
            return prefix_query(field, &format!("{prefix}{digits}"));
        }
        let field = self.fields.text(group, Grams::LongDigitBigrams);
        phrase_query(field, prefix, digits)
    }
}

/// Returns the groups a field covers, with the metadata key for `meta.KEY`.
fn groups_of(field: &TextField) -> Vec<(Group, Option<String>)> {
    let plain = |groups: &[Group]| groups.iter().map(|group| (*group, None)).collect();
    match field {
        TextField::Any => plain(&Group::ANY),
        TextField::From => plain(&[Group::From]),
        TextField::To => plain(&[Group::To]),
        TextField::Subject => plain(&[Group::Subject]),
        TextField::Body => plain(&[Group::Body]),
        TextField::Attachment => plain(&[Group::Attachment]),
        TextField::MessageId => plain(&[Group::MessageId]),
        TextField::Customer => plain(&[Group::Customer]),
        TextField::Order => plain(&[Group::Order, Group::Subject, Group::Body]),
        TextField::Meta(key) => vec![(Group::Meta, Some(meta_key(key)))],
    }
}

fn term_query(field: Field, text: &str) -> Box<dyn TantivyQuery> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, text),
        IndexRecordOption::Basic,
    ))
}

/// Builds a query for every term that starts with `prefix`: the range from
/// `prefix` up to the next string of the same length.
fn prefix_query(field: Field, prefix: &str) -> Box<dyn TantivyQuery> {
    let lower = Term::from_field_text(field, prefix);
    let upper = match successor(prefix.as_bytes()) {
        Some(bytes) => Bound::Excluded(Term::from_field_bytes(field, &bytes)),
        None => Bound::Unbounded,
    };
    Box::new(RangeQuery::new(Bound::Included(lower), upper))
}

/// Returns the smallest byte string greater than every string that
/// starts with `prefix`, or `None` if there is none.
fn successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut bytes = prefix.to_vec();
    while let Some(last) = bytes.pop() {
        if last < u8::MAX {
            bytes.push(last + 1);
            return Some(bytes);
        }
    }
    None
}

fn phrase_query(field: Field, prefix: &str, normalized: &str) -> Box<dyn TantivyQuery> {
    let Some(bigrams) = phrase_bigrams(normalized) else {
        return Box::new(EmptyQuery);
    };
    let mut terms: Vec<(usize, Term)> = bigrams
        .into_iter()
        .map(|(offset, bigram)| {
            (
                offset,
                Term::from_field_text(field, &format!("{prefix}{bigram}")),
            )
        })
        .collect();
    if terms.len() == 1 {
        let (_, term) = terms.pop().expect("one bigram");
        return Box::new(TermQuery::new(term, IndexRecordOption::Basic));
    }
    Box::new(PhraseQuery::new_with_offset(terms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successor_bounds_a_prefix() {
        assert_eq!(successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(successor(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(successor(b"\xff\xff"), None);
    }
}
