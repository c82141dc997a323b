//! Text normalization shared by every index and by queries.
//!
//! A term matches a value when the normalized term is a substring of the
//! normalized value. Normalization is Unicode NFKC (which folds full-width
//! ASCII, half-width katakana and enclosed forms such as `㈱` into their
//! ordinary forms), then lower case, then every run of white space becomes
//! one space. Indexes and queries call the same functions, so they agree by
//! construction.
//!
//! NFKC is applied to one base character and the combining marks that
//! follow it at a time, so that every normalized character can be traced
//! back to its place in the original text (for snippets). Half-width
//! voiced sound marks (`ﾞ`, `ﾟ`) count as combining marks here, so `ﾌﾟ`
//! becomes `プ`.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::canonical_combining_class;

/// Returns the normalized form of `text`.
pub fn normalize(text: &str) -> String {
    Normalized::new(text).text
}

/// A normalized text and, for every character in it, the byte offset of
/// the original character it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalized {
    /// The normalized text.
    pub text: String,
    /// For each character of `text` (in order), the byte offset in the
    /// original text of the segment it came from.
    pub origins: Vec<usize>,
}

impl Normalized {
    /// Normalizes `original`, keeping the offset map.
    pub fn new(original: &str) -> Normalized {
        let mut text = String::with_capacity(original.len());
        let mut origins = Vec::with_capacity(original.len());
        let mut last_was_space = true;

        for (start, segment) in segments(original) {
            let folded = segment.nfkc().flat_map(char::to_lowercase);
            for c in folded {
                if c.is_whitespace() {
                    if last_was_space {
                        continue;
                    }
                    last_was_space = true;
                    text.push(' ');
                } else {
                    last_was_space = false;
                    text.push(c);
                }
                origins.push(start);
            }
        }

        if text.ends_with(' ') {
            text.pop();
            origins.pop();
        }
        Normalized { text, origins }
    }
}

/// Splits `text` into segments of one base character followed by its
/// combining marks, with the byte offset of each segment.
fn segments(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut chars = text.char_indices().peekable();
    std::iter::from_fn(move || {
        let (start, _) = chars.next()?;
        let mut end = text.len();
        while let Some(&(next, c)) = chars.peek() {
            if !is_combining(c) {
                end = next;
                break;
            }
            chars.next();
        }
        Some((start, &text[start..end]))
    })
}

fn is_combining(c: char) -> bool {
    canonical_combining_class(c) != 0 || matches!(c, '\u{FF9E}' | '\u{FF9F}')
}

/// Characters of identifier runs: what order numbers, tracking numbers,
/// Message-IDs and addresses are made of, after normalization.
pub fn is_identifier_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.' | '@' | '+')
}

/// Returns the maximal runs of identifier characters in normalized `text`
/// that contain a digit or `@`. Any identifier-like term that occurs in
/// the text lies inside one of these runs, which lets an index answer such
/// terms with a prefix lookup on the runs' suffixes.
pub fn identifier_runs(normalized: &str) -> impl Iterator<Item = &str> {
    normalized
        .split(|c: char| !is_identifier_char(c))
        .filter(|run| run.bytes().any(|b| b.is_ascii_digit() || b == b'@'))
}

/// Returns true if a normalized term can be answered from identifier runs:
/// it consists only of identifier characters and contains a digit or `@`.
pub fn is_identifier_term(normalized: &str) -> bool {
    !normalized.is_empty()
        && normalized.chars().all(is_identifier_char)
        && normalized.bytes().any(|b| b.is_ascii_digit() || b == b'@')
}

/// Characters that may separate the digits of a phone number.
fn is_phone_char(c: char) -> bool {
    c.is_ascii_digit() || matches!(c, '-' | '(' | ')' | '+' | '.' | ' ')
}

/// Minimum number of digits for a term to match phone numbers written with
/// other separators.
pub const MIN_PHONE_DIGITS: usize = 6;

/// Returns the digits of every maximal run of digits and phone separators
/// (`-`, `(`, `)`, `+`, `.`, space) in normalized `text`. A phone term
/// matches when its digits occur in one of these.
pub fn numeric_runs(normalized: &str) -> impl Iterator<Item = String> + '_ {
    normalized
        .split(|c: char| !is_phone_char(c))
        .map(|run| run.chars().filter(char::is_ascii_digit).collect::<String>())
        .filter(|digits| !digits.is_empty())
}

/// Returns the digits of a normalized term that looks like a phone number:
/// only digits and phone separators, with at least [`MIN_PHONE_DIGITS`]
/// digits. Such a term also matches the same digits written with other
/// separators (`090-1234-5678`, `09012345678`, `(090) 1234 5678`).
pub fn phone_digits(normalized: &str) -> Option<String> {
    if !normalized.chars().all(is_phone_char) {
        return None;
    }
    let digits: String = normalized.chars().filter(char::is_ascii_digit).collect();
    (digits.len() >= MIN_PHONE_DIGITS).then_some(digits)
}

/// Returns `local@domain` for a sub-address `local+tag@domain` (RFC 5233),
/// or `None` when the address has no tag.
pub fn strip_subaddress(address: &str) -> Option<String> {
    let (local, domain) = address.rsplit_once('@')?;
    let (base, _tag) = local.split_once('+')?;
    if base.is_empty() {
        return None;
    }
    Some(format!("{base}@{domain}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn width_and_case_fold() {
        assert_eq!(normalize("ＡＢＣ－１２３４"), "abc-1234");
        assert_eq!(normalize("ｻﾝﾌﾟﾙｼｮｯﾌﾟ"), "サンプルショップ");
        assert_eq!(normalize("ﾒｰﾙ便"), "メール便");
        assert_eq!(normalize("㈱サンプル"), "(株)サンプル");
        assert_eq!(normalize("HOGE.123@Example.COM"), "hoge.123@example.com");
        assert_eq!(normalize("  a \t\r\n b\u{3000}c  "), "a b c");
        assert_eq!(normalize("ガ"), "ガ", "decomposed input composes");
    }

    #[test]
    fn origins_point_into_the_original() {
        let original = "ｻﾝﾌﾟﾙ ＡＢ";
        let normalized = Normalized::new(original);
        assert_eq!(normalized.text, "サンプル ab");
        assert_eq!(normalized.origins.len(), normalized.text.chars().count());
        let starts: Vec<&str> = normalized
            .origins
            .iter()
            .map(|&at| &original[at..])
            .collect();
        assert!(
            starts[2].starts_with("ﾌﾟ"),
            "プ comes from ﾌﾟ: {:?}",
            starts[2]
        );
        assert!(starts[5].starts_with("Ａ"));
    }

    #[test]
    fn identifier_runs_keep_addresses_and_order_numbers() {
        let text =
            normalize("注文番号ORD-2026-0012345の件、hoge.123+returns@example.com まで。abc");
        let runs: Vec<&str> = identifier_runs(&text).collect();
        assert_eq!(
            runs,
            vec!["ord-2026-0012345", "hoge.123+returns@example.com"]
        );
        assert!(is_identifier_term("0012345"));
        assert!(is_identifier_term("@example.org"));
        assert!(!is_identifier_term("hoge"), "no digit and no @");
        assert!(!is_identifier_term("注文1"));
    }

    #[test]
    fn phone_numbers_fold_separators() {
        assert_eq!(
            phone_digits("090-1751-6382").as_deref(),
            Some("09017516382")
        );
        assert_eq!(
            phone_digits("(03) 1234-5678").as_deref(),
            Some("0312345678")
        );
        assert_eq!(phone_digits("12345"), None, "too few digits");
        assert_eq!(phone_digits("ord-123456"), None, "letters");
        let runs: Vec<String> =
            numeric_runs(&normalize("電話：０９０－１７５１－６３８２、合計1,980円")).collect();
        assert_eq!(runs, vec!["09017516382", "1", "980"]);
    }

    #[test]
    fn subaddress_is_stripped() {
        assert_eq!(
            strip_subaddress("hoge.123+returns@example.com").as_deref(),
            Some("hoge.123@example.com")
        );
        assert_eq!(strip_subaddress("hoge@example.com"), None);
        assert_eq!(strip_subaddress("+tag@example.com"), None);
    }
}
