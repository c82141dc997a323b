//! Tokenizers of normalized field values.
//!
//! Every value reaches tantivy already normalized with
//! [`archive_core::search::normalize`], and query terms are normalized the
//! same way, so these tokenizers never fold case or width themselves. Each
//! one turns a value into the terms of one kind of field:
//!
//! - [`Grams::Bigrams`]: every pair of adjacent characters, at the position
//!   of its first character. A term of two or more characters occurs in a
//!   value exactly when its bigrams occur at consecutive positions, so a
//!   phrase query finds substrings. Bigrams have a position length
//!   of two, and tantivy (0.27, `postings_writer.rs`) starts the next value
//!   of a multi-valued field one position after the end of the last token.
//!   So the last bigram of one value and the first of the next lie three
//!   positions apart, and no phrase whose bigrams are at most two apart
//!   (see [`phrase_bigrams`]) spans two values.
//! - [`Grams::Unigrams`]: every distinct character, for one-character
//!   terms.
//! - [`Grams::IdentifierSuffixes`]: every suffix of at least
//!   [`MIN_SUFFIX_CHARS`] characters of every identifier run
//!   ([`identifier_runs`]), cut to [`MAX_SUFFIX_CHARS`]. An identifier-like
//!   term with a length between those two occurs in a value exactly when
//!   it is a prefix of one of these terms. Every occurrence lies inside an
//!   identifier run and starts a suffix at least as long as the term. Shorter and longer terms use bigram phrases, which are exact
//!   too, so skipping the short suffixes (prices, days, years) only saves
//!   indexing work.
//! - [`Grams::DigitSuffixes`]: every suffix of at least
//!   [`MIN_PHONE_DIGITS`] digits of the digits of every numeric run
//!   ([`numeric_runs`]), cut to [`MAX_SUFFIX_CHARS`], for phone numbers
//!   written with other separators; a phone term has at least that many
//!   digits.
//! - [`Grams::LongDigitBigrams`]: digit bigrams of the numeric runs longer
//!   than [`MAX_SUFFIX_CHARS`] digits, for phone terms too long for a prefix
//!   lookup.
//!
//! A keyed tokenizer reads values written by [`keyed_value`] and puts the
//! key, after its length, before every term ([`key_prefix`]), so one field
//! serves every metadata key and `meta.KEY:` stays restricted to its key.

use std::borrow::Cow;

use archive_core::search::{MIN_PHONE_DIGITS, identifier_runs, numeric_runs};
use rustc_hash::FxHashSet;
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// Maximum length in characters (all ASCII) of the suffix terms. Longer
/// suffixes are cut; terms longer than this are searched with bigram
/// phrases instead of a prefix lookup.
pub const MAX_SUFFIX_CHARS: usize = 40;

/// Minimum length in characters of the identifier suffix terms; shorter
/// identifier-like terms are searched with bigram phrases. Order numbers,
/// tracking numbers and addresses are longer; most shorter runs in mail
/// are prices and dates, which would cost many terms per message.
pub const MIN_SUFFIX_CHARS: usize = 6;

/// The kind of terms a [`GramTokenizer`] produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grams {
    /// Adjacent character pairs with positions.
    Bigrams,
    /// Single characters.
    Unigrams,
    /// Suffixes of identifier runs.
    IdentifierSuffixes,
    /// Suffixes of the digits of numeric runs.
    DigitSuffixes,
    /// Digit bigrams of numeric runs longer than [`MAX_SUFFIX_CHARS`].
    LongDigitBigrams,
}

impl Grams {
    /// Every kind, in the order of the fields of a field group.
    pub const ALL: [Grams; 5] = [
        Grams::Bigrams,
        Grams::Unigrams,
        Grams::IdentifierSuffixes,
        Grams::DigitSuffixes,
        Grams::LongDigitBigrams,
    ];

    /// Returns the name this kind is registered under, with `_keyed`
    /// appended for the keyed variant.
    pub fn tokenizer_name(self, keyed: bool) -> &'static str {
        match (self, keyed) {
            (Grams::Bigrams, false) => "sentmail_bigrams",
            (Grams::Bigrams, true) => "sentmail_bigrams_keyed",
            (Grams::Unigrams, false) => "sentmail_unigrams",
            (Grams::Unigrams, true) => "sentmail_unigrams_keyed",
            (Grams::IdentifierSuffixes, false) => "sentmail_identifier_suffixes",
            (Grams::IdentifierSuffixes, true) => "sentmail_identifier_suffixes_keyed",
            (Grams::DigitSuffixes, false) => "sentmail_digit_suffixes",
            (Grams::DigitSuffixes, true) => "sentmail_digit_suffixes_keyed",
            (Grams::LongDigitBigrams, false) => "sentmail_long_digit_bigrams",
            (Grams::LongDigitBigrams, true) => "sentmail_long_digit_bigrams_keyed",
        }
    }

    /// True if the terms carry positions (phrase queries need them).
    pub fn has_positions(self) -> bool {
        matches!(self, Grams::Bigrams | Grams::LongDigitBigrams)
    }
}

/// Writes a metadata value for a keyed tokenizer: the key's length in
/// bytes, `:`, the key, then the normalized value.
pub fn keyed_value(key: &str, normalized: &str) -> String {
    format!("{}:{key}{normalized}", key.len())
}

/// Splits a value written by [`keyed_value`] into key and value. Text that
/// does not follow that form counts as a value with an empty key.
fn split_keyed(text: &str) -> (&str, &str) {
    let Some((length, rest)) = text.split_once(':') else {
        return ("", text);
    };
    match length.parse::<usize>() {
        Ok(length) if rest.is_char_boundary(length) => rest.split_at(length),
        _ => ("", text),
    }
}

/// Returns the prefix of every term of a keyed field for `key`: its
/// length in bytes, `:` and the key. The length makes the prefix of one key
/// never the start of another key's prefix, whatever bytes keys contain.
pub fn key_prefix(key: &str) -> String {
    format!("{}:{key}", key.len())
}

/// A tokenizer of normalized values (see the module documentation).
#[derive(Debug, Clone, Copy)]
pub struct GramTokenizer {
    grams: Grams,
    keyed: bool,
}

impl GramTokenizer {
    /// Creates a tokenizer. A keyed tokenizer reads the key in front of
    /// each value and puts it before every term.
    pub fn new(grams: Grams, keyed: bool) -> GramTokenizer {
        GramTokenizer { grams, keyed }
    }
}

impl Tokenizer for GramTokenizer {
    type TokenStream<'a> = GramStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> GramStream<'a> {
        let (key, value) = if self.keyed {
            split_keyed(text)
        } else {
            ("", text)
        };
        let mut prefix = String::new();
        if self.keyed {
            prefix = key_prefix(key);
        }
        let source = match self.grams {
            Grams::Bigrams => Source::Chars(value.char_indices()),
            Grams::Unigrams => Source::DistinctChars {
                chars: value.char_indices(),
                seen: FxHashSet::default(),
            },
            Grams::IdentifierSuffixes => Source::pieces(
                identifier_runs(value)
                    .filter(|run| run.len() >= MIN_SUFFIX_CHARS)
                    .map(Cow::Borrowed)
                    .collect(),
                |run| suffixes(run, MIN_SUFFIX_CHARS),
            ),
            Grams::DigitSuffixes => Source::pieces(
                numeric_runs(value)
                    .filter(|digits| digits.len() >= MIN_PHONE_DIGITS)
                    .map(Cow::Owned)
                    .collect(),
                |run| suffixes(run, MIN_PHONE_DIGITS),
            ),
            Grams::LongDigitBigrams => Source::Runs {
                runs: numeric_runs(value)
                    .filter(|digits| digits.len() > MAX_SUFFIX_CHARS)
                    .collect(),
                run: 0,
                start: 0,
            },
        };
        GramStream {
            grams: self.grams,
            prefix,
            source,
            previous: None,
            base: 0,
            token: Token::default(),
        }
    }
}

/// Returns the byte ranges of the suffixes of `run` (ASCII) that have at
/// least `min` characters, cut to [`MAX_SUFFIX_CHARS`].
fn suffixes(run: &str, min: usize) -> Vec<(usize, usize)> {
    (0..=run.len().saturating_sub(min))
        .filter(|start| run.len() - start >= min)
        .map(|start| (start, run.len().min(start + MAX_SUFFIX_CHARS)))
        .collect()
}

enum Source<'a> {
    Chars(std::str::CharIndices<'a>),
    /// Each distinct character once: a field without positions gains
    /// nothing from a repeated term but indexing work.
    DistinctChars {
        chars: std::str::CharIndices<'a>,
        seen: FxHashSet<char>,
    },
    /// Distinct pieces of runs, each once, for the same reason.
    Pieces {
        runs: Vec<Cow<'a, str>>,
        /// Run index and byte range of every distinct piece.
        pieces: Vec<(usize, usize, usize)>,
        next: usize,
    },
    Runs {
        runs: Vec<String>,
        /// Index of the current run.
        run: usize,
        /// Start of the next term within the current run.
        start: usize,
    },
}

impl<'a> Source<'a> {
    /// Collects the distinct pieces that `split` finds in each run.
    fn pieces(runs: Vec<Cow<'a, str>>, split: fn(&str) -> Vec<(usize, usize)>) -> Source<'a> {
        let mut pieces = Vec::new();
        let mut seen: FxHashSet<&str> = FxHashSet::default();
        for (run, text) in runs.iter().enumerate() {
            for (start, end) in split(text) {
                if seen.insert(&text[start..end]) {
                    pieces.push((run, start, end));
                }
            }
        }
        drop(seen);
        Source::Pieces {
            runs,
            pieces,
            next: 0,
        }
    }
}

/// The token stream of a [`GramTokenizer`].
pub struct GramStream<'a> {
    grams: Grams,
    prefix: String,
    source: Source<'a>,
    /// The previous character and its position, for bigrams.
    previous: Option<(usize, char)>,
    /// Position of the first bigram of the current run, for long digit
    /// runs.
    base: usize,
    token: Token,
}

impl GramStream<'_> {
    fn set_text(&mut self, parts: &[&str]) {
        self.token.text.clear();
        self.token.text.push_str(&self.prefix);
        for part in parts {
            self.token.text.push_str(part);
        }
    }

    fn advance_bigrams(&mut self) -> bool {
        let Source::Chars(chars) = &mut self.source else {
            return false;
        };
        loop {
            let Some((offset, c)) = chars.next() else {
                return false;
            };
            let position = self.previous.map_or(0, |(position, _)| position + 1);
            let Some((previous_position, previous_char)) = self.previous.replace((position, c))
            else {
                continue;
            };
            self.token.text.clear();
            self.token.text.push_str(&self.prefix);
            self.token.text.push(previous_char);
            self.token.text.push(c);
            self.token.position = previous_position;
            self.token.offset_from = offset - previous_char.len_utf8();
            self.token.offset_to = offset + c.len_utf8();
            return true;
        }
    }

    fn advance_distinct_chars(&mut self) -> bool {
        let Source::DistinctChars { chars, seen } = &mut self.source else {
            return false;
        };
        for (offset, c) in chars.by_ref() {
            if !seen.insert(c) {
                continue;
            }
            self.token.text.clear();
            self.token.text.push_str(&self.prefix);
            self.token.text.push(c);
            self.token.position = offset;
            self.token.offset_from = offset;
            self.token.offset_to = offset + c.len_utf8();
            return true;
        }
        false
    }

    fn advance_pieces(&mut self) -> bool {
        let Source::Pieces { runs, pieces, next } = &mut self.source else {
            return false;
        };
        let Some(&(run, start, end)) = pieces.get(*next) else {
            return false;
        };
        self.token.text.clear();
        self.token.text.push_str(&self.prefix);
        self.token.text.push_str(&runs[run][start..end]);
        self.token.position = *next;
        *next += 1;
        true
    }

    fn advance_runs(&mut self) -> bool {
        let Source::Runs { runs, run, start } = &mut self.source else {
            return false;
        };
        loop {
            let Some(current) = runs.get(*run) else {
                return false;
            };
            let bigrams = self.grams == Grams::LongDigitBigrams;
            let last_start = if bigrams {
                current.len().saturating_sub(1)
            } else {
                current.len()
            };
            if *start >= last_start {
                if bigrams {
                    // Leave a gap so that no phrase spans two runs.
                    self.base += current.len() + 1;
                }
                *run += 1;
                *start = 0;
                continue;
            }
            // Runs contain only ASCII characters, so byte and character
            // indices agree.
            let end = if bigrams {
                *start + 2
            } else {
                current.len().min(*start + MAX_SUFFIX_CHARS)
            };
            let piece = current[*start..end].to_owned();
            let position = self.base + *start;
            *start += 1;
            self.set_text(&[&piece]);
            self.token.position = position;
            return true;
        }
    }
}

impl TokenStream for GramStream<'_> {
    fn advance(&mut self) -> bool {
        self.token.position_length = if self.grams.has_positions() { 2 } else { 1 };
        match self.source {
            Source::Chars(_) => self.advance_bigrams(),
            Source::DistinctChars { .. } => self.advance_distinct_chars(),
            Source::Pieces { .. } => self.advance_pieces(),
            Source::Runs { .. } => self.advance_runs(),
        }
    }

    fn token(&self) -> &Token {
        &self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

/// Returns the bigrams of a normalized term with their offsets, as a
/// phrase query needs them: bigrams at offsets 0, 2, 4, … and the last
/// one. Together they cover every character, which is enough for the
/// phrase to match only the whole term, and no two neighbours are more
/// than two positions apart, which keeps the phrase inside one value.
/// `None` for terms shorter than two characters.
pub fn phrase_bigrams(term: &str) -> Option<Vec<(usize, String)>> {
    let chars: Vec<char> = term.chars().collect();
    if chars.len() < 2 {
        return None;
    }
    let last = chars.len() - 2;
    let mut offsets: Vec<usize> = (0..=last).step_by(2).collect();
    if offsets.last() != Some(&last) {
        offsets.push(last);
    }
    Some(
        offsets
            .into_iter()
            .map(|offset| (offset, chars[offset..offset + 2].iter().collect()))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use archive_core::search::normalize;

    fn tokens(grams: Grams, keyed: bool, text: &str) -> Vec<(String, usize)> {
        let mut tokenizer = GramTokenizer::new(grams, keyed);
        let mut stream = tokenizer.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            out.push((stream.token().text.clone(), stream.token().position));
        }
        out
    }

    fn texts_keyed(grams: Grams, text: &str) -> Vec<String> {
        tokens(grams, true, text)
            .into_iter()
            .map(|(text, _)| text)
            .collect()
    }

    fn texts(grams: Grams, text: &str) -> Vec<String> {
        tokens(grams, false, text)
            .into_iter()
            .map(|(text, _)| text)
            .collect()
    }

    #[test]
    fn bigrams_sit_at_character_positions() {
        assert_eq!(
            tokens(Grams::Bigrams, false, "発送a b"),
            vec![
                ("発送".to_owned(), 0),
                ("送a".to_owned(), 1),
                ("a ".to_owned(), 2),
                (" b".to_owned(), 3),
            ]
        );
        assert!(tokens(Grams::Bigrams, false, "発").is_empty());
        assert!(tokens(Grams::Bigrams, false, "").is_empty());
    }

    #[test]
    fn bigram_offsets_are_byte_ranges() {
        let mut tokenizer = GramTokenizer::new(Grams::Bigrams, false);
        let text = "aé発";
        let mut stream = tokenizer.token_stream(text);
        let mut ranges = Vec::new();
        while stream.advance() {
            let token = stream.token();
            ranges.push(&text[token.offset_from..token.offset_to]);
        }
        assert_eq!(ranges, ["aé", "é発"]);
    }

    #[test]
    fn unigrams_are_distinct_characters() {
        assert_eq!(texts(Grams::Unigrams, "発aa発b"), ["発", "a", "b"]);
    }

    #[test]
    fn tokenizers_see_normalized_text() {
        let normalized = normalize("ＡＢＣ－１２３４ ｻﾝﾌﾟﾙ");
        assert_eq!(normalized, "abc-1234 サンプル");
        assert_eq!(
            texts(Grams::IdentifierSuffixes, &normalized),
            ["abc-1234", "bc-1234", "c-1234"],
            "suffixes of at least six characters"
        );
        assert!(texts(Grams::Bigrams, &normalized).contains(&"ンプ".to_owned()));
    }

    #[test]
    fn identifier_suffixes_are_cut() {
        let run = format!("{}@example.com", "a1".repeat(30));
        let suffixes = texts(Grams::IdentifierSuffixes, &run);
        assert!(suffixes.contains(&run[..MAX_SUFFIX_CHARS].to_owned()));
        assert!(suffixes.contains(&"le.com".to_owned()));
        assert!(suffixes.iter().all(|s| s.len() <= MAX_SUFFIX_CHARS));
        assert!(suffixes.iter().all(|s| s.len() >= MIN_SUFFIX_CHARS));
        // "a1a1…" repeats, so several cut suffixes are equal, and each
        // term comes once.
        let mut expected: Vec<String> = Vec::new();
        for start in 0..=run.len() - MIN_SUFFIX_CHARS {
            let suffix = run[start..run.len().min(start + MAX_SUFFIX_CHARS)].to_owned();
            if !expected.contains(&suffix) {
                expected.push(suffix);
            }
        }
        assert!(expected.len() < run.len());
        assert_eq!(suffixes, expected);
        assert!(
            texts(Grams::IdentifierSuffixes, "hoge shop").is_empty(),
            "runs without a digit or @ are not identifiers"
        );
        assert!(
            texts(Grams::IdentifierSuffixes, "1,980 12-05 x").is_empty(),
            "runs shorter than six characters are left to bigrams"
        );
    }

    #[test]
    fn digit_suffixes_join_phone_separators() {
        assert_eq!(
            texts(Grams::DigitSuffixes, "tel (03) 1234-56 x 123456 x 12345"),
            ["03123456", "3123456", "123456"],
            "suffixes of at least six digits, each once"
        );
    }

    #[test]
    fn long_digit_runs_get_bigrams_with_gaps() {
        let long = "1".repeat(MAX_SUFFIX_CHARS + 1);
        let text = format!("{long} 5 x {long}");
        let bigrams = tokens(Grams::LongDigitBigrams, false, &text);
        // The digits of "{long} 5" form one run of 42 digits, the second
        // run has 41: 41 + 40 bigrams.
        assert_eq!(bigrams.len(), 41 + 40);
        assert_eq!(bigrams[40].1, 40, "last bigram of the first run");
        assert!(
            bigrams[41].1 > 41,
            "the second run starts after a gap: {}",
            bigrams[41].1
        );
        assert!(texts(Grams::LongDigitBigrams, "090-1234-5678").is_empty());
    }

    #[test]
    fn keyed_values_prefix_every_term() {
        let value = keyed_value("order_id", "a1");
        assert_eq!(
            tokens(Grams::Bigrams, true, &value),
            vec![("8:order_ida1".to_owned(), 0)]
        );
        assert_eq!(
            texts_keyed(
                Grams::IdentifierSuffixes,
                &keyed_value("order_id", "ab-1234")
            ),
            ["8:order_idab-1234", "8:order_idb-1234"]
        );
        let odd_key = keyed_value("a:b\0", "x");
        assert_eq!(tokens(Grams::Unigrams, true, &odd_key)[0].0, "4:a:b\0x");

        let keys = ["", "a", "ab", "a\0", "a\0b", "1:a", "10"];
        for first in keys {
            for second in keys.iter().filter(|second| **second != first) {
                assert!(
                    !key_prefix(second).starts_with(&key_prefix(first)),
                    "{first:?} and {second:?}"
                );
            }
        }
    }

    #[test]
    fn phrase_bigrams_cover_the_term() {
        assert_eq!(phrase_bigrams("発"), None);
        assert_eq!(phrase_bigrams("発送"), Some(vec![(0, "発送".to_owned())]));
        assert_eq!(
            phrase_bigrams("商品を発送"),
            Some(vec![
                (0, "商品".to_owned()),
                (2, "を発".to_owned()),
                (3, "発送".to_owned())
            ])
        );
        assert_eq!(
            phrase_bigrams("abcd"),
            Some(vec![(0, "ab".to_owned()), (2, "cd".to_owned())])
        );
    }
}
