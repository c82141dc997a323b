//! Lexical helpers shared by the structured header parsers (addresses and
//! MIME parameters): quoted strings, comments, and runs of raw Japanese
//! bytes that must not be read as delimiters.
//!
//! Raw ISO-2022-JP text uses bytes such as `"`, `(`, `<`, `,` and `;` for
//! kanji, and raw Shift_JIS uses `@` and `\` (0x40 and 0x5C) as trail bytes
//! (`　` is 81 40, `表` is 95 5C). Both are read here as unbreakable units.

use encoding_rs::SHIFT_JIS;

use super::header::HeaderContext;

const ESC: u8 = 0x1B;

/// A cursor over unfolded structured header bytes.
pub(crate) struct Lexer<'a> {
    /// The bytes being read.
    pub bytes: &'a [u8],
    /// The current offset.
    pub pos: usize,
    shift_jis: bool,
}

impl<'a> Lexer<'a> {
    /// Creates a lexer. Shift_JIS pairs are kept together when the bytes
    /// are not UTF-8 and look like Shift_JIS.
    pub(crate) fn new(bytes: &'a [u8], context: &HeaderContext) -> Lexer<'a> {
        let shift_jis = !bytes.is_ascii()
            && std::str::from_utf8(bytes).is_err()
            && context.guess(bytes) == SHIFT_JIS;
        Lexer {
            bytes,
            pos: 0,
            shift_jis,
        }
    }

    /// Returns the byte at the cursor.
    pub(crate) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Returns the length of the unbreakable unit at `at`: a raw ISO-2022-JP
    /// run up to and including its return to ASCII, a Shift_JIS pair, or one
    /// byte.
    pub(crate) fn unit_length(&self, at: usize) -> usize {
        let rest = &self.bytes[at..];
        match rest {
            [ESC, b'$', ..] | [ESC, b'(', b'I', ..] => iso_2022_run_length(rest),
            [lead, _, ..] if self.shift_jis && is_shift_jis_lead(*lead) => 2,
            [] => 0,
            _ => 1,
        }
    }

    /// Copies the multibyte unit at the cursor into `content` and moves
    /// past it. Returns false, and does nothing, when the cursor is on a
    /// single byte.
    pub(crate) fn copy_unit(&mut self, content: &mut Vec<u8>) -> bool {
        let length = self.unit_length(self.pos);
        if length < 2 {
            return false;
        }
        content.extend_from_slice(&self.bytes[self.pos..self.pos + length]);
        self.pos += length;
        true
    }

    /// Skips whitespace and comments. Returns true when anything was skipped.
    pub(crate) fn skip_cfws(&mut self) -> bool {
        let start = self.pos;
        while let Some(byte) = self.peek() {
            match byte {
                b'(' => {
                    self.comment();
                }
                _ if byte.is_ascii_whitespace() => self.pos += 1,
                _ => break,
            }
        }
        self.pos > start
    }

    /// Reads the quoted string at the cursor (which is on `"`) and returns its
    /// content with backslash escapes removed. An unclosed string runs to the
    /// end.
    pub(crate) fn quoted_string(&mut self) -> Vec<u8> {
        let mut content = Vec::new();
        self.pos += 1;
        while self.pos < self.bytes.len() {
            if self.copy_unit(&mut content) {
                continue;
            }
            let byte = self.bytes[self.pos];
            self.pos += 1;
            match byte {
                b'"' => break,
                b'\\' if self.pos < self.bytes.len() => {
                    content.push(self.bytes[self.pos]);
                    self.pos += 1;
                }
                _ => content.push(byte),
            }
        }
        content
    }

    /// Reads the comment at the cursor (which is on `(`), with nested
    /// comments, and returns its content without the outer parentheses.
    pub(crate) fn comment(&mut self) -> Vec<u8> {
        let mut content = Vec::new();
        let mut depth = 0usize;
        while self.pos < self.bytes.len() {
            if self.copy_unit(&mut content) {
                continue;
            }
            let byte = self.bytes[self.pos];
            self.pos += 1;
            match byte {
                b'(' => {
                    depth += 1;
                    if depth == 1 {
                        continue;
                    }
                }
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                b'\\' if self.pos < self.bytes.len() => {
                    content.push(self.bytes[self.pos]);
                    self.pos += 1;
                    continue;
                }
                _ => {}
            }
            content.push(byte);
        }
        content
    }
}

/// Returns the length of the ISO-2022-JP run at the start of `bytes`, which
/// starts with an escape to a JIS set: up to and including the next `ESC ( B`
/// or `ESC ( J`, or to the end.
fn iso_2022_run_length(bytes: &[u8]) -> usize {
    let mut at = 1;
    while let Some(offset) = memchr::memchr(ESC, &bytes[at..]) {
        let escape = at + offset;
        if let Some([b'(', b'B' | b'J']) = bytes.get(escape + 1..escape + 3) {
            return escape + 3;
        }
        at = escape + 1;
    }
    bytes.len()
}

fn is_shift_jis_lead(byte: u8) -> bool {
    matches!(byte, 0x81..=0x9F | 0xE0..=0xFC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_string_escapes() {
        let context = HeaderContext::default();
        let mut lexer = Lexer::new(br#""a\"b\\c" rest"#, &context);
        assert_eq!(lexer.quoted_string(), br#"a"b\c"#);
        assert_eq!(lexer.pos, 9);
    }

    #[test]
    fn quoted_string_keeps_shift_jis_trail_backslash() {
        // "表示" in Shift_JIS is 95 5C 8E A6, where 0x5C is a trail byte.
        let bytes = b"\"\x95\x5c\x8e\xa6\" <a@b>";
        let context = HeaderContext::default();
        let mut lexer = Lexer::new(bytes, &context);
        assert_eq!(lexer.quoted_string(), b"\x95\x5c\x8e\xa6");
        assert_eq!(lexer.peek(), Some(b' '));
    }

    #[test]
    fn quoted_string_keeps_iso_2022_jp_run() {
        // 山田 in JIS is ;3ED, and a JIS run may contain `"`.
        let bytes = b"\"\x1b$B\"!\x1b(B\" x";
        let context = HeaderContext::default();
        let mut lexer = Lexer::new(bytes, &context);
        assert_eq!(lexer.quoted_string(), b"\x1b$B\"!\x1b(B");
    }

    #[test]
    fn nested_comment() {
        let context = HeaderContext::default();
        let mut lexer = Lexer::new(b"(a (b) \\) c) d", &context);
        assert_eq!(lexer.comment(), b"a (b) ) c");
        assert_eq!(lexer.peek(), Some(b' '));
    }
}
