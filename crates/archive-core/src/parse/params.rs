//! `Content-Type` and `Content-Disposition` values with their parameters.
//!
//! Parameter values may be quoted strings, RFC 2231 values (charset,
//! language and continuations `name*0*=`, `name*1=`), or RFC 2047 encoded
//! words inside a quoted `name=` or `filename=` (common from Japanese
//! mailers). RFC 2231 sections are joined as percent-decoded bytes before
//! charset decoding, so a section split inside a multibyte character
//! survives. Backslashes are never unescaped after percent-decoding,
//! because 0x5C is a Shift_JIS trail byte (`表` is 95 5C).

use super::charset;
use super::flags::Flags;
use super::header::{HeaderContext, decode_text, unfold};
use super::lexer::Lexer;
use super::transfer::decode_percent;

/// A parsed `Content-Type` or `Content-Disposition` value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ContentHeader {
    /// The value before the parameters, lower-cased: `text/plain`,
    /// `attachment`.
    pub value: String,
    params: Vec<Param>,
}

/// One parameter as written: a lower-cased name, which keeps any RFC 2231
/// `*N` and `*` suffixes, and the unquoted value bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Param {
    name: String,
    value: Vec<u8>,
}

impl ContentHeader {
    /// Parses a raw header value. Anything malformed is skipped.
    pub(crate) fn parse(raw: &[u8]) -> ContentHeader {
        Self::parse_with(raw, &HeaderContext::default())
    }

    /// Parses a raw header value. The `context` charset helps to read raw
    /// Shift_JIS in quoted values.
    pub(crate) fn parse_with(raw: &[u8], context: &HeaderContext) -> ContentHeader {
        let text = unfold(raw);
        let mut lexer = Lexer::new(&text, context);
        lexer.skip_cfws();
        let start = lexer.pos;
        while lexer
            .peek()
            .is_some_and(|b| b != b';' && b != b'(' && !b.is_ascii_whitespace())
        {
            lexer.pos += 1;
        }
        let value = String::from_utf8_lossy(&text[start..lexer.pos]).to_ascii_lowercase();

        let mut params = Vec::new();
        while lexer.pos < text.len() {
            if let Some(param) = read_param(&mut lexer) {
                params.push(param);
            }
        }
        ContentHeader { value, params }
    }

    /// Returns the media type before the slash (`text`).
    pub(crate) fn main_type(&self) -> &str {
        self.value.split('/').next().unwrap_or_default()
    }

    /// Returns the subtype after the slash (`plain`).
    pub(crate) fn subtype(&self) -> &str {
        self.value
            .split_once('/')
            .map_or("", |(_, subtype)| subtype)
    }

    /// Returns the plain value of parameter `name` as written, without
    /// decoding. Meant for ASCII values such as `charset` and `boundary`.
    pub(crate) fn raw_param(&self, name: &str) -> Option<String> {
        self.params
            .iter()
            .find(|param| param.name == name)
            .map(|param| String::from_utf8_lossy(&param.value).into_owned())
    }

    /// Returns true when parameter `name` has an RFC 2231 form (`name*`,
    /// `name*0`, `name*0*`).
    pub(crate) fn has_extended(&self, name: &str) -> bool {
        self.params
            .iter()
            .any(|param| extended_index(&param.name, name).is_some())
    }

    /// Decodes the RFC 2231 form of parameter `name`.
    pub(crate) fn extended_param(&self, name: &str, flags: &mut Flags) -> Option<String> {
        let mut sections: Vec<(u32, bool, &[u8])> = self
            .params
            .iter()
            .filter_map(|param| {
                let (index, encoded) = extended_index(&param.name, name)?;
                Some((index, encoded, param.value.as_slice()))
            })
            .collect();
        if sections.is_empty() {
            return None;
        }
        sections.sort_by_key(|&(index, _, _)| index);
        sections.dedup_by_key(|&mut (index, _, _)| index);

        let mut label = None;
        let mut bytes = Vec::new();
        for (position, &(_, encoded, value)) in sections.iter().enumerate() {
            if !encoded {
                bytes.extend_from_slice(value);
                continue;
            }
            let mut value = value;
            if position == 0 {
                let (section_label, rest) = split_charset_prefix(value);
                label = section_label;
                value = rest;
            }
            bytes.extend_from_slice(&decode_percent(value));
        }
        let label = label.map(|label| String::from_utf8_lossy(label).into_owned());
        Some(charset::decode(&bytes, label.as_deref(), flags))
    }

    /// Decodes the plain form of parameter `name`: encoded words, raw 8-bit
    /// text and raw ISO-2022-JP are decoded as in other headers.
    pub(crate) fn plain_param(
        &self,
        name: &str,
        context: &HeaderContext,
        flags: &mut Flags,
    ) -> Option<String> {
        let param = self.params.iter().find(|param| param.name == name)?;
        Some(decode_text(&param.value, context, flags))
    }

    /// Returns the decoded parameter `name`, preferring its RFC 2231 form.
    #[cfg(test)]
    pub(crate) fn param(
        &self,
        name: &str,
        context: &HeaderContext,
        flags: &mut Flags,
    ) -> Option<String> {
        self.extended_param(name, flags)
            .or_else(|| self.plain_param(name, context, flags))
    }
}

/// Reads one `name=value` parameter after the cursor, and moves the cursor
/// past the `;` that ends it.
fn read_param(lexer: &mut Lexer<'_>) -> Option<Param> {
    while lexer.peek().is_some_and(|b| b == b';') || lexer.skip_cfws() {
        if lexer.peek() == Some(b';') {
            lexer.pos += 1;
        }
    }
    let start = lexer.pos;
    while lexer.peek().is_some_and(|b| b != b'=' && b != b';') {
        lexer.pos += 1;
    }
    let name =
        String::from_utf8_lossy(lexer.bytes[start..lexer.pos].trim_ascii()).to_ascii_lowercase();
    if lexer.peek() != Some(b'=') {
        return None;
    }
    lexer.pos += 1;
    lexer.skip_cfws();

    let value = if lexer.peek() == Some(b'"') {
        let value = lexer.quoted_string();
        while lexer.peek().is_some_and(|b| b != b';') {
            lexer.pos += 1;
        }
        value
    } else {
        read_token_value(lexer)
    };
    (!name.is_empty()).then_some(Param { name, value })
}

/// Reads an unquoted value up to `;`. A comment preceded by whitespace is
/// dropped, but `(` inside the value (`report(1).pdf`) is kept.
fn read_token_value(lexer: &mut Lexer<'_>) -> Vec<u8> {
    let mut value = Vec::new();
    while let Some(byte) = lexer.peek() {
        if lexer.copy_unit(&mut value) {
            continue;
        }
        match byte {
            b';' => break,
            b'(' if value.last().is_some_and(u8::is_ascii_whitespace) => {
                lexer.comment();
            }
            _ => {
                value.push(byte);
                lexer.pos += 1;
            }
        }
    }
    value.trim_ascii().to_vec()
}

/// If `param_name` is an RFC 2231 form of `name`, returns its section index
/// and whether it is percent-encoded. `name*` is section 0, encoded.
fn extended_index(param_name: &str, name: &str) -> Option<(u32, bool)> {
    let suffix = param_name.strip_prefix(name)?.strip_prefix('*')?;
    if suffix.is_empty() {
        return Some((0, true));
    }
    let (digits, encoded) = match suffix.strip_suffix('*') {
        Some(digits) => (digits, true),
        None => (suffix, false),
    };
    Some((digits.parse().ok()?, encoded))
}

/// Splits `charset'language'value`. Without two quotes the whole input is
/// the value and there is no charset.
fn split_charset_prefix(value: &[u8]) -> (Option<&[u8]>, &[u8]) {
    let mut quotes = value
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == b'\'')
        .map(|(i, _)| i);
    match (quotes.next(), quotes.next()) {
        (Some(first), Some(second)) => (Some(&value[..first]), &value[second + 1..]),
        _ => (None, value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(raw: &[u8], name: &str) -> Option<String> {
        let mut flags = Flags::default();
        ContentHeader::parse(raw).param(name, &HeaderContext::default(), &mut flags)
    }

    #[test]
    fn type_and_quoted_params() {
        let header =
            ContentHeader::parse(b" Text/Plain; charset=\"ISO-2022-JP\"; format=flowed\r\n");
        assert_eq!(header.value, "text/plain");
        assert_eq!(header.main_type(), "text");
        assert_eq!(header.subtype(), "plain");
        assert_eq!(header.raw_param("charset").as_deref(), Some("ISO-2022-JP"));
        assert_eq!(header.raw_param("format").as_deref(), Some("flowed"));
    }

    #[test]
    fn comment_after_value() {
        let header = ContentHeader::parse(b"text/plain; charset=us-ascii (Plain text)");
        assert_eq!(header.raw_param("charset").as_deref(), Some("us-ascii"));
        assert_eq!(
            param(b"a; name=report(1).pdf", "name").as_deref(),
            Some("report(1).pdf")
        );
    }

    #[test]
    fn missing_semicolon_after_type() {
        let header = ContentHeader::parse(b"text/plain charset=utf-8");
        assert_eq!(header.value, "text/plain");
        assert_eq!(header.raw_param("charset").as_deref(), Some("utf-8"));
    }

    #[test]
    fn rfc2231_single_value() {
        let raw = b"attachment; filename*=UTF-8''%E6%98%8E%E7%B4%B0.csv";
        assert_eq!(param(raw, "filename").as_deref(), Some("明細.csv"));
    }

    #[test]
    fn rfc2231_split_inside_utf8_character() {
        // 明 is E6 98 8E: the cut falls after E6 98.
        let raw = b"attachment; filename*0*=UTF-8'ja'%E6%98; filename*1*=%8E.txt";
        assert_eq!(param(raw, "filename").as_deref(), Some("明.txt"));
    }

    #[test]
    fn rfc2231_split_inside_shift_jis_character() {
        // 表 is 95 5C: the cut falls between the lead and the 0x5C trail byte.
        let raw = b"attachment; filename*1*=%5C.pdf; filename*0*=Shift_JIS''%95";
        assert_eq!(param(raw, "filename").as_deref(), Some("表.pdf"));
    }

    #[test]
    fn rfc2231_mixed_plain_sections() {
        let raw = b"a; name*0*=utf-8''%E5%B1%B1; name*1=\"-x\"; name*2=.txt";
        assert_eq!(param(raw, "name").as_deref(), Some("山-x.txt"));
    }

    #[test]
    fn encoded_word_in_quoted_name() {
        let raw = b"application/pdf; name=\"=?UTF-8?B?6aCY5Y+O5pu4LnBkZg==?=\"";
        assert_eq!(param(raw, "name").as_deref(), Some("領収書.pdf"));
    }

    #[test]
    fn unquoted_encoded_words() {
        let raw = b"application/pdf; name==?UTF-8?B?6aCY5Y+O?= =?UTF-8?B?5pu4LnBkZg==?=";
        assert_eq!(param(raw, "name").as_deref(), Some("領収書.pdf"));
    }

    #[test]
    fn extended_preferred_over_plain() {
        let raw = b"attachment; filename=\"a.pdf\"; filename*=utf-8''b.pdf";
        assert_eq!(param(raw, "filename").as_deref(), Some("b.pdf"));
    }

    #[test]
    fn garbage_params() {
        let header = ContentHeader::parse(b";;=;x;=y; z=\"unclosed");
        assert_eq!(header.value, "");
        assert_eq!(header.raw_param("z").as_deref(), Some("unclosed"));
    }
}
