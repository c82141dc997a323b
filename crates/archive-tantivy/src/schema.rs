//! The tantivy schema of one partition and the tokenizers it needs.

use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::TokenizerManager;

use crate::tokenizer::{GramTokenizer, Grams};

/// A group of values that queries address together. Every group is
/// indexed in one field per [`Grams`] kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Group {
    /// `From` names and addresses.
    From,
    /// Every recipient.
    To,
    /// The subject.
    Subject,
    /// The text body and inline text parts.
    Body,
    /// Attachment file names.
    Attachment,
    /// The Message-ID.
    MessageId,
    /// Order ids from the metadata.
    Order,
    /// Customer ids from the metadata.
    Customer,
    /// Every metadata value, keyed by its key, for `meta.KEY:`.
    Meta,
    /// Every metadata value without its key, and the kind: the values that
    /// only free text reaches.
    Other,
}

impl Group {
    /// Every group.
    pub const ALL: [Group; 10] = [
        Group::From,
        Group::To,
        Group::Subject,
        Group::Body,
        Group::Attachment,
        Group::MessageId,
        Group::Order,
        Group::Customer,
        Group::Meta,
        Group::Other,
    ];

    /// The groups free text searches.
    pub const ANY: [Group; 7] = [
        Group::From,
        Group::To,
        Group::Subject,
        Group::Body,
        Group::Attachment,
        Group::MessageId,
        Group::Other,
    ];

    /// Returns the stem of the group's field names.
    pub fn name(self) -> &'static str {
        match self {
            Group::From => "from",
            Group::To => "to",
            Group::Subject => "subject",
            Group::Body => "body",
            Group::Attachment => "attachment",
            Group::MessageId => "message_id",
            Group::Order => "order",
            Group::Customer => "customer",
            Group::Meta => "meta",
            Group::Other => "other",
        }
    }

    /// Returns the kinds of terms the group's values are indexed with.
    ///
    /// Message-IDs get no identifier suffixes. Each of them would add
    /// about fifty terms that no other message shares, the most costly
    /// kind of term to index. A whole Message-ID is longer than
    /// [`MAX_SUFFIX_CHARS`](crate::tokenizer::MAX_SUFFIX_CHARS) anyway, and
    /// the bigram phrase of a part of one is selective.
    pub fn grams(self) -> &'static [Grams] {
        match self {
            Group::MessageId => &[
                Grams::Bigrams,
                Grams::Unigrams,
                Grams::DigitSuffixes,
                Grams::LongDigitBigrams,
            ],
            _ => &Grams::ALL,
        }
    }

    /// True if the group's values carry a metadata key.
    pub fn is_keyed(self) -> bool {
        self == Group::Meta
    }

    fn index(self) -> usize {
        self as usize
    }
}

fn grams_index(grams: Grams) -> usize {
    match grams {
        Grams::Bigrams => 0,
        Grams::Unigrams => 1,
        Grams::IdentifierSuffixes => 2,
        Grams::DigitSuffixes => 3,
        Grams::LongDigitBigrams => 4,
    }
}

fn grams_suffix(grams: Grams) -> &'static str {
    match grams {
        Grams::Bigrams => "bigrams",
        Grams::Unigrams => "unigrams",
        Grams::IdentifierSuffixes => "identifiers",
        Grams::DigitSuffixes => "digits",
        Grams::LongDigitBigrams => "long_digits",
    }
}

/// The fields of the schema.
#[derive(Debug, Clone)]
pub struct Fields {
    /// The archive id (32 bytes), indexed for replace and delete.
    pub id: Field,
    /// The archive id as four big-endian `u64` words, fast fields: results
    /// are read from them without a document store.
    pub id_words: [Field; 4],
    /// Whole seconds of the message date since the Unix epoch (fast).
    pub seconds: Field,
    /// Nanoseconds within the second of the message date (fast).
    pub nanos: Field,
    /// Raw keyword terms: the kind, the attachment flag, and which groups
    /// have a value (see the `fact_*` functions).
    pub facts: Field,
    text: Vec<[Field; 5]>,
}

impl Fields {
    /// Returns the field of `group` that contains `grams` terms.
    pub fn text(&self, group: Group, grams: Grams) -> Field {
        self.text[group.index()][grams_index(grams)]
    }
}

/// Returns the fact term of a message of this kind (normalized).
pub fn fact_kind(normalized_kind: &str) -> String {
    format!("kind={normalized_kind}")
}

/// The fact term of a message with a regular attachment.
pub const FACT_ATTACHMENT: &str = "has=attachment";

/// Returns the fact term of a message with at least one value in
/// `group`.
pub fn fact_present(group: Group) -> String {
    format!("present={}", group.name())
}

/// Returns the fact term of a message with at least one metadata value
/// for `key`.
pub fn fact_meta_present(key: &str) -> String {
    format!("present=meta.{key}")
}

/// Builds the schema of a partition.
pub fn build_schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let id = builder.add_bytes_field("id", INDEXED);
    let id_words = [0, 1, 2, 3].map(|word| builder.add_u64_field(&format!("id{word}"), FAST));
    let seconds = builder.add_i64_field("seconds", FAST);
    let nanos = builder.add_u64_field("nanos", FAST);
    let raw = TextFieldIndexing::default()
        .set_tokenizer("raw")
        .set_index_option(IndexRecordOption::Basic)
        .set_fieldnorms(false);
    let facts = builder.add_text_field("facts", TextOptions::default().set_indexing_options(raw));

    let mut text = Vec::new();
    for group in Group::ALL {
        let fields = Grams::ALL.map(|grams| {
            let record = if grams.has_positions() {
                IndexRecordOption::WithFreqsAndPositions
            } else {
                IndexRecordOption::Basic
            };
            let indexing = TextFieldIndexing::default()
                .set_tokenizer(grams.tokenizer_name(group.is_keyed()))
                .set_index_option(record)
                .set_fieldnorms(false);
            let options = TextOptions::default().set_indexing_options(indexing);
            builder.add_text_field(
                &format!("{}_{}", group.name(), grams_suffix(grams)),
                options,
            )
        });
        text.push(fields);
    }

    let fields = Fields {
        id,
        id_words,
        seconds,
        nanos,
        facts,
        text,
    };
    (builder.build(), fields)
}

/// Registers the tokenizers the schema names.
pub fn register_tokenizers(manager: &TokenizerManager) {
    for grams in Grams::ALL {
        for keyed in [false, true] {
            manager.register(
                grams.tokenizer_name(keyed),
                GramTokenizer::new(grams, keyed),
            );
        }
    }
}
