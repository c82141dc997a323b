//! SMTP replies: a three-digit code, an enhanced status code (RFC 3463)
//! and text, on one line or several.

use std::borrow::Cow;
use std::fmt;

/// One SMTP reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    code: u16,
    status: Option<&'static str>,
    lines: Vec<Cow<'static, str>>,
}

impl Reply {
    /// Creates a one-line reply with an enhanced status code such as
    /// `"2.0.0"`.
    pub fn new(code: u16, status: &'static str, text: impl Into<Cow<'static, str>>) -> Reply {
        Reply {
            code,
            status: Some(status),
            lines: vec![clean(text.into())],
        }
    }

    /// Creates a one-line reply without an enhanced status code, as the
    /// greeting and the replies to EHLO, HELO and AUTH challenges are.
    pub fn plain(code: u16, text: impl Into<Cow<'static, str>>) -> Reply {
        Reply {
            code,
            status: None,
            lines: vec![clean(text.into())],
        }
    }

    /// Creates a multi-line reply without an enhanced status code (the EHLO
    /// reply). `lines` must not be empty.
    pub fn multiline(code: u16, lines: Vec<String>) -> Reply {
        assert!(!lines.is_empty(), "a reply has at least one line");
        Reply {
            code,
            status: None,
            lines: lines.into_iter().map(|line| clean(line.into())).collect(),
        }
    }

    /// Returns the three-digit reply code.
    pub fn code(&self) -> u16 {
        self.code
    }

    /// Returns true for a 2xx or 3xx reply.
    pub fn is_positive(&self) -> bool {
        self.code < 400
    }

    /// Returns true for a 5xx reply.
    pub fn is_permanent(&self) -> bool {
        self.code >= 500
    }

    /// Appends the reply in wire format, each line ending in CRLF.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let last = self.lines.len() - 1;
        for (index, line) in self.lines.iter().enumerate() {
            let separator = if index == last { ' ' } else { '-' };
            let mut text = format!("{}{separator}", self.code);
            if let Some(status) = self.status {
                text.push_str(status);
                text.push(' ');
            }
            text.push_str(line);
            out.extend_from_slice(text.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Vec::new();
        self.write_to(&mut out);
        let text = String::from_utf8_lossy(&out);
        f.write_str(text.trim_end().replace("\r\n", " / ").as_str())
    }
}

/// Replaces CR, LF and other control characters, which would break the
/// reply framing, with spaces.
fn clean(text: Cow<'static, str>) -> Cow<'static, str> {
    if text.chars().any(char::is_control) {
        Cow::Owned(
            text.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect(),
        )
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(reply: &Reply) -> String {
        let mut out = Vec::new();
        reply.write_to(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn one_line_with_status() {
        let reply = Reply::new(250, "2.1.0", "Ok");
        assert_eq!(wire(&reply), "250 2.1.0 Ok\r\n");
    }

    #[test]
    fn multiline_uses_dashes() {
        let reply = Reply::multiline(250, vec!["host".into(), "PIPELINING".into()]);
        assert_eq!(wire(&reply), "250-host\r\n250 PIPELINING\r\n");
    }

    #[test]
    fn control_characters_become_spaces() {
        let reply = Reply::new(451, "4.3.0", "bad\r\n250 injected".to_string());
        assert_eq!(wire(&reply), "451 4.3.0 bad  250 injected\r\n");
    }

    #[test]
    fn empty_challenge_ends_in_space() {
        let reply = Reply::plain(334, "");
        assert_eq!(wire(&reply), "334 \r\n");
    }
}
