//! A lenient RFC 5322 address-list parser over raw header bytes.
//!
//! It reads groups (flattened into their members), quoted strings with
//! escapes, comments, angle addresses with obsolete routes, a missing `>`,
//! and bare addresses. Display names go through the header decoder, so
//! encoded words, adjacent words split inside a character, raw 8-bit text
//! and raw ISO-2022-JP all decode. Garbage yields what can be salvaged.

use super::flags::Flags;
use super::header::{HeaderContext, decode_text, unfold};
use super::lexer::Lexer;
use crate::Mailbox;

/// Parses an address-list header value.
pub(crate) fn parse_address_list(
    raw: &[u8],
    context: &HeaderContext,
    flags: &mut Flags,
) -> Vec<Mailbox> {
    let text = unfold(raw);
    let mut parser = AddressParser {
        lexer: Lexer::new(&text, context),
        context,
        flags,
        mailboxes: Vec::new(),
        pending: Pending::default(),
    };
    parser.run();
    parser.mailboxes
}

/// One word of a phrase or an address: its text for display (quotes and
/// escapes removed) and as written.
struct Word {
    content: Vec<u8>,
    written: Vec<u8>,
    space_before: bool,
    has_at: bool,
}

/// The mailbox being read.
#[derive(Default)]
struct Pending {
    words: Vec<Word>,
    comments: Vec<Vec<u8>>,
    angle_address: Option<Vec<u8>>,
}

struct AddressParser<'a, 'f> {
    lexer: Lexer<'a>,
    context: &'a HeaderContext,
    flags: &'f mut Flags,
    mailboxes: Vec<Mailbox>,
    pending: Pending,
}

impl AddressParser<'_, '_> {
    fn run(&mut self) {
        let mut space_before = false;
        while let Some(byte) = self.lexer.peek() {
            match byte {
                b',' | b';' => {
                    self.lexer.pos += 1;
                    self.finish_mailbox();
                }
                b':' if self.pending.angle_address.is_none() => {
                    // A group name: its members follow and the name is dropped.
                    self.lexer.pos += 1;
                    self.pending = Pending::default();
                }
                b'<' => self.read_angle_address(),
                b'(' => {
                    let comment = self.lexer.comment();
                    self.pending.comments.push(comment);
                    space_before = true;
                    continue;
                }
                b'"' => {
                    let start = self.lexer.pos;
                    let content = self.lexer.quoted_string();
                    let written = self.lexer.bytes[start..self.lexer.pos].to_vec();
                    self.push_word(Word {
                        content,
                        written,
                        space_before,
                        has_at: false,
                    });
                }
                _ if byte.is_ascii_whitespace() => {
                    self.lexer.pos += 1;
                    space_before = true;
                    continue;
                }
                _ => {
                    let (written, has_at) = self.read_atom();
                    self.push_word(Word {
                        content: written.clone(),
                        written,
                        space_before,
                        has_at,
                    });
                }
            }
            space_before = false;
        }
        self.finish_mailbox();
    }

    fn push_word(&mut self, word: Word) {
        if self.pending.angle_address.is_none() {
            self.pending.words.push(word);
        }
    }

    /// Reads atom bytes up to a delimiter. `@` and `.` are part of atoms, so
    /// a bare address is one atom.
    fn read_atom(&mut self) -> (Vec<u8>, bool) {
        let start = self.lexer.pos;
        let mut has_at = false;
        while let Some(byte) = self.lexer.peek() {
            let length = self.lexer.unit_length(self.lexer.pos);
            if length > 1 {
                self.lexer.pos += length;
                continue;
            }
            if matches!(byte, b',' | b';' | b':' | b'<' | b'>' | b'(' | b')' | b'"')
                || byte.is_ascii_whitespace()
            {
                break;
            }
            has_at |= byte == b'@';
            self.lexer.pos += 1;
        }
        if self.lexer.pos == start {
            // A lone `>` or `)`: skip it.
            self.lexer.pos += 1;
        }
        (self.lexer.bytes[start..self.lexer.pos].to_vec(), has_at)
    }

    /// Reads `<…>`: an obsolete route (`@a,@b:`) is dropped, and a missing
    /// `>` ends the address at `,`, `;` or the end.
    fn read_angle_address(&mut self) {
        self.lexer.pos += 1;
        let mut address = Vec::new();
        let mut in_route = self
            .lexer
            .bytes
            .get(self.lexer.pos..)
            .is_some_and(|rest| rest.trim_ascii_start().starts_with(b"@"));

        while let Some(byte) = self.lexer.peek() {
            match byte {
                b'>' => {
                    self.lexer.pos += 1;
                    break;
                }
                b':' if in_route => {
                    in_route = false;
                    address.clear();
                    self.lexer.pos += 1;
                }
                b',' | b';' if !in_route => break,
                b'"' => {
                    let start = self.lexer.pos;
                    self.lexer.quoted_string();
                    address.extend_from_slice(&self.lexer.bytes[start..self.lexer.pos]);
                }
                b'(' => {
                    self.lexer.comment();
                }
                _ if byte.is_ascii_whitespace() => self.lexer.pos += 1,
                _ => {
                    if !self.lexer.copy_unit(&mut address) {
                        address.push(byte);
                        self.lexer.pos += 1;
                    }
                }
            }
        }
        if in_route {
            address.clear();
        }
        self.pending.angle_address = Some(address);
    }

    fn finish_mailbox(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        let Pending {
            words,
            comments,
            angle_address,
        } = pending;

        let (name_words, address) = match angle_address {
            Some(address) => (words, address),
            None if words.iter().any(|word| word.has_at) || words.len() == 1 => {
                let address = words
                    .iter()
                    .flat_map(|word| word.written.iter().copied())
                    .collect();
                (Vec::new(), address)
            }
            None => (words, Vec::new()),
        };

        let mut name = self.decode_phrase(&name_words);
        if name.is_none() {
            name = comments
                .iter()
                .find_map(|comment| self.decode_phrase_bytes(comment));
        }
        let address = String::from_utf8_lossy(&address).trim().to_owned();
        if name.is_none() && address.is_empty() {
            return;
        }
        self.mailboxes.push(Mailbox { name, address });
    }

    fn decode_phrase(&mut self, words: &[Word]) -> Option<String> {
        let mut text = Vec::new();
        for word in words {
            if word.space_before && !text.is_empty() {
                text.push(b' ');
            }
            text.extend_from_slice(&word.content);
        }
        self.decode_phrase_bytes(&text)
    }

    fn decode_phrase_bytes(&mut self, bytes: &[u8]) -> Option<String> {
        let name = decode_text(bytes.trim_ascii(), self.context, self.flags);
        let name = name.trim();
        (!name.is_empty()).then(|| name.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> Vec<(Option<String>, String)> {
        let mut flags = Flags::default();
        parse_address_list(raw, &HeaderContext::default(), &mut flags)
            .into_iter()
            .map(|mailbox| (mailbox.name, mailbox.address))
            .collect()
    }

    fn named(name: &str, address: &str) -> (Option<String>, String) {
        (Some(name.to_owned()), address.to_owned())
    }

    fn bare(address: &str) -> (Option<String>, String) {
        (None, address.to_owned())
    }

    #[test]
    fn name_and_angle_address() {
        assert_eq!(
            parse(b"John Doe <john@example.com>"),
            [named("John Doe", "john@example.com")]
        );
    }

    #[test]
    fn list_with_quoted_names_and_bare_addresses() {
        let raw = br#""Doe, John" <j@x.jp>, k@x.jp,  "a \"b\"" <c@d>"#;
        assert_eq!(
            parse(raw),
            [
                named("Doe, John", "j@x.jp"),
                bare("k@x.jp"),
                named(r#"a "b""#, "c@d")
            ]
        );
    }

    #[test]
    fn split_q_words_in_name() {
        let raw = b"=?utf-8?Q?=E3=82=B5=E5=95?=\r\n =?utf-8?Q?=86=E5=BA=97?= <s@shop.example.jp>";
        assert_eq!(parse(raw), [named("サ商店", "s@shop.example.jp")]);
    }

    #[test]
    fn encoded_word_in_quotes() {
        assert_eq!(
            parse(b"\"=?UTF-8?B?5bGx55Sw?=\" <y@x>"),
            [named("山田", "y@x")]
        );
    }

    #[test]
    fn groups_are_flattened() {
        assert_eq!(
            parse(b"Team: a@x, B <b@x>;, c@x"),
            [bare("a@x"), named("B", "b@x"), bare("c@x")]
        );
        assert_eq!(parse(b"undisclosed-recipients:;"), []);
    }

    #[test]
    fn comment_name_and_route() {
        assert_eq!(parse(b"a@x (Alice)"), [named("Alice", "a@x")]);
        assert_eq!(parse(b"<@r1,@r2:b@x>"), [bare("b@x")]);
    }

    #[test]
    fn missing_angle_close() {
        assert_eq!(
            parse(b"A <a@x, B <b@x>"),
            [named("A", "a@x"), named("B", "b@x")]
        );
    }

    #[test]
    fn raw_iso_2022_jp_name() {
        // 山田 is ;3ED in JIS: the `;` must not end the mailbox.
        assert_eq!(parse(b"\x1b$B;3ED\x1b(B <y@x>"), [named("山田", "y@x")]);
    }

    #[test]
    fn name_without_address() {
        assert_eq!(
            parse(b"Undisclosed recipients"),
            [named("Undisclosed recipients", "")]
        );
    }

    #[test]
    fn garbage_does_not_panic() {
        for raw in [
            &b"<<>>,,;;::\"(("[..],
            b">",
            b"\"",
            b"(",
            b"@",
            b"<",
            b"\x1b$B",
            b"a@b@c <",
        ] {
            let _ = parse(raw);
        }
    }
}
