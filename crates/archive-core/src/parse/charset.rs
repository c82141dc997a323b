//! Charset labels to decoders, and sniffing for text without a label.
//!
//! Japanese labels map to the supersets that senders really use: every
//! Shift_JIS label to the WHATWG Shift_JIS decoder (Windows-31J, with NEC
//! row 13 and the IBM extensions), every ISO-2022-JP variant to the WHATWG
//! ISO-2022-JP decoder (NEC row 13 inside `ESC $ B` and half-width katakana
//! after `ESC ( I`), and the EUC-JP family to EUC-JP.

use std::borrow::Cow;

use chardetng::{EncodingDetector, Iso2022JpDetection, Utf8Detection};
use encoding_rs::{EUC_JP, Encoding, ISO_2022_JP, SHIFT_JIS, UTF_8};
use mail_parser::decoders::charsets::{DecoderFnc, map::charset_decoder};
use memchr::memchr_iter;

use super::flags::Flags;
use crate::ParseFlag;

const ESC: u8 = 0x1B;

/// Bytes fed to the charset detector at most. Detection on a prefix is as
/// good in practice and keeps large parts cheap.
const DETECTOR_INPUT_MAX: usize = 64 * 1024;

const SHIFT_JIS_LABELS: &[&str] = &[
    "shift_jis",
    "shift-jis",
    "x-sjis",
    "sjis",
    "ms_kanji",
    "cp932",
    "ms932",
    "windows-31j",
    "cswindows31j",
    "csshiftjis",
    "x-ms-cp932",
    "windows-932",
    "shift_jisx0213",
    "shift_jis-2004",
];

// NOTE: ISO-2022-JP-1/2/3/2004 and CP50222 decode only where they overlap
// CP50221, because encoding_rs has no decoder for their extra sets or for
// the SO/SI kana shifts of CP50222.
const ISO_2022_JP_LABELS: &[&str] = &[
    "iso-2022-jp",
    "iso-2022-jp-ms",
    "cp50220",
    "cp50221",
    "cp50222",
    "csiso2022jp",
    "iso-2022-jp-1",
    "iso-2022-jp-2",
    "iso-2022-jp-3",
    "iso-2022-jp-2004",
    "x-windows-50220",
    "x-windows-50221",
];

const EUC_JP_LABELS: &[&str] = &[
    "euc-jp",
    "x-euc-jp",
    "eucjp",
    "eucjp-ms",
    "cp51932",
    "euc-jis-2004",
    "euc-jisx0213",
    "cseucpkdfmtjapanese",
];

const ASCII_LABELS: &[&str] = &[
    "us-ascii",
    "ascii",
    "ansi_x3.4-1968",
    "iso646-us",
    "us",
    "646",
];

/// A decoder chosen for a charset label.
#[derive(Clone, Copy)]
pub(crate) enum Decoder {
    /// An encoding from encoding_rs.
    Standard(&'static Encoding),
    /// A mail-parser decoder, for labels that encoding_rs does not know
    /// (UTF-7 and a few legacy names).
    Fallback(DecoderFnc),
}

/// What a charset label resolves to.
#[derive(Clone, Copy)]
pub(crate) enum Charset {
    /// A known charset.
    Known(Decoder),
    /// `us-ascii` or an empty label: the text is sniffed as if unlabeled.
    Ascii,
    /// A label that no decoder knows: the text is sniffed and flagged.
    Unknown,
}

/// Resolves a charset label. Quotes, surrounding whitespace and an RFC 2231
/// language suffix (`ISO-2022-JP*ja`) are ignored, and so is case.
pub(crate) fn resolve(label: &str) -> Charset {
    let label = label.trim().trim_matches(|c| c == '"' || c == '\'');
    let label = label.split('*').next().unwrap_or_default().trim();
    if label.is_empty() {
        return Charset::Ascii;
    }
    let lower = label.to_ascii_lowercase();
    let lower = lower.as_str();

    if ASCII_LABELS.contains(&lower) {
        return Charset::Ascii;
    }
    if SHIFT_JIS_LABELS.contains(&lower) {
        return Charset::Known(Decoder::Standard(SHIFT_JIS));
    }
    if ISO_2022_JP_LABELS.contains(&lower) {
        return Charset::Known(Decoder::Standard(ISO_2022_JP));
    }
    if EUC_JP_LABELS.contains(&lower) {
        return Charset::Known(Decoder::Standard(EUC_JP));
    }
    if let Some(encoding) = Encoding::for_label_no_replacement(lower.as_bytes()) {
        return Charset::Known(Decoder::Standard(encoding));
    }
    // Outlook writes UTF-7 as `unicode-1-1-utf-7`.
    let lower = lower.strip_prefix("unicode-1-1-").unwrap_or(lower);
    match charset_decoder(lower.as_bytes()) {
        Some(decoder) => Charset::Known(Decoder::Fallback(decoder)),
        None => Charset::Unknown,
    }
}

/// Returns the encoding_rs encoding for `label`, if it has one.
pub(crate) fn encoding_for(label: &str) -> Option<&'static Encoding> {
    match resolve(label) {
        Charset::Known(Decoder::Standard(encoding)) => Some(encoding),
        _ => None,
    }
}

/// Decodes `bytes` labelled `label` (or unlabelled) to text.
///
/// Flags `UnknownCharset` for a label no decoder knows, `CharsetGuessed`
/// when the charset had to be guessed, and `InvalidCharacters` when the
/// decoder inserted U+FFFD.
pub(crate) fn decode(bytes: &[u8], label: Option<&str>, flags: &mut Flags) -> String {
    let charset = label.map_or(Charset::Ascii, resolve);
    match charset {
        Charset::Known(Decoder::Standard(encoding)) => decode_labelled(bytes, encoding, flags),
        Charset::Known(Decoder::Fallback(decoder)) => {
            let text = decoder(bytes);
            if text.contains('\u{FFFD}') && !contains_replacement_bytes(bytes) {
                flags.add(ParseFlag::InvalidCharacters);
            }
            text
        }
        Charset::Ascii => decode_unlabelled(bytes, flags),
        Charset::Unknown => {
            flags.add(ParseFlag::UnknownCharset);
            decode_unlabelled(bytes, flags)
        }
    }
}

/// Decodes text that has no charset label: ISO-2022-JP when it has
/// ISO-2022 designation escapes, UTF-8 when it is ASCII or valid UTF-8,
/// else a guess (flagged `CharsetGuessed`).
pub(crate) fn decode_unlabelled(bytes: &[u8], flags: &mut Flags) -> String {
    if has_iso_2022_jp_escape(bytes) {
        return decode_with(bytes, ISO_2022_JP, flags);
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return text.strip_prefix('\u{FEFF}').unwrap_or(text).to_owned();
    }
    flags.add(ParseFlag::CharsetGuessed);
    decode_with(bytes, guess_legacy(bytes), flags)
}

/// Decodes `bytes` with `encoding` and flags `InvalidCharacters` on errors.
pub(crate) fn decode_with(bytes: &[u8], encoding: &'static Encoding, flags: &mut Flags) -> String {
    let (text, had_errors) = decode_raw(bytes, encoding);
    if had_errors {
        flags.add(ParseFlag::InvalidCharacters);
    }
    text
}

/// Guesses the legacy charset of bytes that are not valid UTF-8. The guess
/// assumes Japanese mail: it prefers Shift_JIS and EUC-JP where the bytes
/// fit them.
pub(crate) fn guess_legacy(bytes: &[u8]) -> &'static Encoding {
    let mut detector = EncodingDetector::new(Iso2022JpDetection::Deny);
    let sample = &bytes[..bytes.len().min(DETECTOR_INPUT_MAX)];
    detector.feed(sample, true);
    let japanese = detector.guess(Some(b"jp"), Utf8Detection::Deny);
    // The Japanese bias must not turn Latin-1 text into kanji: a guess
    // that fails on the bytes, or needs the private use area (the
    // user-defined Shift_JIS rows), gives way to the unbiased guess.
    match japanese.decode_without_bom_handling_and_without_replacement(sample) {
        Some(text) if !text.chars().any(|c| ('\u{E000}'..='\u{F8FF}').contains(&c)) => japanese,
        _ => detector.guess(None, Utf8Detection::Deny),
    }
}

/// Returns true when `bytes` contain an escape sequence that designates a
/// JIS character set: `ESC $ B`, `ESC $ @`, `ESC ( J`, `ESC ( I` or
/// `ESC $ ( D`.
pub(crate) fn has_iso_2022_jp_escape(bytes: &[u8]) -> bool {
    memchr_iter(ESC, bytes).any(|at| {
        matches!(
            &bytes[at + 1..bytes.len().min(at + 4)],
            [b'$', b'B' | b'@', ..] | [b'(', b'J' | b'I', ..] | [b'$', b'(', b'D']
        )
    })
}

/// Decodes a labelled text. When the labelled decoder fails but the bytes
/// are valid UTF-8, the label is taken as wrong and UTF-8 is used instead
/// (flagged `CharsetGuessed`).
fn decode_labelled(bytes: &[u8], encoding: &'static Encoding, flags: &mut Flags) -> String {
    let (text, had_errors) = decode_raw(bytes, encoding);
    if !had_errors {
        return text;
    }
    if encoding != UTF_8
        && let Ok(utf8) = std::str::from_utf8(bytes)
    {
        flags.add(ParseFlag::CharsetGuessed);
        return utf8.strip_prefix('\u{FEFF}').unwrap_or(utf8).to_owned();
    }
    if label_is_wrong(bytes, encoding, &text) {
        flags.add(ParseFlag::CharsetGuessed);
        return decode_with(bytes, guess_legacy(bytes), flags);
    }
    flags.add(ParseFlag::InvalidCharacters);
    text
}

/// Returns true when the bytes cannot be in the labelled charset at all:
/// 8-bit bytes under the 7-bit ISO-2022-JP label (EUC-JP from some mobile
/// carriers), or a UTF-8 label where no 8-bit byte forms a valid UTF-8
/// character (Latin-1 text). A few invalid bytes in otherwise valid text
/// are left to the labelled decoder.
fn label_is_wrong(bytes: &[u8], encoding: &'static Encoding, decoded: &str) -> bool {
    if encoding == ISO_2022_JP {
        return !bytes.is_ascii();
    }
    encoding == UTF_8 && !decoded.chars().any(|c| !c.is_ascii() && c != '\u{FFFD}')
}

fn decode_raw(bytes: &[u8], encoding: &'static Encoding) -> (String, bool) {
    let input = if encoding == ISO_2022_JP {
        drop_redundant_escapes(bytes)
    } else {
        Cow::Borrowed(bytes)
    };
    let (text, had_errors) = encoding.decode_with_bom_removal(&input);
    (text.into_owned(), had_errors)
}

/// Removes ISO-2022 escape sequences that are directly followed by another
/// one. They have no effect, but the WHATWG decoder reports an error for
/// two escapes in a row, which is exactly what joining encoded words such
/// as `…ESC ( B` and `ESC $ B…` produces.
fn drop_redundant_escapes(bytes: &[u8]) -> Cow<'_, [u8]> {
    let mut output: Option<Vec<u8>> = None;
    let mut copied = 0;

    for at in memchr_iter(ESC, bytes) {
        let length = escape_length(&bytes[at..]);
        if length == 0 || bytes.get(at + length) != Some(&ESC) || at < copied {
            continue;
        }
        let buffer = output.get_or_insert_with(|| Vec::with_capacity(bytes.len()));
        buffer.extend_from_slice(&bytes[copied..at]);
        copied = at + length;
    }

    match output {
        Some(mut buffer) => {
            buffer.extend_from_slice(&bytes[copied..]);
            Cow::Owned(buffer)
        }
        None => Cow::Borrowed(bytes),
    }
}

/// Returns the length of the ISO-2022 escape sequence at the start of
/// `bytes`, or 0 when it is not one.
fn escape_length(bytes: &[u8]) -> usize {
    match bytes {
        [ESC, b'$', b'(' | b')', b'@'..=b'Z', ..] => 4,
        [ESC, b'$' | b'(' | b')', b'@'..=b'Z', ..] => 3,
        _ => 0,
    }
}

fn contains_replacement_bytes(bytes: &[u8]) -> bool {
    memchr::memmem::find(bytes, "\u{FFFD}".as_bytes()).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_label(bytes: &[u8], label: &str) -> (String, Vec<ParseFlag>) {
        let mut flags = Flags::default();
        let text = decode(bytes, Some(label), &mut flags);
        (text, flags.to_vec())
    }

    #[test]
    fn shift_jis_labels_decode_cp932() {
        // ① (NEC row 13), 髙 (IBM extension), 表 (0x5C trail byte).
        let bytes = b"\x87\x40\xFB\xFC\x95\x5C";
        for label in [
            "Shift_JIS",
            "SHIFT-JIS",
            "x-sjis",
            "MS_Kanji",
            "CP932",
            "MS932",
            "Windows-31J",
            "csWindows31J",
        ] {
            assert_eq!(
                decode_label(bytes, label),
                ("①髙表".to_owned(), vec![]),
                "{label}"
            );
        }
    }

    #[test]
    fn iso_2022_jp_labels_decode_cp50221() {
        // ① in NEC row 13 inside ESC $ B, then half-width ｱ after ESC ( I.
        let bytes = b"\x1b$B-!\x1b(I1\x1b(B";
        for label in [
            "ISO-2022-JP",
            "iso-2022-jp-ms",
            "CP50220",
            "CP50221",
            "csISO2022JP",
            "ISO-2022-JP*ja",
        ] {
            assert_eq!(
                decode_label(bytes, label),
                ("①ｱ".to_owned(), vec![]),
                "{label}"
            );
        }
    }

    #[test]
    fn euc_jp_labels_decode() {
        for label in ["EUC-JP", "x-euc-jp", "eucJP-ms", "CP51932"] {
            assert_eq!(
                decode_label(b"\xbb\xb3\xc5\xc4", label),
                ("山田".to_owned(), vec![]),
                "{label}"
            );
        }
    }

    #[test]
    fn joined_iso_2022_jp_words_decode_cleanly() {
        let bytes = b"\x1b$B;3\x1b(B\x1b$BED\x1b(B";
        assert_eq!(
            decode_label(bytes, "ISO-2022-JP"),
            ("山田".to_owned(), vec![])
        );
    }

    #[test]
    fn utf7_uses_fallback_decoder() {
        assert_eq!(
            decode_label(b"Hi Mom -+Jjo--!", "UTF-7"),
            ("Hi Mom -☺-!".to_owned(), vec![])
        );
    }

    #[test]
    fn unknown_label_sniffs_and_flags() {
        let (text, flags) = decode_label("日本".as_bytes(), "x-no-such-charset");
        assert_eq!(text, "日本");
        assert_eq!(flags, [ParseFlag::UnknownCharset]);
    }

    #[test]
    fn unlabelled_iso_2022_jp_is_detected() {
        let (text, flags) = decode_label(b"\x1b$B;3ED\x1b(B", "us-ascii");
        assert_eq!(text, "山田");
        assert!(flags.is_empty());
    }

    #[test]
    fn unlabelled_euc_jp_is_guessed() {
        let bytes = b"\xa4\xb4\xc3\xed\xca\xb8\xa4\xa2\xa4\xea\xa4\xac\xa4\xc8\xa4\xa6\xa4\xb4\xa4\xb6\xa4\xa4\xa4\xde\xa4\xb9";
        let mut flags = Flags::default();
        assert_eq!(
            decode(bytes, None, &mut flags),
            "ご注文ありがとうございます"
        );
        assert_eq!(flags.to_vec(), [ParseFlag::CharsetGuessed]);
    }

    #[test]
    fn mislabelled_utf8_falls_back() {
        let (text, flags) = decode_label("ご注文".as_bytes(), "Shift_JIS");
        assert_eq!(text, "ご注文");
        assert_eq!(flags, [ParseFlag::CharsetGuessed]);
    }

    #[test]
    fn eight_bit_under_iso_2022_jp_is_guessed() {
        // EUC-JP bytes labelled ISO-2022-JP.
        let bytes = b"\xa5\xe1\xa1\xbc\xa5\xeb\xa4\xf2\xa4\xb4\xb3\xce\xc7\xa7\xa4\xaf\xa4\xc0\xa4\xb5\xa4\xa4";
        assert_eq!(
            decode_label(bytes, "iso-2022-jp"),
            (
                "メールをご確認ください".to_owned(),
                vec![ParseFlag::CharsetGuessed]
            )
        );
    }

    #[test]
    fn latin1_under_utf8_is_guessed() {
        let (text, flags) = decode_label(
            b"Die Hasen und die Fr\xf6sche klagten \xfcber ihre mi\xdfliche Lage",
            "utf-8",
        );
        assert_eq!(
            text,
            "Die Hasen und die Frösche klagten über ihre mißliche Lage"
        );
        assert_eq!(flags, [ParseFlag::CharsetGuessed]);
    }

    #[test]
    fn unlabelled_latin1_is_not_read_as_japanese() {
        let mut flags = Flags::default();
        let text = decode(
            b"Die Hasen und die Fr\xf6sche klagten \xfcber ihre mi\xdfliche Lage",
            None,
            &mut flags,
        );
        assert_eq!(
            text,
            "Die Hasen und die Frösche klagten über ihre mißliche Lage"
        );
    }

    #[test]
    fn outlook_utf7_label() {
        assert_eq!(
            decode_label(b"Hi +Jjo-", "unicode-1-1-utf-7"),
            ("Hi ☺".to_owned(), vec![])
        );
    }

    #[test]
    fn invalid_bytes_flag_invalid_characters() {
        // é in UTF-8, then a byte that is never valid UTF-8.
        let (text, flags) = decode_label(b"\xc3\xa9\xffb", "utf-8");
        assert_eq!(text, "é\u{FFFD}b");
        assert_eq!(flags, [ParseFlag::InvalidCharacters]);
    }
}
