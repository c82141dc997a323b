//! The tantivy document of one message.
//!
//! Every value is normalized once. The same normalized value then feeds
//! the five fields of its group (one per kind of term), without copies:
//! [`MessageDoc`] implements tantivy's `Document` trait and hands out one
//! value to several fields.

use archive_core::ArchiveId;
use archive_core::search::{IndexDocument, normalize};
use tantivy::schema::{Field, OwnedValue};

use crate::schema::{FACT_ATTACHMENT, Fields, Group, fact_kind, fact_meta_present, fact_present};
use crate::tokenizer::keyed_value;

/// A message ready for tantivy's `IndexWriter`.
#[derive(Debug, Clone)]
pub struct MessageDoc {
    values: Vec<OwnedValue>,
    /// Pairs of a field and the index of its value in `values`.
    entries: Vec<(Field, u32)>,
}

impl MessageDoc {
    /// Builds the document of `document`, normalizing every value.
    pub fn new(fields: &Fields, document: &IndexDocument) -> MessageDoc {
        let mut doc = MessageDoc {
            values: Vec::new(),
            entries: Vec::new(),
        };
        doc.push(
            fields.id,
            OwnedValue::Bytes(document.id.as_bytes().to_vec()),
        );
        for (field, word) in fields.id_words.iter().zip(id_words(&document.id)) {
            doc.push(*field, OwnedValue::U64(word));
        }
        doc.push(fields.seconds, OwnedValue::I64(document.date.timestamp()));
        doc.push(
            fields.nanos,
            OwnedValue::U64(u64::from(document.date.timestamp_subsec_nanos())),
        );

        let mut facts = Vec::new();
        if document.has_attachment {
            facts.push(FACT_ATTACHMENT.to_owned());
        }
        let kind = document.kind.as_deref().map(normalize);
        if let Some(kind) = &kind {
            facts.push(fact_kind(kind));
        }

        let lists = [
            (Group::From, &document.from),
            (Group::To, &document.to),
            (Group::Subject, &document.subject),
            (Group::Body, &document.body),
            (Group::Attachment, &document.attachment),
            (Group::MessageId, &document.message_id),
            (Group::Order, &document.order),
            (Group::Customer, &document.customer),
        ];
        for (group, values) in lists {
            if !values.is_empty() {
                facts.push(fact_present(group));
            }
            for value in values {
                doc.push_text(fields, group, normalize(value));
            }
        }

        for (key, value) in &document.meta {
            let normalized = normalize(value);
            doc.push_text(fields, Group::Meta, keyed_value(key, &normalized));
            doc.push_text(fields, Group::Other, normalized);
            facts.push(fact_meta_present(key));
        }
        if let Some(kind) = kind {
            doc.push_text(fields, Group::Other, kind);
        }
        if !document.meta.is_empty() || document.kind.is_some() {
            facts.push(fact_present(Group::Other));
        }

        facts.sort_unstable();
        facts.dedup();
        for fact in facts {
            doc.push(fields.facts, OwnedValue::Str(fact));
        }
        doc
    }

    fn push(&mut self, field: Field, value: OwnedValue) {
        let at = self.values.len() as u32;
        self.values.push(value);
        self.entries.push((field, at));
    }

    fn push_text(&mut self, fields: &Fields, group: Group, text: String) {
        let at = self.values.len() as u32;
        self.values.push(OwnedValue::Str(text));
        for grams in group.grams() {
            self.entries.push((fields.text(group, *grams), at));
        }
    }
}

/// Returns the archive id as four big-endian words, which sort like the
/// id.
pub fn id_words(id: &ArchiveId) -> [u64; 4] {
    let bytes = id.as_bytes();
    std::array::from_fn(|word| {
        let mut chunk = [0u8; 8];
        chunk.copy_from_slice(&bytes[word * 8..word * 8 + 8]);
        u64::from_be_bytes(chunk)
    })
}

/// Returns the archive id of four words written by [`id_words`].
pub fn id_from_words(words: [u64; 4]) -> ArchiveId {
    let mut bytes = [0u8; 32];
    for (word, value) in words.iter().enumerate() {
        bytes[word * 8..word * 8 + 8].copy_from_slice(&value.to_be_bytes());
    }
    ArchiveId::from_bytes(bytes)
}

/// Iterates over the fields and values of a [`MessageDoc`].
pub struct FieldValues<'a> {
    doc: &'a MessageDoc,
    next: usize,
}

impl<'a> Iterator for FieldValues<'a> {
    type Item = (Field, &'a OwnedValue);

    fn next(&mut self) -> Option<Self::Item> {
        let (field, at) = *self.doc.entries.get(self.next)?;
        self.next += 1;
        Some((field, &self.doc.values[at as usize]))
    }
}

impl tantivy::schema::Document for MessageDoc {
    type Value<'a> = &'a OwnedValue;
    type FieldsValuesIter<'a> = FieldValues<'a>;

    fn iter_fields_and_values(&self) -> FieldValues<'_> {
        FieldValues { doc: self, next: 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_words_round_trip_and_sort() {
        let a = ArchiveId::of(b"a");
        let b = ArchiveId::of(b"b");
        assert_eq!(id_from_words(id_words(&a)), a);
        assert_eq!(id_words(&a).cmp(&id_words(&b)), a.cmp(&b));
    }
}
