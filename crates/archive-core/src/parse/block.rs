//! Splitting a header block into raw fields.
//!
//! The rules copy those of `mail-parser` 0.11.9 (`MessageStream::parse_headers`),
//! so that this scanner and the MIME tree that `mail-parser` builds agree on
//! where each field and the body start:
//!
//! - whitespace before a field name is skipped, and a line that is empty
//!   after it ends the block;
//! - a line without a colon is skipped;
//! - a value runs to the first line break that is not followed by a space or
//!   a tab.

use memchr::{memchr, memchr2};

/// One header field as raw bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawField<'a> {
    /// The field name, trimmed. It may be invalid (see [`RawField::has_valid_name`]).
    pub name: &'a [u8],
    /// The raw value after the colon, folding and the final line break included.
    pub value: &'a [u8],
    /// Offset of the name in the scanned bytes.
    pub name_start: usize,
    /// Offset of the value in the scanned bytes.
    pub value_start: usize,
}

impl RawField<'_> {
    /// Returns true when the name is a valid RFC 5322 field name: printable
    /// ASCII without spaces or colons. Lines such as an mbox `From ` line are
    /// read as fields with invalid names.
    pub(crate) fn has_valid_name(&self) -> bool {
        !self.name.is_empty()
            && self
                .name
                .iter()
                .all(|&b| (33..=126).contains(&b) && b != b':')
    }

    /// Returns true when the field is named `name`, compared case-insensitively.
    pub(crate) fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name.as_bytes())
    }
}

/// The fields of one header block and where the body starts.
#[derive(Debug, Clone, Default)]
pub(crate) struct HeaderBlock<'a> {
    /// The fields in order.
    pub fields: Vec<RawField<'a>>,
    /// Offset of the first body byte, or the input length when there is no body.
    /// Only the test that compares the scanner with mail-parser reads it.
    #[cfg_attr(not(test), allow(dead_code))]
    pub body_start: usize,
}

impl<'a> HeaderBlock<'a> {
    /// Splits the header block at the start of `raw`.
    pub(crate) fn scan(raw: &'a [u8]) -> HeaderBlock<'a> {
        let mut fields = Vec::with_capacity(32);
        let mut pos = 0;

        loop {
            while pos < raw.len() && raw[pos] != b'\n' && raw[pos].is_ascii_whitespace() {
                pos += 1;
            }
            if pos >= raw.len() {
                return HeaderBlock {
                    fields,
                    body_start: raw.len(),
                };
            }
            if raw[pos] == b'\n' {
                return HeaderBlock {
                    fields,
                    body_start: pos + 1,
                };
            }

            let Some((name_start, name_end, colon)) = find_name(raw, pos) else {
                // A line without a colon: skip it, as mail-parser does. At the
                // end of input mail-parser keeps such a line as a field with
                // an empty value, which carries nothing, so it is dropped.
                match memchr(b'\n', &raw[pos..]) {
                    Some(offset) => {
                        pos += offset + 1;
                        continue;
                    }
                    None => {
                        return HeaderBlock {
                            fields,
                            body_start: raw.len(),
                        };
                    }
                }
            };

            let value_start = colon + 1;
            let value_end = find_value_end(raw, value_start);
            fields.push(RawField {
                name: &raw[name_start..name_end],
                value: &raw[value_start..value_end],
                name_start,
                value_start,
            });
            pos = value_end;
        }
    }

    /// Returns the first field named `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&RawField<'a>> {
        self.fields.iter().find(|field| field.is(name))
    }

    /// Returns every field named `name`, in order.
    pub(crate) fn all<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s RawField<'a>> {
        self.fields.iter().filter(move |field| field.is(name))
    }

    /// Returns true when no field has a valid name.
    pub(crate) fn is_empty(&self) -> bool {
        !self.fields.iter().any(RawField::has_valid_name)
    }
}

/// Finds the name that starts at `pos`: returns its trimmed span and the
/// offset of its colon. Colons before the first name byte are skipped.
/// Returns `None` when the line or the input ends before a colon.
fn find_name(raw: &[u8], pos: usize) -> Option<(usize, usize, usize)> {
    let mut at = pos;
    loop {
        let hit = at + memchr2(b':', b'\n', &raw[at..])?;
        if raw[hit] == b'\n' {
            return None;
        }
        if let Some(first) = (at..hit).find(|&i| !raw[i].is_ascii_whitespace() && raw[i] != b':') {
            let mut end = hit;
            while end > first && raw[end - 1].is_ascii_whitespace() {
                end -= 1;
            }
            return Some((first, end, hit));
        }
        at = hit + 1;
    }
}

/// Returns the offset after the line break that ends the value starting at
/// `start`, or the input length.
fn find_value_end(raw: &[u8], start: usize) -> usize {
    let mut at = start;
    while let Some(offset) = memchr(b'\n', &raw[at..]) {
        let next = at + offset + 1;
        match raw.get(next) {
            Some(b' ' | b'\t') => at = next + 1,
            _ => return next,
        }
    }
    raw.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names<'a>(block: &HeaderBlock<'a>) -> Vec<&'a [u8]> {
        block.fields.iter().map(|field| field.name).collect()
    }

    #[test]
    fn scan_folded_fields() {
        let raw = b"Subject: a\r\n b\r\nTo: x@y\r\n\r\nbody";
        let block = HeaderBlock::scan(raw);
        assert_eq!(names(&block), [&b"Subject"[..], b"To"]);
        assert_eq!(block.fields[0].value, b" a\r\n b\r\n");
        assert_eq!(&raw[block.body_start..], b"body");
    }

    #[test]
    fn scan_bare_lf_and_no_body() {
        let block = HeaderBlock::scan(b"A: 1\nB : 2\ntrailing");
        assert_eq!(names(&block), [&b"A"[..], b"B"]);
        assert_eq!(block.fields[1].value, b" 2\n");
        assert_eq!(block.body_start, 19);
    }

    #[test]
    fn scan_skips_line_without_colon() {
        let block = HeaderBlock::scan(b"junk line\nA: 1\n\nbody");
        assert_eq!(names(&block), [&b"A"[..]]);
    }

    #[test]
    fn scan_leading_blank_line_ends_block() {
        let block = HeaderBlock::scan(b"\r\nA: 1\r\n");
        assert!(block.fields.is_empty());
        assert_eq!(block.body_start, 2);
        assert!(block.is_empty());
    }

    /// Checks that the scanner splits fields exactly as mail-parser does, on
    /// every message in the test data.
    #[test]
    fn scan_agrees_with_mail_parser() {
        let parser = mail_parser::MessageParser::new()
            .with_mime_headers()
            .default_header_ignore();
        let mut checked = 0;
        for (_, raw) in crate::parse::corpus::real_messages() {
            let block = HeaderBlock::scan(&raw);
            let Some(message) = parser.parse(&raw[..]) else {
                assert!(block.fields.is_empty());
                continue;
            };
            let root = &message.parts[0];
            let expected: Vec<(usize, usize)> = root
                .headers
                .iter()
                .map(|header| (header.offset_field as usize, header.offset_start as usize))
                .collect();
            let actual: Vec<(usize, usize)> = block
                .fields
                .iter()
                .map(|field| (field.name_start, field.value_start))
                .collect();
            let shared = actual.len().min(expected.len());
            assert_eq!(actual[..shared], expected[..shared]);
            // mail-parser keeps a final colon-less line as a field. The scanner drops it.
            assert!(
                expected.len() - shared <= 1 && actual.len() == shared,
                "{actual:?} {expected:?}"
            );
            if expected.len() == actual.len()
                && !root.headers.is_empty()
                && block.body_start < raw.len()
            {
                assert_eq!(block.body_start, root.offset_body as usize);
            }
            checked += 1;
        }
        assert!(checked > 900, "checked {checked} messages");
    }

    #[test]
    fn scan_mbox_line_has_invalid_name() {
        let block = HeaderBlock::scan(b"From x@y Mon Jan  1 00:00:00 2024\nA: 1\n\n");
        assert_eq!(block.fields.len(), 2);
        assert!(!block.fields[0].has_valid_name());
        assert!(block.fields[1].has_valid_name());
    }
}
