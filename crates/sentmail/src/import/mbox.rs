//! A streaming mbox reader: one message at a time, in bounded memory.
//!
//! The first line of the file opens the first message. After it, a line
//! starting with `From ` separates messages when it has the form of a
//! separator (see [`is_separator`]): writers such as Netscape, Thunderbird
//! and MimeKit do not always put a blank line before it, and unquoted body
//! lines such as `From Russia with love` do occur. Lines quoted as
//! `>From `, `>>From ` and so on lose one `>` (the mboxrd rule, which also
//! reads mboxo files correctly for every line that was quoted). A blank line
//! right before a separator, or at the end of the file, was added by the
//! writer and is not part of the message.

use std::io::{self, BufRead};

/// One message read from an mbox, or the reason it was skipped.
#[derive(Debug)]
pub struct MboxMessage {
    /// Byte offset of the message's `From ` line in the file.
    pub offset: u64,
    /// The `From ` separator line without its line end.
    pub from_line: Vec<u8>,
    /// The message bytes, or its size if it exceeded the maximum and was
    /// skipped.
    pub body: Result<Vec<u8>, u64>,
}

/// Splits an mbox stream into messages.
pub struct MboxReader<R> {
    input: R,
    max_len: u64,
    offset: u64,
    line: Vec<u8>,
    /// The separator line that starts the next message, with its offset.
    next_start: Option<(u64, Vec<u8>)>,
    finished: bool,
}

impl<R: BufRead> MboxReader<R> {
    /// Reads `input`, which must start with a `From ` line. Messages longer
    /// than `max_len` bytes are skipped and reported with their size.
    pub fn new(input: R, max_len: u64) -> MboxReader<R> {
        MboxReader {
            input,
            max_len,
            offset: 0,
            line: Vec::with_capacity(1024),
            next_start: None,
            finished: false,
        }
    }

    /// Reads one line into `self.line`; returns false at end of input.
    fn read_line(&mut self) -> io::Result<bool> {
        self.line.clear();
        let read = self.input.read_until(b'\n', &mut self.line)?;
        self.offset += read as u64;
        Ok(read > 0)
    }

    fn read_message(&mut self, offset: u64, from_line: Vec<u8>) -> io::Result<MboxMessage> {
        let mut body = Vec::new();
        let mut size: u64 = 0;
        let mut previous_blank = false;
        loop {
            let line_start = self.offset;
            if !self.read_line()? {
                self.finished = true;
                break;
            }
            if is_separator(trim_line_end(&self.line), previous_blank) {
                let separator = trim_line_end(&self.line).to_vec();
                self.next_start = Some((line_start, separator));
                break;
            }
            previous_blank = matches!(self.line.as_slice(), b"\n" | b"\r\n");
            let unquoted = unquote(&self.line);
            size += unquoted.len() as u64;
            if size <= self.max_len {
                body.extend_from_slice(unquoted);
            } else {
                body = Vec::new();
            }
        }

        // The blank line before the next separator, or at the end of the
        // file, was added by the mbox writer.
        if previous_blank {
            let cut: usize = if body.ends_with(b"\r\n") { 2 } else { 1 };
            size = size.saturating_sub(cut as u64);
            body.truncate(body.len().saturating_sub(cut));
        }
        let body = if size <= self.max_len {
            Ok(body)
        } else {
            Err(size)
        };
        Ok(MboxMessage {
            offset,
            from_line,
            body,
        })
    }
}

impl<R: BufRead> Iterator for MboxReader<R> {
    type Item = io::Result<MboxMessage>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some((offset, from_line)) = self.next_start.take() {
            return Some(self.read_message(offset, from_line));
        }
        if self.finished {
            return None;
        }
        // The first line of the file is the first separator.
        let start = self.offset;
        match self.read_line() {
            Ok(false) => {
                self.finished = true;
                None
            }
            Ok(true) => {
                let from_line = trim_line_end(&self.line).to_vec();
                Some(self.read_message(start, from_line))
            }
            Err(error) => {
                self.finished = true;
                Some(Err(error))
            }
        }
    }
}

/// Decides whether a `From ` line separates messages: the classic form
/// `From <sender> <date>` with a time and a four-digit year, the
/// Netscape and Thunderbird form `From -`, or a bare `From <sender>` after a
/// blank line.
fn is_separator(line: &[u8], previous_blank: bool) -> bool {
    let Some(rest) = line.strip_prefix(b"From ") else {
        return false;
    };
    if rest.starts_with(b"-") {
        return true;
    }
    let Ok(rest) = std::str::from_utf8(rest) else {
        return false;
    };
    let mut words = rest.split_whitespace();
    let Some(_sender) = words.next() else {
        return false;
    };
    let date: Vec<&str> = words.collect();
    if date.is_empty() {
        return previous_blank;
    }
    let has_time = date.iter().any(|word| is_clock_time(word));
    let has_year = date
        .iter()
        .any(|word| word.len() == 4 && word.bytes().all(|b| b.is_ascii_digit()));
    has_time && has_year
}

/// Returns true for `hh:mm` or `hh:mm:ss`.
fn is_clock_time(word: &str) -> bool {
    let parts: Vec<&str> = word.split(':').collect();
    (2..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|part| (1..=2).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit()))
}

/// Removes one `>` from a line of the form `>+From `.
fn unquote(line: &[u8]) -> &[u8] {
    let quotes = line.iter().take_while(|&&byte| byte == b'>').count();
    if quotes > 0 && line[quotes..].starts_with(b"From ") {
        &line[1..]
    } else {
        line
    }
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(data: &[u8], max_len: u64) -> Vec<MboxMessage> {
        MboxReader::new(data, max_len).map(|m| m.unwrap()).collect()
    }

    #[test]
    fn splits_messages_and_unquotes() {
        let data = b"From a@x Fri Dec  4 19:20:05 2026\nSubject: one\n\n>From here\n>>From deeper\n\nFrom b@x Fri Dec  4 19:21:05 2026\nSubject: two\n\nbody\n\n";
        let messages = split(data, 1 << 20);
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].offset, 0);
        assert_eq!(messages[0].from_line, b"From a@x Fri Dec  4 19:20:05 2026");
        assert_eq!(
            messages[0].body.as_ref().unwrap(),
            b"Subject: one\n\nFrom here\n>From deeper\n"
        );
        let second_offset = data.windows(8).position(|w| w == b"From b@x").unwrap() as u64;
        assert_eq!(messages[1].offset, second_offset);
        assert_eq!(
            messages[1].body.as_ref().unwrap(),
            b"Subject: two\n\nbody\n"
        );
    }

    #[test]
    fn unquoted_body_lines_are_not_separators() {
        let data = b"From a@x Fri Dec  4 19:20:05 2026\nSubject: one\n\ntext\nFrom the shop\n\nFrom Russia with love\n";
        let messages = split(data, 1 << 20);
        assert_eq!(messages.len(), 1);
        assert_eq!(
            messages[0].body.as_ref().unwrap(),
            b"Subject: one\n\ntext\nFrom the shop\n\nFrom Russia with love\n"
        );
    }

    #[test]
    fn separators_without_blank_line_split() {
        let data = b"From - \nSubject: one\n\nbody\nFrom - Mon Jun  3 12:50:27 1996\nSubject: two\n\nx\nFrom MAILER-DAEMON  Thu Jul  2 12:05:05 2020\nSubject: three\n";
        let messages = split(data, 1 << 20);
        let bodies: Vec<&[u8]> = messages
            .iter()
            .map(|m| m.body.as_ref().unwrap().as_slice())
            .collect();
        assert_eq!(
            bodies,
            vec![
                &b"Subject: one\n\nbody\n"[..],
                b"Subject: two\n\nx\n",
                b"Subject: three\n"
            ]
        );
    }

    #[test]
    fn bare_sender_separates_only_after_blank_line() {
        let data =
            b"From 184434@xxx\nSubject: one\n\nFrom 999@xxx\n\nFrom 185000@xxx\nSubject: two\n";
        let messages = split(data, 1 << 20);
        assert_eq!(
            messages.len(),
            3,
            "each bare From line after a blank line starts a message"
        );
        assert_eq!(messages[0].body.as_ref().unwrap(), b"Subject: one\n");
        assert_eq!(messages[2].from_line, b"From 185000@xxx");
    }

    #[test]
    fn separator_forms() {
        assert!(is_separator(b"From - ", false));
        assert!(is_separator(b"From -", false));
        assert!(is_separator(
            b"From MAILER-DAEMON  Thu Jul  2 12:05:05 2020",
            false
        ));
        assert!(is_separator(b"From a@x Fri Dec  4 19:20 2026", false));
        assert!(is_separator(b"From a@x", true));
        assert!(!is_separator(b"From a@x", false));
        assert!(!is_separator(b"From Russia with love", true));
        // A body line with a time and a year passes for a separator; mbox
        // writers quote such lines as `>From `.
        assert!(is_separator(b"From the shop at 10:30 in 2026", false));
        assert!(!is_separator(b">From a@x Fri Dec  4 19:20:05 2026", true));
    }

    #[test]
    fn crlf_mbox_keeps_crlf() {
        let data = b"From a@x Fri Dec  4 19:20:05 2026\r\nSubject: one\r\n\r\nbody\r\n\r\nFrom b@x Fri Dec  4 19:20:05 2026\r\nSubject: two\r\n";
        let messages = split(data, 1 << 20);
        assert_eq!(messages.len(), 2);
        assert_eq!(
            messages[0].body.as_ref().unwrap(),
            b"Subject: one\r\n\r\nbody\r\n"
        );
        assert_eq!(messages[1].body.as_ref().unwrap(), b"Subject: two\r\n");
    }

    #[test]
    fn oversized_message_is_skipped_with_size() {
        let data = b"From a@x\nSubject: big\n\n0123456789\n\nFrom b@x\nSubject: small\n";
        let messages = split(data, 20);
        assert_eq!(messages.len(), 2);
        assert_eq!(
            messages[0].body,
            Err(25),
            "size of the skipped message without the separator line"
        );
        assert_eq!(messages[1].body.as_ref().unwrap(), b"Subject: small\n");
    }

    #[test]
    fn empty_input_has_no_messages() {
        assert!(split(b"", 100).is_empty());
    }
}
