//! Lenient decoders for the base64 and quoted-printable transfer encodings.
//!
//! Both work on bytes, before any charset decoding, so a multibyte character
//! split by a line break or a soft line break survives.

use super::flags::Flags;
use crate::ParseFlag;

/// A `Content-Transfer-Encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransferEncoding {
    /// `7bit`, `8bit`, `binary`, a missing header or an unknown value.
    Identity,
    /// `base64`.
    Base64,
    /// `quoted-printable`.
    QuotedPrintable,
}

impl TransferEncoding {
    /// Reads a raw `Content-Transfer-Encoding` value. Case, whitespace and a
    /// trailing comment are ignored.
    pub(crate) fn parse(raw: &[u8]) -> TransferEncoding {
        let end = raw
            .iter()
            .position(|&b| b == b'(' || b == b';')
            .unwrap_or(raw.len());
        let value = raw[..end].trim_ascii();
        if value.eq_ignore_ascii_case(b"base64") {
            TransferEncoding::Base64
        } else if value.eq_ignore_ascii_case(b"quoted-printable") {
            TransferEncoding::QuotedPrintable
        } else {
            TransferEncoding::Identity
        }
    }

    /// Decodes `input`. Identity content is returned as it is.
    pub(crate) fn decode(self, input: &[u8], flags: &mut Flags) -> Vec<u8> {
        match self {
            TransferEncoding::Identity => input.to_vec(),
            TransferEncoding::Base64 => decode_base64(input, flags),
            TransferEncoding::QuotedPrintable => decode_quoted_printable(input, flags),
        }
    }
}

const INVALID: u8 = 0xFF;
const PADDING: u8 = 0xFE;

const BASE64_VALUES: [u8; 256] = {
    let mut table = [INVALID; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut i = 0;
    while i < alphabet.len() {
        table[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    table[b'=' as usize] = PADDING;
    table
};

/// Decodes base64 leniently (RFC 2045 section 6.8).
///
/// - Bytes outside the alphabet are skipped. Line breaks are skipped
///   silently, and any other skipped byte flags `InvalidBase64`.
/// - `=` ends the current 4-character group. Characters after the padding
///   start a new group, so concatenated base64 blocks decode in full.
/// - A final group of one character cannot carry a byte and is dropped, and
///   so is a final unpadded group that follows padding (a stray character
///   after the end, as in `…DQo=A`). Both flag `InvalidBase64`.
pub(crate) fn decode_base64(input: &[u8], flags: &mut Flags) -> Vec<u8> {
    let mut output = Vec::with_capacity(input.len() / 4 * 3 + 3);
    let mut group = [0u8; 4];
    let mut count = 0;
    let mut padding_expected = 0;
    let mut after_padding = false;
    let mut invalid = false;

    for &byte in input {
        match BASE64_VALUES[byte as usize] {
            INVALID => invalid |= byte != b'\r' && byte != b'\n',
            PADDING => {
                match count {
                    0 if padding_expected > 0 => padding_expected -= 1,
                    0 => invalid = true,
                    1 => invalid = true,
                    2 => {
                        output.push(group[0] << 2 | group[1] >> 4);
                        padding_expected = 1;
                    }
                    _ => output.extend_from_slice(&[
                        group[0] << 2 | group[1] >> 4,
                        group[1] << 4 | group[2] >> 2,
                    ]),
                }
                count = 0;
                after_padding = true;
            }
            value => {
                group[count] = value;
                count += 1;
                padding_expected = 0;
                if count == 4 {
                    output.extend_from_slice(&[
                        group[0] << 2 | group[1] >> 4,
                        group[1] << 4 | group[2] >> 2,
                        group[2] << 6 | group[3],
                    ]);
                    count = 0;
                    after_padding = false;
                }
            }
        }
    }

    match count {
        0 => {}
        1 => invalid = true,
        _ if after_padding => invalid = true,
        2 => output.push(group[0] << 2 | group[1] >> 4),
        _ => output
            .extend_from_slice(&[group[0] << 2 | group[1] >> 4, group[1] << 4 | group[2] >> 2]),
    }
    if invalid {
        flags.add(ParseFlag::InvalidBase64);
    }
    output
}

/// Decodes quoted-printable content leniently (RFC 2045 section 6.7).
///
/// - Soft line breaks (`=` CRLF, `=` LF, and `=` followed by spaces or tabs
///   before the line break) are removed.
/// - Trailing spaces and tabs before a hard line break are removed, because
///   RFC 2045 says transport added them.
/// - An invalid escape such as `=XY` or a final `=` is kept as written and
///   flags `InvalidQuotedPrintable`. Lower-case hex digits are accepted.
pub(crate) fn decode_quoted_printable(input: &[u8], flags: &mut Flags) -> Vec<u8> {
    let mut output = Vec::with_capacity(input.len());
    let mut invalid = false;
    let mut i = 0;

    while i < input.len() {
        let byte = input[i];
        match byte {
            b'=' => {
                if let Some(value) = hex_pair(input.get(i + 1..i + 3)) {
                    output.push(value);
                    i += 3;
                } else if let Some(next) = soft_break_end(input, i + 1) {
                    i = next;
                } else {
                    invalid = true;
                    output.push(b'=');
                    i += 1;
                }
            }
            b'\n' => {
                trim_trailing_blanks(&mut output);
                output.push(b'\n');
                i += 1;
            }
            b'\r' if input.get(i + 1) == Some(&b'\n') => {
                trim_trailing_blanks(&mut output);
                output.extend_from_slice(b"\r\n");
                i += 2;
            }
            _ => {
                output.push(byte);
                i += 1;
            }
        }
    }

    if invalid {
        flags.add(ParseFlag::InvalidQuotedPrintable);
    }
    output
}

/// Decodes the text of an RFC 2047 `Q` encoded word: like quoted-printable,
/// but `_` is a space and there are no line breaks. Invalid escapes stay as
/// written.
pub(crate) fn decode_q_word(input: &[u8]) -> Vec<u8> {
    let mut output = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'=' => match hex_pair(input.get(i + 1..i + 3)) {
                Some(value) => {
                    output.push(value);
                    i += 3;
                }
                None => {
                    output.push(b'=');
                    i += 1;
                }
            },
            b'_' => {
                output.push(b' ');
                i += 1;
            }
            byte => {
                output.push(byte);
                i += 1;
            }
        }
    }
    output
}

/// Decodes `%XY` escapes (RFC 2231 values). Invalid escapes stay as written.
pub(crate) fn decode_percent(input: &[u8]) -> Vec<u8> {
    let mut output = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%'
            && let Some(value) = hex_pair(input.get(i + 1..i + 3))
        {
            output.push(value);
            i += 3;
        } else {
            output.push(input[i]);
            i += 1;
        }
    }
    output
}

fn hex_pair(pair: Option<&[u8]>) -> Option<u8> {
    let [high, low] = pair? else { return None };
    Some(hex_value(*high)? << 4 | hex_value(*low)?)
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        _ => None,
    }
}

/// If a soft line break starts at `at` (optional blanks, then CRLF or LF),
/// returns the offset after it.
fn soft_break_end(input: &[u8], at: usize) -> Option<usize> {
    let mut i = at;
    while i < input.len() && (input[i] == b' ' || input[i] == b'\t') {
        i += 1;
    }
    match input.get(i..) {
        Some([b'\r', b'\n', ..]) => Some(i + 2),
        Some([b'\n', ..]) => Some(i + 1),
        _ => None,
    }
}

fn trim_trailing_blanks(output: &mut Vec<u8>) {
    while matches!(output.last(), Some(b' ' | b'\t')) {
        output.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base64(input: &[u8]) -> (Vec<u8>, bool) {
        let mut flags = Flags::default();
        let output = decode_base64(input, &mut flags);
        (output, flags.contains(ParseFlag::InvalidBase64))
    }

    fn quoted_printable(input: &[u8]) -> (Vec<u8>, bool) {
        let mut flags = Flags::default();
        let output = decode_quoted_printable(input, &mut flags);
        (output, flags.contains(ParseFlag::InvalidQuotedPrintable))
    }

    #[test]
    fn base64_plain_lines() {
        assert_eq!(base64(b"SGVs\r\nbG8=\r\n"), (b"Hello".to_vec(), false));
        assert_eq!(base64(b"SGVsbG8"), (b"Hello".to_vec(), false));
    }

    #[test]
    fn base64_skips_junk() {
        assert_eq!(base64(b"SG*Vs b\tG8!=."), (b"Hello".to_vec(), true));
    }

    #[test]
    fn base64_stray_char_after_padding() {
        assert_eq!(base64(b"SGk=A"), (b"Hi".to_vec(), true));
        assert_eq!(base64(b"SGk=AB\r\n"), (b"Hi".to_vec(), true));
    }

    #[test]
    fn base64_concatenated_blocks() {
        assert_eq!(base64(b"SGk=\r\nSGk=\r\n"), (b"HiHi".to_vec(), false));
        assert_eq!(base64(b"SQ==SGVsbG8="), (b"IHello".to_vec(), false));
    }

    #[test]
    fn base64_dangling_char() {
        assert_eq!(base64(b"SGVsbA"), (b"Hell".to_vec(), false));
        assert_eq!(base64(b"SGVsb"), (b"Hel".to_vec(), true));
        assert_eq!(base64(b"=SGk="), (b"Hi".to_vec(), true));
    }

    #[test]
    fn quoted_printable_soft_breaks() {
        assert_eq!(
            quoted_printable(b"=E5=B9=\r\n=B4"),
            ("年".as_bytes().to_vec(), false)
        );
        assert_eq!(
            quoted_printable(b"a=\nb= \t\r\nc"),
            (b"abc".to_vec(), false)
        );
    }

    #[test]
    fn quoted_printable_invalid_escapes() {
        assert_eq!(quoted_printable(b"a=XYb=4"), (b"a=XYb=4".to_vec(), true));
        assert_eq!(
            quoted_printable(b"100% =3d ok="),
            (b"100% = ok=".to_vec(), true)
        );
    }

    #[test]
    fn quoted_printable_trailing_blanks() {
        assert_eq!(
            quoted_printable(b"a  \r\nb\t\nc "),
            (b"a\r\nb\nc ".to_vec(), false)
        );
    }

    #[test]
    fn q_word_underscore() {
        assert_eq!(decode_q_word(b"a_b=3F=zz"), b"a b?=zz");
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(decode_percent(b"%E8%A1%A8%5C%zz"), b"\xe8\xa1\xa8\\%zz");
    }

    #[test]
    fn transfer_encoding_names() {
        assert_eq!(
            TransferEncoding::parse(b" Base64\r\n"),
            TransferEncoding::Base64
        );
        assert_eq!(
            TransferEncoding::parse(b"quoted-printable (x)"),
            TransferEncoding::QuotedPrintable
        );
        assert_eq!(TransferEncoding::parse(b"8bit"), TransferEncoding::Identity);
    }
}
