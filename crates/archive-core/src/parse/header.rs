//! Decoding header values: unfolding, RFC 2047 encoded words and raw 8-bit
//! text.

use encoding_rs::{Encoding, ISO_2022_JP, UTF_8, UTF_16BE, UTF_16LE};
use memchr::memmem;

use super::block::HeaderBlock;
use super::charset;
use super::flags::Flags;
use super::params::ContentHeader;
use super::transfer::{decode_base64, decode_q_word};
use crate::ParseFlag;

/// What header decoding needs to know about the message.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HeaderContext {
    /// The charset tried first for raw 8-bit header bytes that are not
    /// UTF-8: the `charset` of the top-level `Content-Type`, when it is an
    /// 8-bit charset other than UTF-8. Senders that write raw bytes into
    /// headers usually use the charset of their body.
    pub fallback: Option<&'static Encoding>,
}

impl HeaderContext {
    /// Builds the context for the header block of a message.
    pub(crate) fn for_block(block: &HeaderBlock<'_>) -> HeaderContext {
        let fallback = block
            .get("Content-Type")
            .and_then(|field| ContentHeader::parse(field.value).raw_param("charset"))
            .and_then(|label| charset::encoding_for(&label))
            .filter(|&encoding| ![UTF_8, ISO_2022_JP, UTF_16LE, UTF_16BE].contains(&encoding));
        HeaderContext { fallback }
    }

    /// Guesses the charset of raw 8-bit bytes that are not UTF-8.
    pub(crate) fn guess(&self, bytes: &[u8]) -> &'static Encoding {
        match self.fallback {
            Some(encoding)
                if encoding
                    .decode_without_bom_handling_and_without_replacement(bytes)
                    .is_some() =>
            {
                encoding
            }
            _ => charset::guess_legacy(bytes),
        }
    }
}

/// Unfolds and decodes a raw header value, with surrounding whitespace
/// trimmed.
pub(crate) fn decode_value(raw: &[u8], context: &HeaderContext, flags: &mut Flags) -> String {
    decode_text(&unfold(raw), context, flags)
}

/// Removes the line breaks of a folded value and trims it.
pub(crate) fn unfold(raw: &[u8]) -> Vec<u8> {
    let mut output: Vec<u8> = raw
        .iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect();
    let end = output.len() - output.trim_ascii_end().len();
    output.truncate(output.len() - end);
    let start = output.len() - output.trim_ascii_start().len();
    output.drain(..start);
    output
}

/// Decodes unfolded header text: encoded words, raw 8-bit bytes and raw
/// ISO-2022-JP escapes.
///
/// Whitespace between two adjacent encoded words is dropped (RFC 2047
/// section 6.2). Adjacent encoded words in the same charset are joined as
/// bytes before charset decoding, so a character split across two words
/// survives even though RFC 2047 forbids the split.
pub(crate) fn decode_text(text: &[u8], context: &HeaderContext, flags: &mut Flags) -> String {
    let mut output = String::with_capacity(text.len());
    let mut pending = PendingWords::default();
    let mut plain_start = 0;
    let mut search = 0;

    while let Some(offset) = memmem::find(&text[search..], b"=?") {
        let start = search + offset;
        let Some(word) = EncodedWord::parse(text, start) else {
            search = start + 2;
            continue;
        };
        let between = &text[plain_start..start];
        if !(pending.is_open() && between.iter().all(u8::is_ascii_whitespace)) {
            pending.flush(&mut output, flags);
            output.push_str(&decode_plain(between, context, flags));
        }
        pending.push(&word, &mut output, flags);
        plain_start = word.end;
        search = word.end;
    }

    pending.flush(&mut output, flags);
    output.push_str(&decode_plain(&text[plain_start..], context, flags));
    output
}

/// Decodes header bytes that are not encoded words: ASCII as it is, raw
/// ISO-2022-JP, UTF-8 (RFC 6532), else a legacy charset guess that flags
/// `EightBitHeader`.
pub(crate) fn decode_plain(bytes: &[u8], context: &HeaderContext, flags: &mut Flags) -> String {
    if charset::has_iso_2022_jp_escape(bytes) && bytes.is_ascii() {
        return charset::decode_with(bytes, ISO_2022_JP, flags);
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return text.to_owned();
    }
    flags.add(ParseFlag::EightBitHeader);
    charset::decode_with(bytes, context.guess(bytes), flags)
}

/// One RFC 2047 encoded word: `=?charset?B?text?=` or `=?charset?Q?text?=`.
struct EncodedWord<'a> {
    charset: &'a [u8],
    encoding: u8,
    text: &'a [u8],
    /// Offset after the closing `?=`.
    end: usize,
}

impl<'a> EncodedWord<'a> {
    /// Parses the encoded word at `start`, where `text` has `=?`. Encoded
    /// words must not contain whitespace.
    fn parse(text: &'a [u8], start: usize) -> Option<EncodedWord<'a>> {
        let rest = &text[start + 2..];
        let charset_end = rest
            .iter()
            .position(|&b| b == b'?' || b.is_ascii_whitespace())?;
        let charset = &rest[..charset_end];
        if charset.is_empty() || rest[charset_end] != b'?' {
            return None;
        }
        let encoding = rest.get(charset_end + 1)?.to_ascii_uppercase();
        if !matches!(encoding, b'B' | b'Q') || rest.get(charset_end + 2) != Some(&b'?') {
            return None;
        }
        let text_start = charset_end + 3;
        let text_end = text_start + memmem::find(&rest[text_start..], b"?=")?;
        let word_text = &rest[text_start..text_end];
        if word_text.iter().any(u8::is_ascii_whitespace) {
            return None;
        }
        Some(EncodedWord {
            charset,
            encoding,
            text: word_text,
            end: start + 2 + text_end + 2,
        })
    }

    fn decode_bytes(&self, flags: &mut Flags) -> Vec<u8> {
        if self.encoding == b'B' {
            decode_base64(self.text, flags)
        } else {
            decode_q_word(self.text)
        }
    }
}

/// Decoded bytes of adjacent encoded words in one charset, not yet
/// charset-decoded.
#[derive(Default)]
struct PendingWords {
    charset: Option<String>,
    bytes: Vec<u8>,
}

impl PendingWords {
    fn is_open(&self) -> bool {
        self.charset.is_some()
    }

    /// Adds a word. A word in another charset first flushes the open words.
    fn push(&mut self, word: &EncodedWord<'_>, output: &mut String, flags: &mut Flags) {
        let label = String::from_utf8_lossy(word.charset);
        let label = label.split('*').next().unwrap_or_default();
        if !self
            .charset
            .as_deref()
            .is_some_and(|open| open.eq_ignore_ascii_case(label))
        {
            self.flush(output, flags);
            self.charset = Some(label.to_owned());
        }
        self.bytes.extend_from_slice(&word.decode_bytes(flags));
    }

    fn flush(&mut self, output: &mut String, flags: &mut Flags) {
        if let Some(label) = self.charset.take() {
            output.push_str(&charset::decode(&self.bytes, Some(&label), flags));
            self.bytes.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(raw: &str) -> (String, Vec<ParseFlag>) {
        let mut flags = Flags::default();
        let text = decode_value(raw.as_bytes(), &HeaderContext::default(), &mut flags);
        (text, flags.to_vec())
    }

    #[test]
    fn split_utf8_b_words_join() {
        let raw = concat!(
            " =?UTF-8?B?44CQ55m66YCB5a6M5LqG44CR44GU5g==?=\r\n",
            " =?UTF-8?B?s6jmlofjga7llYblk4HjgpLnmbrpgIHjgQ==?=\r\n",
            " =?UTF-8?B?l+OBvuOBl+OBn++8iOazqOaWh+eVquWP?=\r\n",
            " =?UTF-8?B?tyBBLTIwMjYxMjA0LTAwMDHvvIk=?=\r\n",
        );
        let expected = "【発送完了】ご注文の商品を発送しました（注文番号 A-20261204-0001）";
        assert_eq!(decode(raw), (expected.to_owned(), vec![]));
    }

    #[test]
    fn split_q_words_join() {
        let raw = "=?utf-8?Q?=E3=82=B5=E5=95?= =?UTF-8?q?=86_x?=";
        assert_eq!(decode(raw), ("サ商 x".to_owned(), vec![]));
    }

    #[test]
    fn different_charsets_stay_apart() {
        let raw = "=?ISO-2022-JP?B?GyRCOzMbKEI=?= =?UTF-8?B?55Sw?= end";
        assert_eq!(decode(raw), ("山田 end".to_owned(), vec![]));
    }

    #[test]
    fn text_between_words_is_kept() {
        assert_eq!(
            decode("Re: =?utf-8?q?a?= - =?utf-8?q?b?="),
            ("Re: a - b".to_owned(), vec![])
        );
    }

    #[test]
    fn invalid_words_stay_literal() {
        assert_eq!(
            decode("=?utf-8?x?abc?= =?utf-8?q?a b?="),
            ("=?utf-8?x?abc?= =?utf-8?q?a b?=".to_owned(), vec![])
        );
    }

    #[test]
    fn raw_utf8_is_kept() {
        assert_eq!(decode(" 山田 太郎\r\n"), ("山田 太郎".to_owned(), vec![]));
    }

    #[test]
    fn raw_shift_jis_is_guessed() {
        let mut flags = Flags::default();
        // ご注文確認のお知らせ in Shift_JIS.
        let raw =
            b"\x82\xb2\x92\x8d\x95\xb6\x8a\x6d\x94\x46\x82\xcc\x82\xa8\x92\x6d\x82\xe7\x82\xb9";
        let text = decode_value(raw, &HeaderContext::default(), &mut flags);
        assert_eq!(text, "ご注文確認のお知らせ");
        assert_eq!(flags.to_vec(), [ParseFlag::EightBitHeader]);
    }

    #[test]
    fn raw_iso_2022_jp_is_decoded() {
        assert_eq!(
            decode("\x1b$B;3ED\x1b(B <a@b>"),
            ("山田 <a@b>".to_owned(), vec![])
        );
    }

    #[test]
    fn unfold_keeps_inner_blanks() {
        assert_eq!(unfold(b" a\r\n\tb \r\n"), b"a\tb");
    }
}
